"""Operators that DAG files import (EmptyOperator, PythonOperator, BashOperator, ...)."""

from flowctl.operators.bash import BashOperator
from flowctl.operators.email import EmailOperator
from flowctl.operators.empty import EmptyOperator
from flowctl.operators.latest_only import LatestOnlyOperator
from flowctl.operators.python import BranchPythonOperator, PythonOperator, ShortCircuitOperator
from flowctl.operators.trigger_dagrun import TriggerDagRunOperator

__all__ = [
    "BashOperator",
    "BranchPythonOperator",
    "EmailOperator",
    "EmptyOperator",
    "LatestOnlyOperator",
    "PythonOperator",
    "ShortCircuitOperator",
    "TriggerDagRunOperator",
]

from flowctl.operators.http import HttpOperator
from flowctl.operators.sql import SQLExecuteQueryOperator

__all__ += ["HttpOperator", "SQLExecuteQueryOperator"]
