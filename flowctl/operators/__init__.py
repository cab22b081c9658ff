"""Operators that DAG files import (EmptyOperator, PythonOperator, BashOperator, ...)."""

from flowctl.operators.bash import BashOperator
from flowctl.operators.empty import EmptyOperator
from flowctl.operators.latest_only import LatestOnlyOperator
from flowctl.operators.python import BranchPythonOperator, PythonOperator, ShortCircuitOperator

__all__ = [
    "BashOperator",
    "BranchPythonOperator",
    "EmptyOperator",
    "LatestOnlyOperator",
    "PythonOperator",
    "ShortCircuitOperator",
]
