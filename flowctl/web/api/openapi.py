"""The OpenAPI 3 document of `/api/v1` (served, open, at `/api/v1/openapi.json`), and the operation each
request is for: the endpoints read their query parameters and check their bodies from this document, so
what it promises is what they accept."""

from __future__ import annotations

import functools
import re
from typing import Any

from flask import jsonify, request

from flowctl.web.api import api_blueprint
from flowctl.web.api.openapi_paths import ERROR_STATUSES, PARAMETERS, PATHS
from flowctl.web.api.openapi_schemas import SCHEMAS, Schema, ref


@functools.cache
def document() -> dict[str, Any]:
    from flowctl import __version__

    return {
        "openapi": "3.0.3",
        "info": {
            "title": "flowctl REST API",
            "version": __version__,
            "description": "Apache Airflow 2's stable REST API v1 shapes for the endpoints flowctl serves. "
            "Errors are RFC 7807 problem details.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "parameters": PARAMETERS,
            "responses": {
                name: {"description": text, "content": {"application/json": {"schema": ref("Error")}}}
                for name, text in ERROR_STATUSES.values()
            },
            "securitySchemes": {
                "Basic": {"type": "http", "scheme": "basic"},
                "Session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "The browser session; changes also need the X-CSRFToken header.",
                },
            },
        },
        "security": [{"Basic": []}, {"Session": []}],
    }


def current_parameters() -> list[Schema]:
    """The parameters the document declares for the operation this request is for."""
    method = "get" if request.method == "HEAD" else request.method.lower()  # HEAD is a GET without the body
    operation = PATHS[_document_path(request.url_rule.rule)][method]  # type: ignore[union-attr]
    return [PARAMETERS[item["$ref"].rsplit("/", 1)[1]] for item in operation.get("parameters", [])]


@functools.cache
def _document_path(rule: str) -> str:
    """`/api/v1/dags/<dag_id>/tasks/<int:map_index>` -> `/dags/{dag_id}/tasks/{map_index}`."""
    return re.sub(r"<(?:[^<>]*:)?(\w+)>", r"{\1}", rule.removeprefix(api_blueprint.url_prefix or ""))


@api_blueprint.get("/openapi.json")
def openapi() -> Any:
    return jsonify(document())
