"""XCom values as JSON text: plain JSON, plus datetimes, dates, timedeltas, tuples and sets, which
round-trip through small tagged objects (`{"__flowctl_type__": "datetime", "value": "..."}`).

Pure core.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from flowctl.exceptions import FlowctlError

TAG = "__flowctl_type__"


class XComValueError(FlowctlError):
    """A value that cannot be stored as an XCom (not serializable, or too large)."""


def _tagged(value: Any) -> Any:
    if isinstance(value, datetime):
        return {TAG: "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {TAG: "date", "value": value.isoformat()}
    if isinstance(value, timedelta):
        return {TAG: "timedelta", "value": value.total_seconds()}
    if isinstance(value, tuple):
        return {TAG: "tuple", "value": [_tagged(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {TAG: "set", "value": [_tagged(v) for v in sorted(value, key=repr)]}
    if isinstance(value, list):
        return [_tagged(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("dictionary keys must be strings")
        return {k: _tagged(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _untagged(value: Any) -> Any:
    if isinstance(value, list):
        return [_untagged(v) for v in value]
    if isinstance(value, dict):
        kind = value.get(TAG)
        if kind is None:
            return {k: _untagged(v) for k, v in value.items()}
        inner = value["value"]
        if kind == "datetime":
            import pendulum

            return pendulum.parse(inner)
        if kind == "date":
            return date.fromisoformat(inner)
        if kind == "timedelta":
            return timedelta(seconds=inner)
        if kind == "tuple":
            return tuple(_untagged(v) for v in inner)
        if kind == "set":
            return {_untagged(v) for v in inner}
    return value


def encode_xcom(value: Any, *, task_id: str, key: str, max_size: int) -> bytes:
    """The stored form of an XCom value; a message naming task, key and reason when it cannot be stored."""
    try:
        text = json.dumps(_tagged(value), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise XComValueError(f"XCom {key!r} of task {task_id!r} cannot be stored as JSON: {exc}") from None
    data = text.encode()
    if len(data) > max_size:
        raise XComValueError(
            f"XCom {key!r} of task {task_id!r} is {len(data)} bytes, over core.max_xcom_size ({max_size} bytes)"
        )
    return data


def decode_xcom(data: bytes | str) -> Any:
    return _untagged(json.loads(data))
