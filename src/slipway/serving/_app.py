"""The inference server's ASGI application: OIP v2, MLflow scoring, health, metrics, feedback.

This is a bare ASGI callable with a fixed route table, not a Starlette or FastAPI app: for a model
that predicts a row in 0.1 ms, per-request framework machinery (request objects, dependency
resolution, response classes, middleware stacks) is what MLServer and BentoML spend their 2 ms on
(FIELD-NOTES). uvicorn with httptools parses HTTP; this module reads the body, decodes it with the
model's codec, queues it on the model's batcher and writes the answer with orjson.

Every failure a request can cause is a 4xx with ``{"error": "..."}`` (the OIP error body, which
``tritonclient`` decodes). A fault of the model (it raises, or returns what cannot be encoded)
answers 500 with the model's message and is counted; a bug in the server answers 500
``internal error: <type>``, is counted and logged in one line. No answer carries a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from slipway.errors import InvalidInput, Overloaded, SlipwayError
from slipway.serving._encode import encode_invocations, encode_v2

if TYPE_CHECKING:
    from pathlib import Path

    from slipway.serving._codec import InputCodec, Payload
    from slipway.serving._metrics import ServingMetrics
    from slipway.serving._runtime import Arm, DeploymentRuntime, Live
    from slipway.serving._served import Prediction, ServedModel

__all__ = ["ServingApp"]

log = logging.getLogger("slipway.serving")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_JSON = (b"content-type", b"application/json")
_RETRY_SOON = (b"retry-after", b"1")  # on every 503: not loaded yet, overloaded, storage unavailable
_EXTENSIONS = ["binary_tensor_data", "model_repository", "mlflow_invocations", "feedback", "metrics"]


class _Reply(Exception):
    """A finished HTTP answer raised from deep inside a handler (an error, mostly)."""

    def __init__(self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


class ServingApp:
    """Serve deployments over HTTP.

    Args:
        deployments: the deployments, by the name clients call them.
        metrics: where counters go (``/metrics`` renders them).
        token: when set, every endpoint but health needs ``Authorization: Bearer <token>``. Health
            is the server's liveness and readiness (``/v2/health/*``, ``/ping``, ``/health``) and a
            model's readiness (``/v2/models/{m}[/versions/{v}]/ready``), which the OIP counts as
            health and probes call without credentials.
        max_body_size: larger request bodies are refused with 413 before they are read.
        control_file: written by ``/v2/repository/models/{m}/load``; every worker watches it, so a
            reload reaches all worker processes, not only the one the request landed on, and the
            request is answered once every worker has done it (:class:`_Reloads`).
        on_close: called at shutdown after the batchers drained (the prediction log's flush).
        feedback: records late labels: (deployment, list of {request_id, label}) -> count.
    """

    def __init__(
        self,
        deployments: list[DeploymentRuntime],
        *,
        metrics: ServingMetrics,
        version: str,
        token: str | None = None,
        max_body_size: int = 32 * 1024 * 1024,
        control_file: Path | None = None,
        on_close: Callable[[], None] | None = None,
        feedback: Callable[[str, list[dict[str, Any]]], int] | None = None,
        openapi: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.deployments = {d.name: d for d in deployments}
        # the hottest route by its whole path: no splitting of the path for an inference request
        self._infer_paths = {f"/v2/models/{d.name}/infer": d for d in deployments}
        self.metrics = metrics
        self.version = version
        self._token = token.encode() if token else None
        self.max_body_size = max_body_size
        self.control_file = control_file
        self._reloads = _Reloads(control_file) if control_file is not None else None
        self._on_close = on_close
        self._feedback = feedback
        self._openapi = openapi
        self._tasks: list[asyncio.Task[None]] = []
        self._control_seen = ""  # the control file's last id this worker saw
        self._requested: str | None = None  # the last reload this worker asked for (and did)
        self._inflight = 0  # requests waiting for a prediction: the in-flight gauge's level

    @property
    def ready(self) -> bool:
        return all(d.ready for d in self.deployments.values())

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._tasks.append(asyncio.create_task(self._keep_current()))
                self._tasks.append(asyncio.create_task(self._publish_metrics()))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in self._tasks:
                    task.cancel()
                if self._reloads is not None:
                    self._reloads.leave()
                loop = asyncio.get_running_loop()
                for dep in self.deployments.values():
                    await loop.run_in_executor(None, dep.close)  # in-flight batches finish
                if self._on_close is not None:
                    await loop.run_in_executor(None, self._on_close)  # the log is flushed
                self._flush_metrics()  # the last answers' counts (a worker's files outlive it)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _keep_current(self) -> None:
        """Load every model, then follow aliases: poll the registry, and watch the control file."""
        reloads = self._reloads
        handled = ""
        if reloads is not None:
            handled = reloads.read()  # what loading now covers; a reload after this is seen below
            self._control_seen = handled
            reloads.acknowledge("", {})  # registered: a reload waits for this worker's models
        await asyncio.gather(*(d.load_all() for d in self.deployments.values()))
        # Everything loaded so far (frameworks, models) lives as long as the server: keep it out of
        # the garbage collector's full passes, which otherwise stall a request by tens of ms now and
        # then, scanning a million objects that can never be garbage.
        gc.collect()
        gc.freeze()
        if reloads is not None:
            reloads.acknowledge(handled, self._errors())
        next_poll = {name: self._next_poll(d, time.monotonic()) for name, d in self.deployments.items()}
        while True:
            await asyncio.sleep(0.25)
            try:
                await self._follow(next_poll)
            except Exception:  # keep following: one bad turn must not freeze every alias
                log.exception("following the deployments' aliases failed; trying again")

    async def _follow(self, next_poll: dict[str, float]) -> None:
        """One turn: a reload asked through the control file, or the polls that are due."""
        reloads = self._reloads
        request: str | None = None
        if reloads is not None:
            # The file's content, not its inode and mtime: inodes are reused and mtimes coarse, so
            # two reloads close together could look like one; every id is new (time + random).
            current = reloads.read()
            if current != self._control_seen:
                self._control_seen = current
                request = current
                if request == self._requested:
                    request = None  # this worker's own reload request: its handler did it
        now = time.monotonic()
        due = [d for name, d in self.deployments.items() if request is not None or now >= next_poll[name]]
        if due:
            await asyncio.gather(*(d.poll(force=request is not None) for d in due))
        now = time.monotonic()
        for dep in due:
            next_poll[dep.name] = self._next_poll(dep, now)
        if reloads is not None and request is not None:
            reloads.acknowledge(request, self._errors())

    async def _publish_metrics(self) -> None:
        """Flush the request path's counts to the metrics a few times a second.

        A scrape flushes the worker it reaches first; this bounds how far the other workers' part
        of the sum lags behind their answers.
        """
        while True:
            await asyncio.sleep(_METRICS_EVERY)
            try:
                self._flush_metrics()
            except Exception:  # keep publishing: a failed pass leaves the next one more to add
                log.exception("publishing the serving metrics failed; trying again")

    def _flush_metrics(self) -> None:
        depths = {
            (dep.name, role): depth
            for dep in self.deployments.values()
            for role, depth in dep.queue_depths().items()
        }
        self.metrics.flush(inflight=self._inflight, queue_depths=depths)

    @staticmethod
    def _next_poll(dep: DeploymentRuntime, now: float) -> float:
        """When to poll next: every poll_interval, and every second while not ready."""
        interval = dep.spec.poll_interval
        return now + (interval if dep.ready else min(interval, 1.0))

    def _errors(self) -> dict[str, list[str]]:
        """Each deployment's load failures in this worker, for a reload's answer."""
        return {
            dep.name: [f"{a.role}: {a.error}" for a in dep.all_arms() if a.error]
            for dep in self.deployments.values()
        }

    # ------------------------------------------------------------------ routing
    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        start = time.perf_counter()
        try:
            dep = self._infer_paths.get(path)
            if dep is not None and method == "POST":
                if self._token is not None:
                    self._authorize(scope)
                await self._infer(dep, None, scope, receive, send, start)
                return
            if path.startswith("/v2/models/"):
                rest = path[len("/v2/models/") :]
                if self._token is not None and not rest.endswith("/ready"):  # model ready is health
                    self._authorize(scope)
                await self._models(rest, method, scope, receive, send, start)
                return
            if path in ("/v2/health/live", "/v2/health/ready", "/ping", "/health"):
                self._method(method, "GET")
                if path.endswith("live"):
                    await _send(send, 200, b'{"live":true}', [_JSON])
                elif self.ready:
                    await _send(send, 200, b'{"ready":true}', [_JSON])
                else:
                    body = b'{"error":"no model is loaded yet","ready":false}'
                    await _send(send, 503, body, [_JSON, _RETRY_SOON])
                return
            if self._token is not None:
                self._authorize(scope)
            if path == "/invocations":
                self._method(method, "POST")
                await self._invocations(scope, receive, send, start)
            elif path == "/v2":
                self._method(method, "GET")
                doc = {"name": "slipway", "version": self.version, "extensions": _EXTENSIONS}
                await _send(send, 200, orjson.dumps(doc), [_JSON])
            elif path == "/metrics":
                self._method(method, "GET")
                self._flush_metrics()
                body, content_type = self.metrics.render()
                await _send(send, 200, body, [(b"content-type", content_type.encode())])
            elif path == "/version":
                self._method(method, "GET")
                await _send(send, 200, self.version.encode(), [(b"content-type", b"text/plain")])
            elif path.startswith("/v2/repository/"):
                self._method(method, "POST")
                await self._repository(path[len("/v2/repository/") :], receive, send)
            elif path == "/openapi.json" and self._openapi is not None:
                self._method(method, "GET")
                await _send(send, 200, orjson.dumps(self._openapi()), [_JSON])
            else:
                raise _Reply(404, f"no route {method} {path}")
        except Exception as e:  # every failure is answered here, a bug included: never by uvicorn
            await self._error(e, scope, send, start)

    async def _error(self, error: Exception, scope: Scope, send: Send, start: float) -> None:
        """Answer a failure with ``{"error": ...}``; a bug is a 500 naming only its type.

        A bug (any exception that is neither a :class:`_Reply` nor a :class:`SlipwayError`) is
        logged in one line and counted under its deployment when the path names one; an inference
        request counted it already (:meth:`_failed`), and reaches here with a ``_Reply``.
        """
        reply = _as_reply(error, scope)
        if not isinstance(error, (_Reply, SlipwayError)):
            dep = self._deployment_of(scope["path"])
            if dep is not None:
                with contextlib.suppress(Exception):  # counting must not stop the answer
                    self._count(dep, dep.arms[0], dep.arms[0].live, 500, start)
        try:
            await _send(send, reply.status, orjson.dumps({"error": reply.message}), [_JSON, *reply.headers])
        except Exception as e:  # the answer had already started: uvicorn closes the connection
            log.error(
                "%s %s: cannot answer %d (%s: %s)",
                scope["method"],
                scope["path"],
                reply.status,
                type(e).__name__,
                _first_line(e),
            )

    def _deployment_of(self, path: str) -> DeploymentRuntime | None:
        """The deployment a request's path names, if any (the single one for /invocations)."""
        if path.startswith("/v2/models/"):
            return self.deployments.get(path[len("/v2/models/") :].split("/", 1)[0])
        if path == "/invocations" and len(self.deployments) == 1:
            return next(iter(self.deployments.values()))
        return None

    def _authorize(self, scope: Scope) -> None:
        assert self._token is not None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, given = value.partition(b" ")
                if scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self._token):
                    return
                break
        raise _Reply(
            401,
            "missing or wrong bearer token (send Authorization: Bearer <token>)",
            [(b"www-authenticate", b"Bearer")],
        )

    @staticmethod
    def _method(method: str, allowed: str) -> None:
        if method != allowed and not (allowed == "GET" and method == "HEAD"):
            raise _Reply(
                405, f"method {method} not allowed here (use {allowed})", [(b"allow", allowed.encode())]
            )

    def _deployment(self, name: str, *, list_known: bool = True) -> DeploymentRuntime:
        dep = self.deployments.get(name)
        if dep is None:
            if not list_known:
                raise _Reply(404, f"unknown model {name!r}")
            known = ", ".join(sorted(self.deployments)) or "none"
            raise _Reply(404, f"unknown model {name!r} (this server serves: {known})")
        return dep

    async def _models(
        self, rest: str, method: str, scope: Scope, receive: Receive, send: Send, start: float
    ) -> None:
        parts = rest.split("/")
        # model ready is open when a token guards the rest: it names no deployment to a stranger
        dep = self._deployment(parts[0], list_known=self._token is None or not rest.endswith("/ready"))
        version: str | None = None
        tail = parts[1:]
        if len(tail) >= 2 and tail[0] == "versions":
            version = tail[1]
            tail = tail[2:]
        action = "/".join(tail)
        if action == "infer":
            self._method(method, "POST")
            await self._infer(dep, version, scope, receive, send, start)
        elif action == "":
            self._method(method, "GET")
            await _send(send, 200, orjson.dumps(self._metadata(dep, version)), [_JSON])
        elif action == "ready":
            self._method(method, "GET")
            arm = _arm_for_version(dep, version) if version is not None else None
            ready = arm is not None or dep.ready
            body = orjson.dumps({"name": dep.name, "ready": ready})
            if not ready:
                raise _Reply(503, f"model {dep.name} is not loaded yet", [_RETRY_SOON])
            await _send(send, 200, body, [_JSON])
        elif action == "feedback" and version is None:
            self._method(method, "POST")
            await self._record_feedback(dep, scope, receive, send)
        else:
            raise _Reply(404, f"no route {method} /v2/models/{rest}")

    def _metadata(self, dep: DeploymentRuntime, version: str | None) -> dict[str, Any]:
        arm = _arm_for_version(dep, version) if version is not None else dep.arms[0]
        live = arm.live
        if live is None:
            raise _Reply(503, f"model {dep.name} is not loaded yet", [_RETRY_SOON])
        served = live.served
        versions = sorted({live.served.version for _, live in _answering(dep)})
        outputs = [_output_metadata(served, o) for o in served.outputs]
        return {
            "name": dep.name,
            "versions": versions,
            "platform": f"slipway_{served.model.flavor}",
            "inputs": served.codec.metadata_inputs(),
            "outputs": outputs,
            "parameters": {"model_version": served.version, "source": served.source},
        }

    # ------------------------------------------------------------------ inference
    async def _infer(
        self,
        dep: DeploymentRuntime,
        version: str | None,
        scope: Scope,
        receive: Receive,
        send: Send,
        start: float,
    ) -> None:
        routed: list[tuple[Arm, Live]] = []
        try:
            length, raw, request_id, key = _request_headers(scope, dep, b"inference-header-content-length")
            body = await self._body(receive, length)
            header_length: int | None = None
            if raw is not None:
                try:
                    header_length = int(raw)
                except ValueError:
                    shown = raw.decode(errors="replace")
                    raise _Reply(
                        400, f"Inference-Header-Content-Length {shown!r}: expected an integer"
                    ) from None
            await self._answer(
                _V2_DIALECT, dep, version, body, header_length, request_id, key, send, start, routed
            )
        except Exception as e:
            raise self._failed(dep, routed, e, start, scope) from None

    async def _invocations(self, scope: Scope, receive: Receive, send: Send, start: float) -> None:
        if len(self.deployments) != 1:
            raise _Reply(
                404,
                "/invocations serves a single deployment; this server has "
                f"{', '.join(sorted(self.deployments))}: use /v2/models/<name>/infer",
            )
        dep = next(iter(self.deployments.values()))
        routed: list[tuple[Arm, Live]] = []
        try:
            length, raw, request_id, key = _request_headers(scope, dep, b"content-type")
            body = await self._body(receive, length)
            content_type = raw.decode(errors="replace") if raw is not None else ""
            await self._answer(
                _INVOCATIONS_DIALECT, dep, None, body, content_type, request_id, key, send, start, routed
            )
        except Exception as e:
            raise self._failed(dep, routed, e, start, scope) from None

    async def _answer(
        self,
        dialect: _Dialect,
        dep: DeploymentRuntime,
        version: str | None,
        body: bytes,
        meta: Any,
        request_id: str | None,
        key: str | None,
        send: Send,
        start: float,
        routed: list[tuple[Arm, Live]],
    ) -> None:
        """The one path of an inference request, whichever protocol it came in.

        Pick the arm (the version asked for, else the A/B or canary split), decode the body with that
        model's codec (again with the other arm's when an A/B input field re-routes it), send a copy
        to the shadow, predict and encode, answer, and count the answer under the arm that gave it.
        ``routed`` collects the arms tried, so a failure is counted and labelled by the last one.
        """
        arm = _arm_for_version(dep, version) if version is not None else dep.route(key)
        live = arm.live
        if live is None:
            raise _Reply(503, f"model {dep.name} is not loaded yet", [_RETRY_SOON])
        routed.append((arm, live))
        payload = dialect.decode(live.served.codec, body, meta)
        if dep.ab_field is not None and version is None:
            chosen = dep.route(_field_key(payload.data, dep.ab_field))
            if chosen is not arm and chosen.live is not None:
                arm, live = chosen, chosen.live
                routed.append((arm, live))
                payload = dialect.decode(live.served.codec, body, meta)
        served = live.served
        served.check_outputs(payload)
        payload.params = served.model_params(payload, strict=dialect.strict_params)
        # a present id is echoed, even "" (the protocol); else the header's, else a new one
        rid = payload.id if payload.id is not None else request_id or _new_request_id()
        payload.id = rid
        if dep.shadow is not None:
            dep.send_shadow(lambda s: _shadow_payload(s, dialect, body, meta, rid))
        out, headers = await self._predict(dialect, dep, arm, live, payload)
        headers += live.headers
        headers.append((b"x-request-id", rid.encode(errors="replace")))
        await _send(send, 200, out, headers)
        self._count(dep, arm, live, 200, start)

    async def _predict(
        self, dialect: _Dialect, dep: DeploymentRuntime, arm: Arm, live: Live, payload: Payload
    ) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        """Predict and encode the answer: whatever fails in either is a fault of the model (500).

        Encoding belongs here because what the model returned decides whether it can be encoded
        (a Python integer past 64 bits, an ``np.matrix``): that is the model's fault, not the caller's.
        """
        self._inflight += 1
        try:
            future = live.batcher.submit(payload)
            timer = future.get_loop().call_later(
                dep.spec.timeout, _expire, future, dep.name, dep.spec.timeout
            )
            try:
                prediction = await future
            finally:
                timer.cancel()
            return dialect.encode(dep, live.served, payload, prediction)
        except SlipwayError:
            raise
        except Exception as e:
            message = _first_line(e)
            log.warning(
                "deployment %s: model %s failed: %s: %s", dep.name, arm.role, type(e).__name__, message
            )
            raise _Reply(500, f"model {dep.name} failed: {type(e).__name__}: {message}"[:1000]) from None
        finally:
            self._inflight -= 1

    def _failed(
        self,
        dep: DeploymentRuntime,
        routed: list[tuple[Arm, Live]],
        error: Exception,
        start: float,
        scope: Scope,
    ) -> _Reply:
        """Count a failed inference request (a bug too); once a model was chosen, name it."""
        reply = _as_reply(error, scope)
        if not routed:
            self._count(dep, dep.arms[0], dep.arms[0].live, reply.status, start)
            return reply
        arm, live = routed[-1]
        self._count(dep, arm, live, reply.status, start)
        return _Reply(reply.status, reply.message, [*reply.headers, *live.headers])

    def _count(self, dep: DeploymentRuntime, arm: Arm, live: Live | None, status: int, start: float) -> None:
        """Count an answer under the version that gave it (not one swapped in since)."""
        seconds = time.perf_counter() - start
        version = live.served.version if live is not None else ""
        model = live.served.model_name if live is not None else dep.name
        self.metrics.request(dep.name, model, version, arm.role, status, seconds)
        if arm.window is not None and live is not None:
            dep.observe(arm, live, status >= 500, seconds)

    async def _body(self, receive: Receive, length: bytes | None) -> bytes:
        """The request's body, refused with 413 past the limit; ``length`` is its Content-Length."""
        limit = self.max_body_size
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                raise _Reply(400, "Content-Length: expected an integer") from None
            if size > limit:
                raise _Reply(413, f"request body of {size} bytes is over the limit of {limit}")
        message = await receive()
        body: bytes = message.get("body", b"")
        if len(body) > limit:  # a chunked body has no Content-Length: all of it may come in one message
            raise _Reply(413, f"request body is over the limit of {limit} bytes")
        if not message.get("more_body", False):
            return body
        parts = [body]
        size = len(body)
        while message.get("more_body", False):
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _Reply(413, f"request body is over the limit of {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    # ------------------------------------------------------------------ feedback and repository
    async def _record_feedback(
        self, dep: DeploymentRuntime, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if self._feedback is None:
            raise _Reply(501, "this server has no prediction log configured, so it cannot record feedback")
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        body = await self._body(receive, length)
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidInput("feedback: the body is not valid JSON") from None
        rows = doc.get("feedback") if isinstance(doc, dict) and "feedback" in doc else doc
        if isinstance(rows, dict):
            rows = [rows]
        if not isinstance(rows, list) or not rows:
            raise InvalidInput('feedback: expected {"request_id": "...", "label": ...} or a list of them')
        for i, row in enumerate(rows):
            if (
                not isinstance(row, dict)
                or not isinstance(row.get("request_id"), str)
                or not row["request_id"]
            ):
                raise InvalidInput(f"feedback[{i}].request_id: expected a non-empty string")
            if "label" not in row:
                raise InvalidInput(f"feedback[{i}].label: missing")
            if not isinstance(row["label"], (str, int, float, bool)):
                raise InvalidInput(f"feedback[{i}].label: expected a number, a string or a boolean")
        feedback = self._feedback
        try:
            count = await asyncio.get_running_loop().run_in_executor(None, lambda: feedback(dep.name, rows))
        except SlipwayError:
            raise
        except OSError as e:  # the log's storage: full, gone, not writable; the caller may retry
            log.warning("deployment %s: feedback not recorded: %s: %s", dep.name, type(e).__name__, e)
            reason = e.strerror or type(e).__name__  # not str(e): the server's paths stay in its log
            raise _Reply(
                503,
                f"feedback: the prediction log cannot be written now ({reason}); retry later",
                [_RETRY_SOON],
            ) from None
        except (OverflowError, ValueError) as e:  # labels no one log column holds
            raise InvalidInput(
                f"feedback: the labels cannot be stored together ({_first_line(e)}); "
                "keep integer labels between -2**63 and 2**63-1"
            ) from None
        await _send(send, 200, orjson.dumps({"accepted": count}), [_JSON])

    async def _repository(self, rest: str, receive: Receive, send: Send) -> None:
        if rest == "index":
            items = []
            for dep in self.deployments.values():
                for arm in dep.all_arms():
                    state = "READY" if arm.live is not None else ("UNAVAILABLE" if arm.error else "LOADING")
                    items.append(
                        {
                            "name": dep.name,
                            "version": arm.live.served.version if arm.live is not None else "",
                            "state": state,
                            "reason": arm.error or arm.out or "",
                            "variant": arm.role,
                        }
                    )
            await _send(send, 200, orjson.dumps(items), [_JSON])
            return
        parts = rest.split("/")
        if len(parts) == 3 and parts[0] == "models" and parts[2] in ("load", "unload"):
            dep = self._deployment(parts[1])
            if parts[2] == "unload":
                raise _Reply(501, "unload is not supported: a deployment serves until the server stops")
            await self._reload(dep, send)
            return
        raise _Reply(404, f"no route POST /v2/repository/{rest}")

    async def _reload(self, dep: DeploymentRuntime, send: Send) -> None:
        """Re-resolve now in every worker; answer when all have swapped (or failed to)."""
        reloads = self._reloads
        request = reloads.request() if reloads is not None else None  # the other workers reload too
        self._requested = request
        await dep.poll(force=True)
        errors = self._errors()[dep.name]
        doc = dep.describe()
        if reloads is not None and request is not None:
            reloads.acknowledge(request, self._errors())
            deadline = time.monotonic() + _RELOAD_WAIT
            while True:
                pending, others = reloads.pending(request, dep.name)
                if not pending or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            errors += [e for e in others if e not in errors]
            if pending:
                doc["pending_workers"] = len(pending)
                log.warning(
                    "deployment %s: reload not acknowledged within %g s by worker(s) %s",
                    dep.name,
                    _RELOAD_WAIT,
                    ", ".join(map(str, pending)),
                )
        if errors:
            raise _Reply(400, f"model {dep.name}: " + "; ".join(errors))
        await _send(send, 200, orjson.dumps(doc), [_JSON])


_RELOAD_WAIT = 60.0
"""Seconds a reload waits for the other workers before it answers without them."""

_METRICS_EVERY = 0.25
"""Seconds between flushes of the request path's counts to the metrics (:meth:`ServingMetrics.flush`)."""


class _Reloads:
    """A reload across worker processes, through files beside the control file.

    The worker that gets ``POST /v2/repository/models/{m}/load`` writes a fresh id into the control
    file. Every worker reads the file four times a second; when its id changes, the worker
    re-resolves every deployment and then writes the id it handled, with its load errors, to its own file
    ``<control>.<pid>.ack``. The first worker answers once every live worker has acknowledged the
    id, so when ``slipway deployments reload`` returns, no worker serves the old version any more.
    Ids grow with time, and a later one covers an earlier one (that worker re-resolved after both
    were asked), so concurrent reloads never wait for each other. A worker writes its file at
    startup (with an empty id until its models are loaded) and removes it at shutdown; the file of
    a worker that died is ignored and removed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ack = path.with_name(f"{path.name}.{os.getpid()}.ack")
        self._acked = ""

    def read(self) -> str:
        try:
            return self.path.read_text()
        except OSError:
            return ""

    def request(self) -> str | None:
        rid = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        try:
            _write_atomically(self.path, rid)
        except OSError as e:
            log.warning("reload: cannot write %s (%s); only this worker reloads", self.path, e)
            return None
        return rid

    def acknowledge(self, request: str, errors: dict[str, list[str]]) -> None:
        """Record that this worker re-resolved after ``request`` was asked (never moving back)."""
        self._acked = max(self._acked, request)
        doc = {"id": self._acked, "errors": errors}
        with contextlib.suppress(OSError):
            _write_atomically(self.ack, orjson.dumps(doc).decode())

    def pending(self, request: str, deployment: str) -> tuple[list[int], list[str]]:
        """The live workers that have not handled ``request`` yet, and the errors of those that have."""
        waiting: list[int] = []
        errors: list[str] = []
        for file in self.path.parent.glob(f"{self.path.name}.*.ack"):
            try:
                pid = int(file.name[len(self.path.name) + 1 : -len(".ack")])
            except ValueError:
                continue
            if not _alive(pid):
                with contextlib.suppress(OSError):
                    file.unlink()
                continue
            try:
                doc = orjson.loads(file.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                waiting.append(pid)
                continue
            if not isinstance(doc, dict) or str(doc.get("id")) < request:
                waiting.append(pid)
            else:
                errors += [e for e in doc.get("errors", {}).get(deployment, []) if e not in errors]
        return waiting, errors

    def leave(self) -> None:
        with contextlib.suppress(OSError):
            self.ack.unlink()


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------- helpers
# Request ids: 128 bits from the OS's random source, read 256 ids at a time: one system call per
# request was measurable at one client, and ids must stay unguessable (late labels are recorded by
# request id). Only the event loop's thread draws them; a forked worker starts from a fresh block.
_ID_BYTES = 16
_ID_BLOCK = 256 * _ID_BYTES
_ids = bytearray()


def _new_request_id() -> str:
    if not _ids:
        _ids.extend(os.urandom(_ID_BLOCK))
    rid = _ids[-_ID_BYTES:].hex()
    del _ids[-_ID_BYTES:]
    return rid


os.register_at_fork(after_in_child=_ids.clear)


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    """One whole answer, with its Content-Length (without one, uvicorn frames the body as chunked)."""
    length = (b"content-length", b"%d" % len(body))
    await send({"type": "http.response.start", "status": status, "headers": [*headers, length]})
    await send({"type": "http.response.body", "body": body})


def _as_reply(error: Exception, scope: Scope) -> _Reply:
    """The answer to a failure: its own for a _Reply or a SlipwayError.

    For a bug, a 500 that names only the exception's type (the caller learns nothing of the
    server's insides), and one line in the log; the traceback is logged at debug level.
    """
    if isinstance(error, _Reply):
        return error
    if isinstance(error, SlipwayError):
        return _Reply(error.status, str(error), _retry(error))
    log.error(
        "%s %s: internal error: %s: %s",
        scope["method"],
        scope["path"],
        type(error).__name__,
        _first_line(error)[:500],
    )
    log.debug("the internal error's traceback", exc_info=error)
    return _Reply(500, f"internal error: {type(error).__name__}")


def _retry(error: SlipwayError) -> list[tuple[bytes, bytes]]:
    return [_RETRY_SOON] if error.status == 503 else []


def _expire(future: asyncio.Future[Any], name: str, timeout: float) -> None:
    if not future.done():
        future.set_exception(Overloaded(f"model {name}: no answer within the {timeout:g} s timeout"))


def _field_key(data: Any, field: str) -> str | None:
    if isinstance(data, dict) and field in data and len(data[field]):
        value = data[field][0]
        return str(value.item() if hasattr(value, "item") else value)
    return None


def _answering(dep: DeploymentRuntime) -> list[tuple[Arm, Live]]:
    """The loaded arms a caller can reach, with what they serve.

    Not the shadow, whose answers are never returned, and not a canary taken out of traffic.
    """
    out = []
    for arm in dep.all_arms():
        live = arm.live
        if live is not None and arm.role != "shadow" and arm.out is None:
            out.append((arm, live))
    return out


def _arm_for_version(dep: DeploymentRuntime, version: str) -> Arm:
    """The arm that answers a request naming ``version``; 404 for the shadow's or an out canary's."""
    answering = _answering(dep)
    for arm, live in answering:
        if live.served.version == version:
            return arm
    known = ", ".join(sorted({live.served.version for _, live in answering})) or "none"
    raise _Reply(404, f"model {dep.name} has no version {version} that answers callers (versions: {known})")


def _request_headers(
    scope: Scope, dep: DeploymentRuntime, protocol: bytes
) -> tuple[bytes | None, bytes | None, str | None, str | None]:
    """One pass over the headers: Content-Length, the protocol's own header, ``x-request-id``, the A/B key.

    Header names come lower-cased from the ASGI server. A repeated header's first value counts for
    Content-Length, as before any body is read; the last one for the others.
    """
    ab = dep.ab_header_name
    length: bytes | None = None
    raw: bytes | None = None
    request_id: str | None = None
    key: str | None = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            if length is None:
                length = value
        elif name == protocol:
            raw = value
        elif name == b"x-request-id":
            request_id = value.decode(errors="replace")[:256]
        elif name == ab:
            key = value.decode(errors="replace")
    return length, raw, request_id, key


class _Dialect(Protocol):
    """How one protocol decodes a request body and encodes an answer; the rest is one path."""

    strict_params: bool  # MLflow's params are all the model's; OIP's may be the server's (ignored)

    @staticmethod
    def decode(codec: InputCodec, body: bytes, meta: Any) -> Payload: ...

    @staticmethod
    def encode(
        dep: DeploymentRuntime, served: ServedModel, payload: Payload, prediction: Prediction
    ) -> tuple[bytes, list[tuple[bytes, bytes]]]: ...


class _V2:
    """The Open Inference Protocol: ``meta`` is the Inference-Header-Content-Length (binary tensors)."""

    strict_params = False

    @staticmethod
    def decode(codec: InputCodec, body: bytes, meta: Any) -> Payload:
        return codec.decode_v2(body, meta)

    @staticmethod
    def encode(
        dep: DeploymentRuntime, served: ServedModel, payload: Payload, prediction: Prediction
    ) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        out, head = encode_v2(
            model_name=dep.name,
            model_version=served.version,
            request_id=payload.id,
            outputs=served.answer(payload, prediction),
            binary=payload.binary_outputs,
        )
        if head is None:
            return out, [_JSON]
        return out, [
            (b"content-type", b"application/octet-stream"),
            (b"inference-header-content-length", str(head).encode()),
        ]


class _Invocations:
    """MLflow scoring: ``meta`` is the Content-Type (JSON or CSV)."""

    strict_params = True

    @staticmethod
    def decode(codec: InputCodec, body: bytes, meta: Any) -> Payload:
        return codec.decode_invocations(body, meta)

    @staticmethod
    def encode(
        dep: DeploymentRuntime, served: ServedModel, payload: Payload, prediction: Prediction
    ) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        return encode_invocations(served.answer(payload, prediction)), [_JSON]


_V2_DIALECT: _Dialect = _V2()
_INVOCATIONS_DIALECT: _Dialect = _Invocations()


def _shadow_payload(served: ServedModel, dialect: _Dialect, body: bytes, meta: Any, rid: str) -> Payload:
    """The shadow's copy of a request, decoded by its own codec.

    It asks for the default outputs and drops the parameters its model does not take, so a request
    the primary accepts fails in the shadow only by the shadow's own fault.
    """
    payload = dialect.decode(served.codec, body, meta)
    payload.outputs = None
    payload.params = served.model_params(payload, strict=False)
    payload.id = rid
    return payload


def _first_line(error: BaseException) -> str:
    try:
        text = str(error)
    except Exception:  # an exception whose __str__ fails still gets its type named
        return ""
    return text.splitlines()[0] if text else ""


def _output_metadata(served: ServedModel, name: str) -> dict[str, Any]:
    sig = served.model.signature
    schema = None
    if sig is not None:
        schema = sig.outputs if name == "predict" else sig.probabilities
    from slipway.serving._codec import datatype_of

    if schema is not None and schema.tensor is not None:
        return {
            "name": name,
            "datatype": datatype_of(schema.tensor.dtype),
            "shape": list(schema.tensor.shape),
        }
    if schema is not None and schema.columns is not None and len(schema.columns) == 1:
        return {"name": name, "datatype": datatype_of(schema.columns[0].dtype), "shape": [-1]}
    return {"name": name, "datatype": "FP64" if name == "predict_proba" else "BYTES", "shape": [-1]}
