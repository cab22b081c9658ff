"""Param: a DAG or task parameter with a JSON-schema, and the validation of trigger conf against them.

Pure core; jsonschema does the checking.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from flowctl.exceptions import ParamValidationError

_NOTSET: Any = object()


class Param:
    """`Param(default, type="integer", minimum=1, description="...")`: keywords are JSON-schema keywords."""

    def __init__(self, default: Any = _NOTSET, description: str | None = None, **schema: Any) -> None:
        self.default = default
        self.description = description
        self.schema = schema

    def __repr__(self) -> str:
        return f"Param({self.default!r}, schema={self.schema!r})"

    @property
    def has_default(self) -> bool:
        return self.default is not _NOTSET

    def resolve(self, value: Any = _NOTSET, *, name: str = "") -> Any:
        """The value to use (given or default), checked against the schema."""
        import jsonschema

        value = self.default if value is _NOTSET else value
        if value is _NOTSET:
            raise ParamValidationError(f"param {name!r} is required and has no default")
        try:
            jsonschema.validate(value, self.schema, format_checker=jsonschema.FormatChecker())
        except jsonschema.ValidationError as exc:
            raise ParamValidationError(f"param {name!r}: {exc.message}") from None
        except jsonschema.SchemaError as exc:
            raise ParamValidationError(f"param {name!r} has an invalid schema: {exc.message}") from None
        return copy.deepcopy(value)

    def validate_default(self, name: str = "") -> None:
        """Check the schema itself, and the default when there is one (done at parse time)."""
        import jsonschema

        try:
            jsonschema.validators.validator_for(self.schema).check_schema(self.schema)
        except jsonschema.SchemaError as exc:
            raise ParamValidationError(f"param {name!r} has an invalid schema: {exc.message}") from None
        if self.has_default and self.default is not None:
            self.resolve(name=name)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"schema": self.schema, "description": self.description}
        if self.has_default:
            data["default"] = self.default
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Param:
        return cls(data.get("default", _NOTSET), data.get("description"), **data.get("schema", {}))


def normalize_params(params: Mapping[str, Any]) -> dict[str, Param]:
    """Plain values become Params with that default and no schema."""
    return {name: value if isinstance(value, Param) else Param(value) for name, value in params.items()}


def resolve_params(params: Mapping[str, Param], conf: Mapping[str, Any] | None) -> dict[str, Any]:
    """Trigger conf merged over the defaults and every value validated; the first problem is raised."""
    conf = dict(conf or {})
    resolved = {name: param.resolve(conf.pop(name, _NOTSET), name=name) for name, param in params.items()}
    resolved.update(conf)  # conf keys without a Param pass through, as in Airflow
    return resolved
