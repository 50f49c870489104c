"""The inference server's OpenAPI 3.1 document, written out by hand as a plain dict.

Why by hand: the server is a bare ASGI callable with a fixed route table (``_app.py``), not a
Starlette or FastAPI app. For a model that predicts a row in 0.1 ms, a framework's per-request
machinery is what MLServer and BentoML spend their 2 ms on (FIELD-NOTES), so there are no route
decorators or pydantic models to generate a document from. This module describes what ``_app.py``
answers; ``tests/serving/test_openapi.py`` pins the routes, the security and the error contract. It
imports nothing but ``typing``: serving ``/openapi.json`` must not pull a framework into the process.

Layout: ``components`` holds each schema, parameter, header and error response once; the path
builders only assemble references to them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["openapi_document"]

JSON = dict[str, Any]

DATATYPES = [
    *("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"),
    *("FP16", "FP32", "FP64", "BYTES"),
]

# Answered without a bearer token (``ServingApp._http`` checks them before authorizing): probes.
PUBLIC_PATHS = frozenset(
    {
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/{model_name}/ready",  # the OIP counts model readiness as a health API
        "/v2/models/{model_name}/versions/{model_version}/ready",
        "/ping",
        "/health",
    }
)

_BEARER = "bearerToken"

# status -> (component name, description, response header or None); every body is {"error": str}.
_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("BadRequest", "Bad request: malformed JSON, wrong schema, datatype, shape or features.", None),
    401: ("Unauthorized", "Missing or wrong bearer token.", "WWW-Authenticate"),
    404: ("NotFound", "Unknown model, version or route.", None),
    405: ("MethodNotAllowed", "The path takes another method (named by `Allow`).", "Allow"),
    413: ("PayloadTooLarge", "The request body is over the server's size limit.", None),
    500: ("ModelFailed", "The model itself failed; the message is the model's own.", None),
    501: ("NotImplemented", "Not supported by this server, or not configured.", None),
    503: ("Unavailable", "Model not loaded yet, queue full or timed out: retry.", "Retry-After"),
}


def openapi_document(deployments: list[str], *, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of an inference server serving ``deployments``.

    Args:
        deployments: the deployment names; when there are any, the ``model_name`` path parameter is
            an enum of them.
        version: slipway's version, reported as the API's version.

    Returns:
        A JSON-serializable dict, built anew on every call.
    """
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "slipway inference server",
            "version": version,
            "summary": "Open Inference Protocol v2 and MLflow-style scoring for slipway deployments.",
            "description": (
                'Success is always 200. Every failure is `{"error": "<message>"}` (the OIP error '
                "body, which `tritonclient` decodes): 4xx for what the request did wrong, 500 only for "
                "a failure of the model itself, 503 (with `Retry-After` where a retry helps) when the "
                "model is not loaded, its queue is full or it timed out. A server started with "
                "`--token` wants `Authorization: Bearer <token>` everywhere except the health probes."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": [
            {"name": "health", "description": "Liveness and readiness probes; no token needed."},
            {"name": "server", "description": "Server metadata, version, metrics and this document."},
            {"name": "models", "description": "OIP model metadata and readiness."},
            {"name": "inference", "description": "OIP inference and MLflow-style scoring."},
            {"name": "feedback", "description": "Ground-truth labels, joined to the prediction log."},
            {"name": "repository", "description": "The OIP model repository extension."},
        ],
        "security": [{_BEARER: []}],
        "paths": _paths(),
        "components": _components(deployments),
    }


# ---------------------------------------------------------------------- building blocks
def _ref(kind: str, name: str) -> JSON:
    return {"$ref": f"#/components/{kind}/{name}"}


def _schema(name: str) -> JSON:
    return _ref("schemas", name)


def _string(**keywords: Any) -> JSON:
    return {"type": "string", **keywords}


def _array(items: JSON, **keywords: Any) -> JSON:
    return {"type": "array", "items": items, **keywords}


def _object(properties: JSON, *, optional: tuple[str, ...] = (), **keywords: Any) -> JSON:
    """An object schema whose properties are all required except ``optional``."""
    required = [name for name in properties if name not in optional]
    return {"type": "object", "required": required, "properties": properties, **keywords}


def _json(schema: JSON) -> JSON:
    return {"application/json": {"schema": schema}}


def _ok(description: str, content: JSON, headers: JSON | None = None) -> JSON:
    return {"description": description, "content": content, **({"headers": headers} if headers else {})}


def _operation(
    path: str,
    operation_id: str,
    summary: str,
    *,
    tag: str,
    ok: JSON | None,
    errors: tuple[int, ...] = (),
    description: str | None = None,
    parameters: list[JSON] | None = None,
    body: JSON | None = None,
) -> JSON:
    """One operation: 405 always; 401 and the document's bearer requirement unless a probe."""
    public = path in PUBLIC_PATHS
    statuses = sorted({*errors, 405, *(() if public else (401,))})
    op: JSON = {"operationId": operation_id, "summary": summary, "tags": [tag]}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = body
    op["responses"] = {"200": ok} if ok is not None else {}
    op["responses"].update({str(s): _ref("responses", _ERRORS[s][0]) for s in statuses})
    if public:
        op["security"] = []  # overrides the document-wide bearer requirement
    return op


def _model_paths(suffix: str, method: str, make: Callable[[str, bool], JSON]) -> JSON:
    """A model path without and with ``/versions/{model_version}``; ``make(path, versioned)``."""
    base = f"/v2/models/{{model_name}}{suffix}"
    versioned = f"/v2/models/{{model_name}}/versions/{{model_version}}{suffix}"
    name, version = _ref("parameters", "ModelName"), _ref("parameters", "ModelVersion")
    return {
        base: {"parameters": [name], method: make(base, False)},
        versioned: {"parameters": [name, version], method: make(versioned, True)},
    }


# ---------------------------------------------------------------------- paths
def _paths() -> JSON:
    return {
        **_health_paths(),
        "/v2": {
            "get": _operation(
                "/v2",
                "serverMetadata",
                "Server metadata",
                tag="server",
                ok=_ok("The server's name, version and OIP extensions.", _json(_schema("ServerMetadata"))),
            )
        },
        **_model_paths("", "get", _metadata_op),
        **_model_paths("/ready", "get", _model_ready_op),
        **_model_paths("/infer", "post", _infer_op),
        "/v2/models/{model_name}/feedback": {
            "parameters": [_ref("parameters", "ModelName")],
            "post": _operation(
                "/v2/models/{model_name}/feedback",
                "recordFeedback",
                "Record ground-truth labels",
                tag="feedback",
                description="Labels for earlier predictions, matched by the `x-request-id` they got back.",
                body={"required": True, "content": _json(_schema("FeedbackRequest"))},
                ok=_ok("How many labels were recorded.", _json(_schema("FeedbackAccepted"))),
                errors=(400, 404, 413, 501),  # 501: the server keeps no prediction log
            ),
        },
        **_repository_paths(),
        "/invocations": {"post": _invocations_op()},
        **_server_paths(),
    }


def _health_paths() -> JSON:
    def probe(path: str, operation_id: str, summary: str) -> JSON:
        ok = _ok("Every deployment has a model loaded.", _json(_schema("Ready")))
        op = _operation(path, operation_id, summary, tag="health", ok=ok)
        op["responses"]["503"] = {
            "description": "No model is loaded yet.",
            "content": _json(_schema("NotReady")),
            "headers": {"Retry-After": _ref("headers", "Retry-After")},
        }
        return {"get": op}

    live = _ok("The process answers.", _json(_schema("Live")))
    return {
        "/v2/health/live": {
            "get": _operation("/v2/health/live", "serverLive", "Liveness", tag="health", ok=live)
        },
        "/v2/health/ready": probe("/v2/health/ready", "serverReady", "Readiness"),
        "/ping": probe("/ping", "ping", "Readiness (MLflow and SageMaker style)"),
        "/health": probe("/health", "health", "Readiness"),
    }


def _metadata_op(path: str, versioned: bool) -> JSON:
    return _operation(
        path,
        "modelVersionMetadata" if versioned else "modelMetadata",
        "Model version metadata" if versioned else "Model metadata",
        tag="models",
        ok=_ok("The model's tensor signature and loaded versions.", _json(_schema("ModelMetadata"))),
        errors=(404,) if versioned else (404, 503),  # a named version is either loaded or unknown
    )


def _model_ready_op(path: str, versioned: bool) -> JSON:
    return _operation(
        path,
        "modelVersionReady" if versioned else "modelReady",
        "Model version readiness" if versioned else "Model readiness",
        tag="models",
        ok=_ok("The model is loaded.", _json(_schema("ModelReady"))),
        errors=(404,) if versioned else (404, 503),
    )


def _infer_op(path: str, versioned: bool) -> JSON:
    description = (
        "Answers the requested outputs, or all of them; unknown parameters are ignored. The request's "
        "`id`, else its `x-request-id` header, else a generated id comes back as `id` and "
        "`x-request-id`; feedback refers to it."
    )
    if not versioned:
        description += " The deployment's traffic routing (canary, A/B) picks the model version."
    binary = (
        "Binary tensor extension (`application/octet-stream`): an `InferenceRequest` of "
        "`Inference-Header-Content-Length` bytes of JSON, then the raw little-endian bytes of each "
        "input that has `parameters.binary_data_size` (BOOL: 1 byte per element; BYTES: a 4-byte "
        "little-endian length before each element)."
    )
    headers = _model_headers()
    headers["Inference-Header-Content-Length"] = _ref("headers", "InferenceHeaderContentLength")
    return _operation(
        path,
        "modelVersionInfer" if versioned else "modelInfer",
        "Inference on a model version" if versioned else "Inference",
        tag="inference",
        description=description,
        parameters=[_ref("parameters", "RequestId"), _ref("parameters", "InferenceHeaderContentLength")],
        body={
            "required": True,
            "description": f"An OIP inference request. {binary}",
            "content": {**_json(_schema("InferenceRequest")), "application/octet-stream": {}},
        },
        ok=_ok(
            "The outputs. When binary outputs were asked for (`binary_data_output`, or an output's "
            "`binary_data`), an `application/octet-stream` body: `Inference-Header-Content-Length` "
            "bytes of `InferenceResponse` JSON, then those outputs' raw bytes.",
            {**_json(_schema("InferenceResponse")), "application/octet-stream": {}},
            headers,
        ),
        errors=(400, 404, 413, 500, 503),
    )


def _invocations_op() -> JSON:
    return _operation(
        "/invocations",
        "invocations",
        "MLflow scoring",
        tag="inference",
        description="MLflow's scoring protocol. Only on a server with one deployment (else 404).",
        parameters=[_ref("parameters", "RequestId")],
        body={
            "required": True,
            "content": {
                **_json(_schema("InvocationsRequest")),
                "text/csv": {"schema": _string(description="A header row of column names, then the rows.")},
            },
        },
        ok=_ok("The predictions.", _json(_schema("InvocationsResponse")), _model_headers()),
        errors=(400, 404, 413, 500, 503),
    )


def _repository_paths() -> JSON:
    name = [_ref("parameters", "ModelName")]
    index = _ok("One entry per arm.", _json(_array(_schema("RepositoryIndexEntry"))))
    state = _ok("The deployment's state after the reload.", _json(_schema("DeploymentState")))
    return {
        "/v2/repository/index": {
            "post": _operation(
                "/v2/repository/index",
                "repositoryIndex",
                "List every deployment's models",
                tag="repository",
                description="Every arm (primary, canary, A/B, shadow) of each deployment; a body is ignored.",
                ok=index,
            )
        },
        "/v2/repository/models/{model_name}/load": {
            "parameters": name,
            "post": _operation(
                "/v2/repository/models/{model_name}/load",
                "repositoryLoad",
                "Reload a deployment",
                tag="repository",
                description=(
                    "Re-resolves the deployment's model URIs (aliases) now rather than at the next "
                    "poll, on every worker, and loads what changed (400 names any arm that failed). "
                    "A body is ignored."
                ),
                ok=state,
                errors=(400, 404),
            ),
        },
        "/v2/repository/models/{model_name}/unload": {
            "parameters": name,
            "post": _operation(
                "/v2/repository/models/{model_name}/unload",
                "repositoryUnload",
                "Unload a model (not supported)",
                tag="repository",
                description="Always 501: a deployment serves until the server stops.",
                ok=None,
                errors=(404, 501),
            ),
        },
    }


def _server_paths() -> JSON:
    def text(description: str) -> JSON:
        return {"text/plain": {"schema": _string(description=description)}}

    return {
        "/version": {
            "get": _operation(
                "/version",
                "version",
                "slipway's version",
                tag="server",
                ok=_ok("The version.", text("e.g. 0.4.0")),
            )
        },
        "/metrics": {
            "get": _operation(
                "/metrics",
                "metrics",
                "Prometheus metrics",
                tag="server",
                ok=_ok(
                    "Every worker's metrics, in the Prometheus text exposition format "
                    "(`text/plain; version=0.0.4`; recent prometheus-client releases say `version=1.0.0`).",
                    text("Prometheus text exposition format."),
                ),
            )
        },
        "/openapi.json": {
            "get": _operation(
                "/openapi.json",
                "openapi",
                "This document",
                tag="server",
                ok=_ok("The OpenAPI 3.1 document.", _json({"type": "object"})),
            )
        },
    }


def _model_headers() -> JSON:
    return {
        "x-model-name": _ref("headers", "ModelName"),
        "x-model-version": _ref("headers", "ModelVersion"),
        "x-model-variant": _ref("headers", "ModelVariant"),
        "x-request-id": _ref("headers", "RequestId"),
    }


# ---------------------------------------------------------------------- components
def _components(deployments: list[str]) -> JSON:
    def header(description: str, schema: JSON) -> JSON:
        return {"description": description, "schema": schema}

    def parameter(name: str, where: str, description: str, schema: JSON) -> JSON:
        return {
            "name": name,
            "in": where,
            "required": where == "path",
            "description": description,
            "schema": schema,
        }

    model_name = _string(enum=list(deployments)) if deployments else _string()
    length = {"type": "integer", "minimum": 0}
    return {
        "securitySchemes": {
            _BEARER: {
                "type": "http",
                "scheme": "bearer",
                "description": "The server's `--token`; not checked when the server has none.",
            }
        },
        "parameters": {
            "ModelName": parameter("model_name", "path", "A deployment this server serves.", model_name),
            "ModelVersion": parameter("model_version", "path", "A loaded version of the model.", _string()),
            "RequestId": parameter(
                "x-request-id",
                "header",
                "The caller's request id, echoed and logged.",
                _string(maxLength=256),
            ),
            "InferenceHeaderContentLength": parameter(
                "Inference-Header-Content-Length",
                "header",
                "Binary bodies: the JSON header's length.",
                length,
            ),
        },
        "headers": {
            "ModelName": header("The deployment that answered.", _string()),
            "ModelVersion": header("The model version that answered.", _string()),
            "ModelVariant": header("The arm that answered: `primary`, `canary` or an A/B arm.", _string()),
            "RequestId": header("The request's id: the caller's, or generated.", _string()),
            "InferenceHeaderContentLength": header("Binary bodies only: the JSON header's length.", length),
            "Retry-After": header("Seconds to wait before retrying.", {"type": "integer"}),
            "WWW-Authenticate": header("`Bearer`.", _string()),
            "Allow": header("The method the path takes.", _string()),
        },
        "responses": {
            name: {
                "description": description,
                "content": _json(_schema("Error")),
                **({"headers": {h: _ref("headers", h)}} if h else {}),
            }
            for name, description, h in _ERRORS.values()
        },
        "schemas": {**_protocol_schemas(), **_slipway_schemas()},
    }


def _protocol_schemas() -> JSON:
    """The Open Inference Protocol's bodies (shared/protocols/open-inference-protocol.md)."""
    string, names = _string(), _array(_string())
    tensor = {"name": string, "shape": _array({"type": "integer"}), "datatype": _schema("Datatype")}
    return {
        "Error": _object({"error": _string(description="What went wrong.")}),
        "ServerMetadata": _object(
            {
                "name": _string(examples=["slipway"]),
                "version": string,
                "extensions": _array(
                    string, examples=[["binary_tensor_data", "model_repository", "metrics"]]
                ),
            }
        ),
        "Live": _object({"live": {"const": True}}),
        "Ready": _object({"ready": {"const": True}}),
        "NotReady": {"allOf": [_schema("Error"), _object({"error": string, "ready": {"const": False}})]},
        "Datatype": _string(enum=DATATYPES),
        "Parameters": {
            "type": "object",
            "description": (
                "Name → value; unknown names are ignored. Binary tensor extension: `binary_data_size` "
                "(an input's byte count), `binary_data` (an output), `binary_data_output` (the request)."
            ),
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
        "TensorData": _array(
            {"anyOf": [{"type": ["number", "boolean", "string", "null"]}, _schema("TensorData")]},
            description=(
                "Row-major, flat or nested in the tensor's shape. BYTES elements are strings; FP16 "
                "travels binary only; `null` is a non-finite float in a response."
            ),
        ),
        "MetadataTensor": _object(tensor, description="A shape of -1 marks a variable dimension."),
        "ModelMetadata": _object(
            {
                "name": string,
                "versions": names,
                "platform": _string(examples=["slipway_sklearn"]),
                "inputs": _array(_schema("MetadataTensor")),
                "outputs": _array(_schema("MetadataTensor")),
                "parameters": _object({"model_version": string, "source": string}),
            }
        ),
        "ModelReady": _object({"name": string, "ready": {"type": "boolean"}}),
        "RequestInput": _object(
            {
                **tensor,
                "shape": _array({"type": "integer", "minimum": 0}),
                "parameters": _schema("Parameters"),
                "data": _schema("TensorData"),
            },
            optional=("parameters", "data"),
            description="`data` is required unless `parameters.binary_data_size` puts the tensor after it.",
        ),
        "RequestOutput": _object(
            {"name": string, "parameters": _schema("Parameters")}, optional=("parameters",)
        ),
        "InferenceRequest": _object(
            {
                "id": string,
                "parameters": _schema("Parameters"),
                "inputs": _array(_schema("RequestInput"), minItems=1),
                "outputs": _array(
                    _schema("RequestOutput"),
                    description="The outputs to answer (unknown: 400); all if absent.",
                ),
            },
            optional=("id", "parameters", "outputs"),
        ),
        "ResponseOutput": _object(
            {**tensor, "parameters": _schema("Parameters"), "data": _schema("TensorData")},
            optional=("parameters", "data"),
            description="`data` is absent when the output is binary (`parameters.binary_data_size`).",
        ),
        "InferenceResponse": _object(
            {
                "model_name": string,
                "model_version": string,
                "id": string,
                "parameters": _schema("Parameters"),
                "outputs": _array(_schema("ResponseOutput")),
            },
            optional=("model_version", "id", "parameters"),
        ),
        "RepositoryIndexEntry": _object(
            {
                "name": string,
                "version": _string(description="Empty while nothing is loaded."),
                "state": _string(enum=["READY", "LOADING", "UNAVAILABLE"]),
                "reason": _string(description="The last load failure, or why the arm left traffic."),
                "variant": _string(description="The arm: `primary`, `canary`, `shadow` or an A/B arm."),
            }
        ),
    }


def _slipway_schemas() -> JSON:
    """Bodies of slipway's own: feedback, a deployment's state and MLflow scoring."""
    string, nullable = _string(), {"type": ["string", "null"]}
    feedback = _array(_schema("FeedbackItem"), minItems=1)
    rows = {
        "oneOf": [
            {
                "type": "array",
                "minItems": 1,
                "description": "Rows (lists), records (objects) or tensor elements.",
            },
            {"type": "object", "description": "Column (or tensor) name → values."},
        ]
    }

    def mlflow(key: str, schema: JSON) -> JSON:
        # No other properties: the four shapes are disjoint, so oneOf says "exactly one of the keys".
        properties = {key: schema, "params": _schema("InvocationsParams")}
        return _object(properties, optional=("params",), additionalProperties=False)

    return {
        "FeedbackItem": _object(
            {"request_id": _string(minLength=1), "label": {"type": ["number", "string", "boolean"]}}
        ),
        "FeedbackRequest": {
            "anyOf": [_schema("FeedbackItem"), feedback, _object({"feedback": feedback})],
        },
        "FeedbackAccepted": _object({"accepted": {"type": "integer", "minimum": 0}}),
        "DeploymentState": _object(
            {
                "name": string,
                "ready": {"type": "boolean"},
                "arms": _array(
                    _object(
                        {
                            "role": string,
                            "uri": _string(examples=["models:/churn@champion"]),
                            "weight": {"type": "number"},
                            "version": nullable,
                            "out": {**nullable, "description": "Why the arm was taken out of traffic."},
                            "error": {**nullable, "description": "The last load failure."},
                        }
                    )
                ),
            }
        ),
        "InvocationsParams": {
            "type": "object",
            "description": "MLflow inference params, passed to the model.",
        },
        "DataframeSplit": _object(
            {
                "columns": _array(string),
                "data": _array({"type": "array"}, minItems=1),
                "index": {"type": "array"},
            },
            optional=("columns", "index"),
            description="pandas `orient='split'`; a model with named columns needs `columns`.",
        ),
        "InvocationsRequest": {
            "oneOf": [
                mlflow("dataframe_split", _schema("DataframeSplit")),
                mlflow(
                    "dataframe_records",
                    {"anyOf": [_array({"type": "object"}, minItems=1), {"type": "object"}]},
                ),
                mlflow("instances", rows),
                mlflow("inputs", rows),
            ]
        },
        "InvocationsResponse": _object(
            {
                "predictions": {
                    "type": "array",
                    "description": "One value per row; records for several outputs.",
                }
            }
        ),
    }
