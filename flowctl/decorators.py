"""`from flowctl.decorators import dag, task, task_group` (as `airflow.decorators`)."""

from flowctl.taskflow import dag, task
from flowctl.taskgroup import task_group

__all__ = ["dag", "task", "task_group"]
