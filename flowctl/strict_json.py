"""JSON that users send (run conf, variable values, connection extras, API bodies), held to the standard.

Python's `json` accepts `NaN`, `Infinity` and `-Infinity` (and turns `1e999` into infinity), which strict
JSON clients cannot read back once flowctl echoes the value; and it recurses once per nesting level, so a
deep enough document raises RecursionError instead of a clear error. Here both are refused with one
line naming what was wrong. Pure: imports nothing but flowctl.exceptions.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flowctl.exceptions import InvalidInput

MAX_NESTING = 100  # far beyond any real conf or extra

# A JSON string (skipped whole, so brackets inside it do not count) or one bracket.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def parse(text: str, *, what: str) -> Any:
    """The value `text` holds, if it is standard JSON nested at most MAX_NESTING levels; any problem is
    an InvalidInput naming `what`."""
    try:
        return loads(text, what=what)
    except ValueError as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc}") from None


def loads(text: str, *, what: str) -> Any:
    """`json.loads` for standard JSON: a syntax error is its ValueError (for callers with their own
    wording); NaN, Infinity, numbers beyond a float and nesting deeper than MAX_NESTING are an
    InvalidInput naming `what`."""
    if _nesting(text) > MAX_NESTING:
        raise InvalidInput(_too_deep(what))
    return json.loads(text, parse_constant=_refuse_constant(what), parse_float=_finite_float(what))


def check(value: Any, *, what: str) -> None:
    """Refuse an already-parsed value that standard JSON cannot carry (non-finite numbers, deep nesting)."""
    pending: list[tuple[Any, int]] = [(value, 0)]  # a loop, not recursion: the value may be arbitrarily deep
    while pending:
        item, depth = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidInput(_not_finite(what))
        if isinstance(item, dict | list | tuple):
            if depth >= MAX_NESTING:
                raise InvalidInput(_too_deep(what))
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)


def _nesting(text: str) -> int:
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def _refuse_constant(what: str) -> Any:
    def refuse(name: str) -> Any:
        raise InvalidInput(_not_finite(what))

    return refuse


def _finite_float(what: str) -> Any:
    def to_float(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise InvalidInput(f"{what} holds the number {text}, too large for JSON")
        return value

    return to_float


def _not_finite(what: str) -> str:
    return f"{what} holds NaN, Infinity or -Infinity, which JSON does not allow (use null or a string)"


def _too_deep(what: str) -> str:
    return f"{what} is nested more than {MAX_NESTING} levels deep"
