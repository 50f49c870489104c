"""The inference server's OpenAPI document: valid 3.1, every route, the deployments, errors, security."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # no type hints shipped
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from slipway.serving._openapi import openapi_document

DEPLOYMENTS = ["iris", "churn"]

ROUTES = {
    ("GET", "/v2"),
    ("GET", "/v2/health/live"),
    ("GET", "/v2/health/ready"),
    ("GET", "/v2/models/{model_name}"),
    ("GET", "/v2/models/{model_name}/versions/{model_version}"),
    ("GET", "/v2/models/{model_name}/ready"),
    ("GET", "/v2/models/{model_name}/versions/{model_version}/ready"),
    ("POST", "/v2/models/{model_name}/infer"),
    ("POST", "/v2/models/{model_name}/versions/{model_version}/infer"),
    ("POST", "/v2/models/{model_name}/feedback"),
    ("POST", "/v2/repository/index"),
    ("POST", "/v2/repository/models/{model_name}/load"),
    ("POST", "/v2/repository/models/{model_name}/unload"),
    ("POST", "/invocations"),
    ("GET", "/ping"),
    ("GET", "/health"),
    ("GET", "/version"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
}
HEALTH = {
    "/v2/health/live",
    "/v2/health/ready",
    "/v2/models/{model_name}/ready",
    "/v2/models/{model_name}/versions/{model_version}/ready",
    "/ping",
    "/health",
}
INFER = ["/v2/models/{model_name}/infer", "/v2/models/{model_name}/versions/{model_version}/infer"]
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def doc() -> dict[str, Any]:
    return openapi_document(DEPLOYMENTS, version="1.2.3")


def _operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        prefix = "#/components/"
        assert node["$ref"].startswith(prefix), node
        kind, name = node["$ref"][len(prefix) :].split("/")
        node = doc["components"][kind][name]
    return node


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A JSON Schema validator for ``schema`` that resolves the document's ``#/components`` refs."""
    return Draft202012Validator({**schema, "components": doc["components"]})


def _schema_validator(doc: dict[str, Any], name: str) -> Draft202012Validator:
    return _validator(doc, {"$ref": f"#/components/schemas/{name}"})


def _parameters(doc: dict[str, Any], path: str, method: str) -> dict[str, dict[str, Any]]:
    item = doc["paths"][path]
    declared = [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]
    resolved = [_resolve(doc, p) for p in declared]
    return {p["name"]: p for p in resolved}


@pytest.mark.parametrize("deployments", [[], ["iris"], DEPLOYMENTS])
def test_the_document_is_valid_openapi_3_1(deployments: list[str]) -> None:
    doc = openapi_document(deployments, version="1.2.3")

    validate(doc, cls=OpenAPIV31SpecValidator)
    assert doc["openapi"].startswith("3.1.")
    assert doc["info"]["version"] == "1.2.3"
    assert json.loads(json.dumps(doc)) == doc  # plain JSON: the app serves it with orjson


def test_every_route_is_documented_with_its_methods(doc: dict[str, Any]) -> None:
    assert set(_operations(doc)) == ROUTES


def test_operation_ids_are_unique(doc: dict[str, Any]) -> None:
    ids = [op["operationId"] for op in _operations(doc).values()]

    assert len(ids) == len(set(ids)) == len(ROUTES)


def test_model_name_is_an_enum_of_the_deployments(doc: dict[str, Any]) -> None:
    model_routes = [(m, p) for m, p in ROUTES if "{model_name}" in p]

    for method, path in model_routes:
        parameter = _parameters(doc, path, method)["model_name"]
        assert parameter["in"] == "path"
        assert parameter["required"] is True
        assert parameter["schema"]["enum"] == DEPLOYMENTS, path
    assert len(model_routes) == 9


def test_model_name_is_any_string_without_deployments() -> None:
    doc = openapi_document([], version="1.2.3")

    parameter = _parameters(doc, "/v2/models/{model_name}/infer", "POST")["model_name"]
    assert parameter["schema"] == {"type": "string"}


def test_each_document_has_its_own_deployments() -> None:
    first = openapi_document(["a"], version="1")
    second = openapi_document(["b", "c"], version="1")

    assert _parameters(first, "/v2/models/{model_name}", "GET")["model_name"]["schema"]["enum"] == ["a"]
    assert _parameters(second, "/v2/models/{model_name}", "GET")["model_name"]["schema"]["enum"] == ["b", "c"]


def test_the_error_schema_requires_error(doc: dict[str, Any]) -> None:
    error = doc["components"]["schemas"]["Error"]
    validator = _schema_validator(doc, "Error")

    assert error["required"] == ["error"]
    assert error["properties"]["error"]["type"] == "string"
    assert validator.is_valid({"error": "unknown model 'x'"})
    assert not validator.is_valid({"detail": [{"msg": "field required"}]})  # MLServer's 422 body
    assert not validator.is_valid({"error": 42})


def test_every_error_response_is_an_error_body(doc: dict[str, Any]) -> None:
    for (method, path), op in _operations(doc).items():
        failures = {s: r for s, r in op["responses"].items() if int(s) >= 400}
        assert failures, f"{method} {path} documents no failure"
        for status, response in failures.items():
            schema = _resolve(doc, response)["content"]["application/json"]["schema"]
            problems = [e.message for e in _validator(doc, schema).iter_errors({"ready": False})]
            assert "'error' is a required property" in problems, (method, path, status)


def test_the_error_statuses_are_documented_where_they_happen(doc: dict[str, Any]) -> None:
    ops = _operations(doc)
    statuses = {s for op in ops.values() for s in op["responses"]}

    assert {"400", "401", "404", "405", "413", "500", "501", "503"} <= statuses
    for path in INFER:
        assert {"200", "400", "401", "404", "405", "413", "500", "503"} == set(ops["POST", path]["responses"])
    assert {"400", "413", "501"} <= set(ops["POST", "/v2/models/{model_name}/feedback"]["responses"])
    unload = ops["POST", "/v2/repository/models/{model_name}/unload"]
    assert set(unload["responses"]) == {"401", "404", "405", "501"}
    busy = _resolve(doc, ops["POST", "/invocations"]["responses"]["503"])
    assert "Retry-After" in busy["headers"]
    assert "WWW-Authenticate" in _resolve(doc, ops["GET", "/v2"]["responses"]["401"])["headers"]


def test_health_probes_need_no_token_and_everything_else_does(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    bearer = {name for name, s in schemes.items() if s["type"] == "http" and s["scheme"] == "bearer"}
    assert bearer

    for (method, path), op in _operations(doc).items():
        effective = op.get("security", doc.get("security"))
        if path in HEALTH:
            assert not effective, f"{method} {path} should be public"
            assert "401" not in op["responses"]
        else:
            assert effective, f"{method} {path} should need the bearer token"
            assert all(set(requirement) <= bearer and requirement for requirement in effective)
            assert "401" in op["responses"]


def test_readiness_probes_answer_503_with_ready_false(doc: dict[str, Any]) -> None:
    for path in ("/v2/health/ready", "/ping", "/health"):
        responses = doc["paths"][path]["get"]["responses"]
        assert "Retry-After" in responses["503"]["headers"]
        ok = _validator(doc, responses["200"]["content"]["application/json"]["schema"])
        not_ready = _validator(doc, responses["503"]["content"]["application/json"]["schema"])
        assert ok.is_valid({"ready": True})
        assert not_ready.is_valid({"error": "no model is loaded yet", "ready": False})
        assert not not_ready.is_valid({"ready": False})


def test_inference_documents_the_binary_tensor_extension(doc: dict[str, Any]) -> None:
    for path in INFER:
        op = doc["paths"][path]["post"]
        parameters = _parameters(doc, path, "POST")
        ok = op["responses"]["200"]
        header_names = {name.lower() for name in ok["headers"]}

        assert set(op["requestBody"]["content"]) == {"application/json", "application/octet-stream"}
        assert parameters["Inference-Header-Content-Length"]["in"] == "header"
        assert parameters["x-request-id"]["in"] == "header"
        assert parameters["x-request-id"]["required"] is False
        assert set(ok["content"]) == {"application/json", "application/octet-stream"}
        assert {
            "inference-header-content-length",
            "x-model-name",
            "x-model-version",
            "x-model-variant",
            "x-request-id",
        } <= header_names


def test_the_inference_schemas_follow_the_protocol(doc: dict[str, Any]) -> None:
    request = _schema_validator(doc, "InferenceRequest")
    response = _schema_validator(doc, "InferenceResponse")
    tensor = {"name": "input-0", "shape": [2, 2], "datatype": "FP32", "data": [[1.0, 2.0], [3.0, 4.0]]}

    assert doc["components"]["schemas"]["Datatype"]["enum"] == [
        *("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"),
        *("FP16", "FP32", "FP64", "BYTES"),
    ]
    assert request.is_valid({"id": "r1", "inputs": [tensor], "outputs": [{"name": "predict"}]})
    assert request.is_valid({"inputs": [{**tensor, "data": [1, 2, 3, 4]}], "parameters": {"x": True}})
    assert not request.is_valid({"outputs": [{"name": "predict"}]})
    assert not request.is_valid({"inputs": []})
    assert not request.is_valid({"inputs": [{**tensor, "datatype": "FLOAT32"}]})
    assert not request.is_valid({"inputs": [{**tensor, "shape": [-1, 2]}]})
    assert response.is_valid(
        {
            "model_name": "iris",
            "model_version": "3",
            "id": "r1",
            "outputs": [
                {"name": "p", "shape": [2], "datatype": "FP64", "parameters": {"binary_data_size": 16}}
            ],
        }
    )
    assert not response.is_valid({"outputs": []})


def test_the_invocations_body_takes_exactly_one_mlflow_key(doc: dict[str, Any]) -> None:
    body = _schema_validator(doc, "InvocationsRequest")
    content = doc["paths"]["/invocations"]["post"]["requestBody"]["content"]

    assert set(content) == {"application/json", "text/csv"}
    assert body.is_valid({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]], "index": [0]}})
    assert body.is_valid({"dataframe_records": [{"a": 1, "b": 2}], "params": {"threshold": 0.5}})
    assert body.is_valid({"instances": [[1, 2]]})
    assert body.is_valid({"inputs": {"a": [1], "b": [2]}})
    assert not body.is_valid({"instances": [[1, 2]], "inputs": [[1, 2]]})
    assert not body.is_valid({"params": {"threshold": 0.5}})
    assert not body.is_valid({"rows": [[1, 2]]})
    assert not body.is_valid({"instances": [[1, 2]], "columns": ["a", "b"]})  # unknown keys: 400
    assert _schema_validator(doc, "InvocationsResponse").is_valid({"predictions": [0, 1]})


def test_the_feedback_body_takes_one_a_list_or_a_wrapped_list(doc: dict[str, Any]) -> None:
    body = _schema_validator(doc, "FeedbackRequest")
    item = {"request_id": "r1", "label": 1}

    assert body.is_valid(item)
    assert body.is_valid([item, {"request_id": "r2", "label": "spam"}, {"request_id": "r3", "label": True}])
    assert body.is_valid({"feedback": [item]})
    assert not body.is_valid({"request_id": "r1"})
    assert not body.is_valid({"request_id": "", "label": 1})
    assert not body.is_valid({"request_id": "r1", "label": [1]})
    assert not body.is_valid([])


def test_plain_text_endpoints(doc: dict[str, Any]) -> None:
    assert set(doc["paths"]["/version"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
    assert set(doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
