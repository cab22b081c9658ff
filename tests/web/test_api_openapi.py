"""The OpenAPI document: served without login, it describes every API route the app has (and no other),
and answers conform to it. `conforms` is used by the other API tests to check answers field by field."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from tests.web.conftest import Web

pytestmark = pytest.mark.sqlite_only  # what it checks does not depend on the metadata DB


def conforms(data: Any, schema_name: str) -> Any:
    """Assert `data` is valid for the document's response schema `schema_name`; returns it."""
    from jsonschema import Draft202012Validator

    from flowctl.web.api.arguments import _json_schema
    from flowctl.web.api.openapi_schemas import SCHEMAS

    definitions = {name: _json_schema(schema) for name, schema in SCHEMAS.items()}
    validator = Draft202012Validator({"$ref": f"#/$defs/{schema_name}", "$defs": definitions})
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    return data


def _routes(app: Flask) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^<>]*:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        found |= {(path, method.lower()) for method in rule.methods or () if method not in ("HEAD", "OPTIONS")}
    return found


def test_the_document_is_served_without_login_and_is_openapi_3(web: Web) -> None:
    response = web.client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.0")
    assert document["servers"] == [{"url": "/api/v1"}]
    assert document["paths"]["/health"]["get"]["security"] == []
    assert {"Basic", "Session"} <= set(document["components"]["securitySchemes"])


def test_the_document_lists_exactly_the_routes_the_app_serves(app: Flask) -> None:
    from flowctl.web.api.openapi import document

    documented = {(path, method) for path, item in document()["paths"].items() for method in item}

    assert documented == _routes(app)


def test_every_reference_in_the_document_resolves(web: Web) -> None:
    document = web.client().get("/api/v1/openapi.json").get_json()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                _, section, kind, name = node["$ref"].split("/")
                assert name in document[section][kind], node["$ref"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)


def test_every_operation_documents_its_error_answers_and_its_role(web: Web) -> None:
    document = web.client().get("/api/v1/openapi.json").get_json()

    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path in ("/health", "/openapi.json"):
                continue
            assert {"400", "401", "403"} <= set(operation["responses"]), (path, method)
            if "{" in path:
                assert "404" in operation["responses"], (path, method)
            assert operation["x-flowctl-role"] in ("Viewer", "User", "Op"), (path, method)


def test_request_schemas_refuse_unknown_fields_and_response_schemas_name_every_field() -> None:
    from flowctl.web.api.openapi_schemas import REQUEST_SCHEMAS, RESPONSE_SCHEMAS

    for name, schema in {**REQUEST_SCHEMAS, **RESPONSE_SCHEMAS}.items():
        if schema.get("type") == "object":
            assert schema["additionalProperties"] is False, name
    for name, schema in RESPONSE_SCHEMAS.items():
        if schema.get("type") == "object":
            assert set(schema["required"]) == set(schema["properties"]), name


def test_health_answers_as_documented(web: Web) -> None:
    conforms(web.client().get("/api/v1/health").get_json(), "HealthInfo")
