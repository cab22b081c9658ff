"""Variable: read a flowctl variable from a DAG file or a task (`Variable.get("key")`).

Pure core: `FLOWCTL_VAR_<KEY>` in the environment wins (as in Airflow); otherwise the value comes from
a source the running process installs (the task runtime installs one that reads the metadata DB).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from flowctl.exceptions import NotFound

_NOTSET: Any = object()
ENVIRONMENT_PREFIX = "FLOWCTL_VAR_"


class Variable:
    _source: Callable[[str], str | None] | None = None

    @classmethod
    def install_source(cls, source: Callable[[str], str | None] | None) -> None:
        """Where `get` looks instead of the environment alone; the source answers for the environment too
        (see from_environment), so it sees every value a task reads (and masks the sensitive ones)."""
        cls._source = source

    @classmethod
    def get(cls, key: str, default_var: Any = _NOTSET, deserialize_json: bool = False) -> Any:
        value = cls._source(key) if cls._source is not None else from_environment(key)
        if value is None:
            if default_var is _NOTSET:
                raise NotFound(f"variable {key!r} does not exist")
            return default_var
        return json.loads(value) if deserialize_json else value


def from_environment(key: str) -> str | None:
    """`FLOWCTL_VAR_<KEY>`, which wins over the metadata DB (as in Airflow)."""
    return os.environ.get(ENVIRONMENT_PREFIX + key.upper())
