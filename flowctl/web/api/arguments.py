"""What an API request brings: query parameters and a JSON body, read and checked against the OpenAPI
document (so the endpoints accept exactly what it promises), and the ids in its path. Anything malformed
is a 400 that names the value and says what is wrong; nothing reaches the DB unchecked."""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from flask import request

from flowctl import strict_json
from flowctl.db.queries.listing import Between, Page
from flowctl.exceptions import InvalidInput
from flowctl.services.actor import Actor
from flowctl.web import auth
from flowctl.web.api import api_blueprint, openapi
from flowctl.web.api.openapi_paths import MAX_PAGE_LIMIT
from flowctl.web.api.openapi_schemas import SCHEMAS, Schema

MAX_NESTING = strict_json.MAX_NESTING
_INTEGER = re.compile(r"[+-]?\d{1,30}")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_OPENAPI_ONLY = frozenset({"nullable", "readOnly", "writeOnly", "discriminator", "example", "deprecated"})


@api_blueprint.before_request
def _check_path_ids() -> None:
    """No id in a path may hold a control character (NUL included): refused before any lookup."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            check_text(name, value)


def check_text(name: str, value: str) -> None:
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        raise InvalidInput(f"{name} must not contain control characters")


def actor() -> Actor:
    return Actor(auth.actor_name(), datetime.now(UTC))


def query() -> dict[str, Any]:
    """Every query parameter the document declares for this operation: parsed, checked, or its default."""
    return {
        parameter["name"]: _query_value(parameter)
        for parameter in openapi.current_parameters()
        if parameter["in"] == "query"
    }


def page(values: Mapping[str, Any]) -> Page:
    return Page(
        limit=min(values["limit"], MAX_PAGE_LIMIT),
        offset=values["offset"],
        order_by=values.get("order_by"),
    )


def between(values: Mapping[str, Any], name: str) -> Between:
    return Between(values.get(f"{name}_gte"), values.get(f"{name}_lte"))


def body(schema_name: str) -> dict[str, Any]:
    """The JSON object the request carries, valid for the named request schema."""
    text = request.get_data(as_text=True)
    # Standard JSON only: NaN and Infinity would be stored and served to clients that cannot parse them.
    data = strict_json.parse(text, what="the request body") if text.strip() else None
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    _check_strings(data, depth=0)
    from jsonschema.exceptions import best_match

    error = best_match(_validator(schema_name).iter_errors(data))
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path)
        raise InvalidInput(f"{where}: {error.message}" if where else error.message)
    return data


def masked(data: dict[str, Any], mask: list[str], changeable: Collection[str]) -> dict[str, Any]:
    """The fields of a PATCH body to apply: those named by `update_mask`, or all when it is empty."""
    if not mask:
        return data
    for name in mask:
        if name not in changeable:
            raise InvalidInput(f"update_mask: {name!r} is unknown or cannot be changed")
        if name not in data:
            raise InvalidInput(f"update_mask names {name!r} but the body has no {name!r}")
    return {name: data[name] for name in mask}


def parse_datetime(name: str, text: str) -> datetime:
    """An ISO-8601 instant with a time zone (a `+` that became a space in a query string is forgiven)."""
    text = re.sub(r" (\d\d:?\d\d)$", r"+\1", text.strip())
    try:
        value = datetime.fromisoformat(text)
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidInput(f"{name} must carry a time zone (e.g. 2024-01-01T00:00:00+00:00), got {text!r}")
        value = value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{name} is not an ISO-8601 date and time: {text!r}") from None
    if not 1000 <= value.year <= 9999:
        raise InvalidInput(f"{name} is out of range (years 1000 to 9999): {text!r}")
    return value


def _query_value(parameter: Schema) -> Any:
    name, schema = parameter["name"], parameter["schema"]
    if schema.get("type") == "array":
        items = request.args.getlist(name)
        if parameter.get("explode") is False:
            items = [part.strip() for item in items for part in item.split(",") if part.strip()]
        return [_scalar(name, item, schema["items"]) for item in items]
    text = request.args.get(name)
    return schema.get("default") if text is None else _scalar(name, text, schema)


def _scalar(name: str, text: str, schema: Schema) -> Any:
    check_text(name, text)
    kind = schema.get("type")
    if kind == "boolean":
        if text.lower() not in _BOOLEANS:
            raise InvalidInput(f"{name} must be true or false, got {text!r}")
        return _BOOLEANS[text.lower()]
    if kind in ("integer", "number"):
        pattern = _INTEGER if kind == "integer" else _NUMBER
        if not pattern.fullmatch(text):
            raise InvalidInput(f"{name} must be {'an integer' if kind == 'integer' else 'a number'}, got {text!r}")
        value: int | float = int(text) if kind == "integer" else float(text)
        if not math.isfinite(value):
            raise InvalidInput(f"{name} must be a finite number, got {text!r}")
        return _in_bounds(name, value, schema)
    if schema.get("format") == "date-time":
        return parse_datetime(name, text)
    return text


def _in_bounds(name: str, value: int | float, schema: Schema) -> int | float:
    low, high = schema.get("minimum"), schema.get("maximum")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"from {low} to {high}"
        raise InvalidInput(f"{name} must be {bounds}, got {value}")
    return value


def _check_strings(value: Any, *, depth: int) -> None:
    """No NUL (the DBs cannot store it) and no lone surrogate anywhere in a body; bounded nesting."""
    if depth > MAX_NESTING:
        raise InvalidInput(f"the request body is nested more than {MAX_NESTING} levels deep")
    if isinstance(value, str):
        if "\x00" in value or any(unicodedata.category(char) == "Cs" for char in value):
            raise InvalidInput("the request body holds a NUL character or an invalid (surrogate) character")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, depth=depth + 1)
            _check_strings(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item, depth=depth + 1)


@functools.cache
def _validator(schema_name: str) -> Any:
    from jsonschema import Draft202012Validator

    definitions = {name: _json_schema(schema) for name, schema in SCHEMAS.items()}
    return Draft202012Validator({"$ref": f"#/$defs/{schema_name}", "$defs": definitions})


def _json_schema(schema: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema 2020-12: `nullable` becomes a null type, refs point to $defs."""
    if isinstance(schema, list):
        return [_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref":
            converted[key] = value.replace("#/components/schemas/", "#/$defs/")
        elif key == "properties":
            converted[key] = {name: _json_schema(item) for name, item in value.items()}
        elif key in ("items", "additionalProperties", "allOf", "anyOf", "oneOf"):
            converted[key] = _json_schema(value)
        elif key not in _OPENAPI_ONLY:
            converted[key] = value
    if not schema.get("nullable"):
        return converted
    if "type" in converted:
        converted["type"] = [converted["type"], "null"]
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
        return converted
    return {"anyOf": [converted, {"type": "null"}]}
