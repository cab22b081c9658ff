"""flowctl: a single-node workflow scheduler. This module re-exports the public authoring names.

Names load on first use, so `flowctl version` and `flowctl --help` stay fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "DAG": "flowctl.dag_definition",
    "dag": "flowctl.taskflow",
    "task": "flowctl.taskflow",
    "Label": "flowctl.taskflow",
    "XComArg": "flowctl.taskflow",
    "task_group": "flowctl.taskgroup",
    "TaskGroup": "flowctl.taskgroup",
    "BaseOperator": "flowctl.baseoperator",
    "chain": "flowctl.baseoperator",
    "cross_downstream": "flowctl.baseoperator",
    "TriggerRule": "flowctl.baseoperator",
    "Param": "flowctl.params",
    "Variable": "flowctl.variable",
    "Connection": "flowctl.connection",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'flowctl' has no attribute {name!r}")
