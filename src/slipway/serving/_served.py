"""One loaded model version as the server uses it: decode, check outputs, predict a batch, split.

The batch's input is assembled from payloads that already match the signature (one array per
column, cast on arrival), so building it is a concatenation and the model's own enforcement takes
its fast path. Outputs are computed once per batch (once per group of requests whose params and
columns agree) and sliced back per request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from slipway.errors import InvalidInput
from slipway.serving._codec import InputCodec, Payload

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from slipway.models import Model

__all__ = ["PREDICT", "PROBA", "Prediction", "ServedModel"]

log = logging.getLogger("slipway.serving")

PREDICT = "predict"
PROBA = "predict_proba"


@dataclass(slots=True)
class Prediction:
    """One request's outputs (name -> array or DataFrame), sliced from its batch.

    It holds every output the batch computed (the probabilities for the log, say); the response
    carries those the request asked for (:meth:`ServedModel.answer`).
    """

    outputs: dict[str, Any]


class ServedModel:
    """A loaded :class:`~slipway.models.Model` with its request codec and batch predict."""

    def __init__(
        self,
        model: Model,
        *,
        name: str,
        version: str,
        source: str,
        model_name: str | None = None,
        extra_columns: str = "drop",
        log_probabilities: bool = True,
    ) -> None:
        self.model = model
        self.name = name  # the deployment: what clients call
        self.model_name = model_name or name  # the registered model that answers (an arm's may differ)
        self.version = version
        self.source = source
        sig = model.signature
        self.codec = InputCodec(sig.inputs if sig is not None else None, extra_columns=extra_columns)  # type: ignore[arg-type]
        self.outputs: tuple[str, ...] = (PREDICT, PROBA) if PROBA in model.methods else (PREDICT,)
        self._params = {p.name for p in (sig.params or ())} if sig is not None else set()
        self.log_probabilities = log_probabilities and PROBA in self.outputs
        # A tensor request leaves the codec cast and shaped exactly as the model's enforcer would
        # leave it, so the model is called without checking it a second time. Other kinds keep the
        # enforcer: without a signature it is what turns a dict of arrays into the model's frame.
        self._checked = self.codec.kind == "tensor"
        # and where the model refuses NaN and infinity, the codec finds them (a 400 naming the
        # input, not the model's 500) and the model's own search is turned off in the predict
        # thread: for a numeric tensor only, since the model itself turns text or objects to numbers
        self.codec.finite = self.codec.numeric_tensor and model.finite_only
        self._classes: list[str] | None = None
        self._proba_warned = False

    def __repr__(self) -> str:
        return f"ServedModel({self.name!r}, version={self.version!r}, source={self.source!r})"

    # ------------------------------------------------------------------ per request (event loop)
    def check_outputs(self, payload: Payload) -> None:
        """Unknown requested outputs are a 400 before the request joins a batch."""
        if payload.outputs is None:
            return
        unknown = [o for o in payload.outputs if o not in self.outputs]
        if unknown:
            raise InvalidInput(f"output {unknown[0]!r}: this model has outputs {', '.join(self.outputs)}")

    def model_params(self, payload: Payload, *, strict: bool) -> dict[str, Any]:
        """The request's parameters meant for the model: those its signature declares.

        OIP parameters are mostly for the server (``binary_data_output``, ``content_type``…) and
        are ignored when unknown, as the protocol says; MLflow's ``params`` are all for the model,
        so there an unknown one is an error.
        """
        if not payload.params:
            return payload.params
        if strict:
            unknown = sorted(set(payload.params) - self._params)
            if unknown:
                raise InvalidInput(
                    f"params {unknown}: not in the model's signature "
                    f"(it takes {', '.join(sorted(self._params)) or 'none'})"
                )
            return payload.params
        return {k: v for k, v in payload.params.items() if k in self._params}

    # ------------------------------------------------------------------ per batch (predict thread)
    def prepare_thread(self) -> None:
        """Run once by the thread that predicts for this version, before its first batch."""
        if self.codec.finite:
            self.model.trust_finite_inputs()

    def predict(self, payloads: Sequence[Payload]) -> list[Prediction]:
        """One model call per group of payloads that can share one: same params, same inputs.

        Payloads differ in what one call cannot mix: their params (a call takes one set) and which
        optional columns they carry, or for a model without a signature their arrays' types and
        shapes. Each group is one call; the predictions come back in the payloads' order.
        """
        if len(payloads) > 1:
            groups: dict[tuple[Any, ...], list[int]] = {}
            for i, p in enumerate(payloads):
                groups.setdefault((_key(p.params), layout(p.data)), []).append(i)
            if len(groups) > 1:
                by_index: dict[int, Prediction] = {}
                for indices in groups.values():
                    predictions = self._predict([payloads[i] for i in indices])
                    by_index.update(zip(indices, predictions, strict=True))
                return [by_index[i] for i in range(len(payloads))]
        return self._predict(payloads)

    def _predict(self, payloads: Sequence[Payload]) -> list[Prediction]:
        """Payloads that share their params and their columns: one call, sliced back."""
        data = _merge(self.codec.kind, [p.data for p in payloads])
        params = payloads[0].params or None
        asked = {name for p in payloads if p.outputs is not None for name in p.outputs}
        total = sum(p.rows for p in payloads)
        computed: dict[str, Any] = {PREDICT: _rows_of(PREDICT, self._call(PREDICT, data, params), total)}
        if PROBA in asked:
            computed[PROBA] = _rows_of(PROBA, self._call(PROBA, data, None), total)
        if len(payloads) == 1:
            return [Prediction(computed)]
        out = []
        start = 0
        for p in payloads:
            stop = start + p.rows
            out.append(Prediction({k: _slice(v, start, stop) for k, v in computed.items()}))
            start = stop
        return out

    def _call(self, method: str, data: Any, params: dict[str, Any] | None) -> Any:
        if self._checked:
            return self.model.call_checked(method, data, params)
        if method == PREDICT:
            return self.model.predict(data, params=params)
        return self.model.predict_proba(data)

    def probabilities_for_log(
        self, payloads: Sequence[Payload], predictions: Sequence[Prediction]
    ) -> list[Any] | None:
        """Each payload's predict_proba for the prediction log, computed where no request asked.

        Called on the deployment's log thread, after the batch's answers went out and while the
        predict thread already serves the next batch, so the probabilities the log keeps
        (monitoring estimates performance from them) cost the callers no latency. The model is
        then called from two threads at once, as a read-only predict is by any threaded server. A
        failure here is the log's, never a caller's: it is logged once and the log goes without.
        """
        if not self.log_probabilities:
            return None
        out: list[Any] = [r.outputs.get(PROBA) for r in predictions]
        missing = [i for i, v in enumerate(out) if v is None]
        if not missing:
            return out
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i in missing:
            groups.setdefault(layout(payloads[i].data), []).append(i)
        try:
            for indices in groups.values():
                data = _merge(self.codec.kind, [payloads[i].data for i in indices])
                total = sum(payloads[i].rows for i in indices)
                proba = _rows_of(PROBA, self._call(PROBA, data, None), total)
                start = 0
                for i in indices:
                    out[i] = _slice(proba, start, start + payloads[i].rows)
                    start += payloads[i].rows
        except Exception as e:
            if not self._proba_warned:
                self._proba_warned = True
                log.warning(
                    "deployment %s: predict_proba failed, so the prediction log goes without "
                    "probabilities: %s: %s",
                    self.name,
                    type(e).__name__,
                    e,
                )
            return None
        return out

    @staticmethod
    def answer(payload: Payload, prediction: Prediction) -> dict[str, Any]:
        """The outputs the request asked for (``predict`` when it named none), in its order."""
        if payload.outputs is None:
            return {PREDICT: prediction.outputs[PREDICT]}
        return {name: prediction.outputs[name] for name in payload.outputs}

    def probability_columns(self) -> list[str]:
        """Names for predict_proba's columns in the prediction log: ``proba_<class>``."""
        if self._classes is None:
            classes = getattr(self.model.raw, "classes_", None)
            self._classes = [str(c) for c in classes] if classes is not None else []
        return [f"proba_{c}" for c in self._classes]


def _key(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


def layout(data: Any) -> tuple[Any, ...]:
    """What must match for payloads' data to be concatenated: names, types, per-row shapes."""
    if isinstance(data, dict):
        return tuple((k, *layout(v)) for k, v in data.items())
    if isinstance(data, np.ndarray):
        return (data.dtype.str, data.shape[1:])
    columns = getattr(data, "columns", None)
    if columns is not None:  # a DataFrame (a model without a signature)
        return tuple(zip(map(str, columns), map(str, data.dtypes), strict=True))
    return (type(data).__name__,)


def _rows_of(name: str, value: Any, rows: int) -> Any:
    """``value`` if it has one entry per input row (it is sliced by row); else a RuntimeError."""
    try:
        n = len(value)
    except TypeError:
        raise RuntimeError(
            f"the model's {name} returned a {type(value).__name__}, not one value per row"
        ) from None
    if n != rows:
        raise RuntimeError(f"the model's {name} returned {n} rows for {rows} input rows")
    return value


def _slice(value: Any, start: int, stop: int) -> Any:
    if hasattr(value, "iloc"):
        return value.iloc[start:stop]
    return value[start:stop]


def _merge(kind: str, parts: list[Any]) -> Any:
    """The payloads' data as one model input (a DataFrame, an ndarray or a dict of ndarrays)."""
    first = parts[0]
    if kind == "columns":
        import pandas as pd

        if len(parts) == 1:
            return pd.DataFrame(first, copy=False)
        return pd.DataFrame({k: np.concatenate([p[k] for p in parts]) for k in first}, copy=False)
    if len(parts) > 1 and isinstance(first, dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in first}
    return concat_rows(parts)


def concat_rows(parts: list[Any]) -> Any:
    """Arrays (or DataFrames, or lists) stacked along their rows; one part is returned as it is."""
    if len(parts) == 1:
        return parts[0]
    if hasattr(parts[0], "iloc"):
        import pandas as pd

        return pd.concat(parts, ignore_index=True)
    return np.concatenate([np.asarray(p) for p in parts])
