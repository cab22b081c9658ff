"""The trigger form of a DAG: one input per Param, chosen from its JSON schema (checkbox, number, list of
choices, text, lines, JSON), and the run conf a submitted form stands for. No Flask here: the view hands
in the stored params and the submitted values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowctl.exceptions import ParamValidationError
from flowctl.params import Param

_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class ParamField:
    """How one param is shown: `kind` is checkbox, number, select, text, date, textarea or json."""

    name: str
    key: str  # the input's name: param names may hold any character
    kind: str
    label: str
    description: str | None
    value: str = ""
    checked: bool = False
    options: tuple[tuple[str, str], ...] = ()  # (input value, label) of a select
    attributes: dict[str, str] = field(default_factory=dict)  # min, max, step... of the input
    error: str | None = None


def param_fields(
    params: Mapping[str, Mapping[str, Any]],
    submitted: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[ParamField]:
    """The form's inputs: holding the defaults, or what was submitted when the form comes back with errors."""
    fields = []
    for number, (name, data) in enumerate(params.items()):
        schema = data.get("schema") or {}
        key = f"param-{number}"
        kind = _kind(schema)
        if submitted is None:
            value, checked = _shown(kind, schema, data.get("default", _MISSING))
        else:
            value, checked = submitted.get(key, ""), key in submitted
        fields.append(
            ParamField(
                name=name,
                key=key,
                kind=kind,
                label=str(schema.get("title") or name),
                description=data.get("description") or schema.get("description"),
                value=value,
                checked=checked,
                options=_options(schema) if kind == "select" else (),
                attributes=_attributes(kind, schema),
                error=(errors or {}).get(name),
            )
        )
    return fields


def conf_from_form(
    params: Mapping[str, Mapping[str, Any]], submitted: Mapping[str, str], raw_conf: str
) -> tuple[dict[str, Any], dict[str, str], str | None]:
    """(conf, errors per param name, error of the raw JSON conf). The raw JSON object's keys override the
    fields'; every param's value is then checked against its schema, as the trigger itself will."""
    conf: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for number, (name, data) in enumerate(params.items()):
        schema = data.get("schema") or {}
        try:
            value = _parsed(_kind(schema), schema, submitted, f"param-{number}", data.get("default", _MISSING))
        except ValueError as exc:
            errors[name] = str(exc)
            continue
        if value is not _MISSING:
            conf[name] = value
    raw_error = None
    if raw_conf.strip():
        try:
            extra = json.loads(raw_conf)
        except ValueError as exc:
            extra, raw_error = {}, f"not valid JSON: {exc}"
        if not isinstance(extra, dict):
            extra, raw_error = {}, "the conf must be a JSON object {...}"
        conf.update(extra)
    for name, data in params.items():
        if name in errors:
            continue
        try:
            Param.from_dict(data).resolve(conf.get(name, _MISSING), name=name)
        except ParamValidationError as exc:
            errors[name] = str(exc).removeprefix(f"param {name!r}: ")
    return conf, errors, raw_error


def _types(schema: Mapping[str, Any]) -> list[str]:
    kinds = schema.get("type")
    return [kinds] if isinstance(kinds, str) else list(kinds or [])


def _nullable(schema: Mapping[str, Any]) -> bool:
    return "null" in _types(schema)


def _kind(schema: Mapping[str, Any]) -> str:
    types = [t for t in _types(schema) if t != "null"]
    main = types[0] if len(types) == 1 else None
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return "select"
    if main == "boolean":
        return "checkbox"
    if main in ("integer", "number"):
        return "number"
    if main == "string":
        return {"date": "date", "multiline": "textarea"}.get(schema.get("format", ""), "text")
    if main == "array" and (schema.get("items") or {}).get("type", "string") == "string":
        return "lines"
    if main in ("array", "object"):
        return "json"
    return "any"  # no type (or several): JSON when it parses, else text


def _shown(kind: str, schema: Mapping[str, Any], default: Any) -> tuple[str, bool]:
    """The input's text (and checkbox state) for a default."""
    if default is _MISSING or (default is None and kind != "select"):
        return "", False
    if kind == "checkbox":
        return "", bool(default)
    if kind == "select":
        enum = schema["enum"]
        return next((str(i) for i, choice in enumerate(enum) if choice == default), ""), False
    if kind == "lines" and isinstance(default, list):
        return "\n".join(str(item) for item in default), False
    if kind == "json":
        return json.dumps(default, indent=2), False
    if isinstance(default, str):
        return default, False
    return json.dumps(default), False


def _parsed(kind: str, schema: Mapping[str, Any], submitted: Mapping[str, str], key: str, default: Any) -> Any:
    """The value a submitted input stands for; raises ValueError with what is wrong with it."""
    if kind == "checkbox":
        return key in submitted
    text = submitted.get(key, "")
    if not text.strip() and kind not in ("text", "textarea", "any"):
        if _nullable(schema):
            return None
        if default is _MISSING:
            return _MISSING  # the check that follows says it is required
        raise ValueError("a value is needed")
    if kind == "select":
        if not text.isdigit() or int(text) >= len(schema["enum"]):
            raise ValueError("choose one of the listed values")
        return schema["enum"][int(text)]
    if kind == "number":
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{text!r} is not a number")
        return value
    if kind == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    if kind == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
    if kind == "any":
        if not text.strip():
            return "" if isinstance(default, str) else (_MISSING if default is _MISSING else None)
        if not isinstance(default, str):
            try:
                return json.loads(text)
            except ValueError:
                return text
    if not text and _nullable(schema):
        return None
    return text


def _options(schema: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    options = tuple(
        (str(i), choice if isinstance(choice, str) else json.dumps(choice)) for i, choice in enumerate(schema["enum"])
    )
    labels = schema.get("values_display") or {}
    options = tuple((value, str(labels.get(label, label))) for value, label in options)
    return ((("", "(none)"),) if _nullable(schema) else ()) + options


def _attributes(kind: str, schema: Mapping[str, Any]) -> dict[str, str]:
    attributes: dict[str, str] = {}
    if kind == "number":
        attributes["step"] = "1" if "integer" in _types(schema) else "any"
        for keyword, attribute in (("minimum", "min"), ("maximum", "max")):
            if isinstance(schema.get(keyword), (int, float)):
                attributes[attribute] = str(schema[keyword])
    if kind in ("text", "textarea"):
        for keyword, attribute in (("minLength", "minlength"), ("maxLength", "maxlength")):
            if isinstance(schema.get(keyword), int):
                attributes[attribute] = str(schema[keyword])
    return attributes
