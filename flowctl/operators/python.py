"""PythonOperator and its branching / short-circuit variants, plus the operators behind @task."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flowctl.baseoperator import BaseOperator
from flowctl.exceptions import DagDefinitionError


def context_arguments(function: Callable[..., Any], context: Mapping[str, Any], taken: Iterable[str]) -> dict:
    """The context entries `function` asks for by name (all of them if it takes **kwargs; none if its
    signature cannot be read, as for many builtins such as time.sleep)."""
    try:
        parameters = inspect.signature(function).parameters
    except (ValueError, TypeError):
        return {}
    taken = set(taken)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return {k: v for k, v in context.items() if k not in taken}
    return {name: context[name] for name in parameters if name in context and name not in taken}


class PythonOperator(BaseOperator):
    """Calls `python_callable(*op_args, **op_kwargs, **<context keys it names>)`; returns its result."""

    template_fields = ("templates_dict", "op_args", "op_kwargs")
    template_fields_renderers = {"templates_dict": "json", "op_args": "py", "op_kwargs": "py"}
    ui_color = "#ffefeb"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Iterable[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        templates_exts: Iterable[str] | None = None,
        show_return_value_in_logs: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(python_callable):
            raise DagDefinitionError(f"task {self.task_id!r}: python_callable must be callable")
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = templates_dict
        if templates_exts:
            self.template_ext = tuple(templates_exts)  # type: ignore[misc]
        self.show_return_value_in_logs = show_return_value_in_logs

    def execute(self, context: dict[str, Any]) -> Any:
        if self.templates_dict is not None:
            context = {**context, "templates_dict": self.templates_dict}
        kwargs = {**self.op_kwargs, **context_arguments(self.python_callable, context, self.op_kwargs)}
        result = self.python_callable(*self.op_args, **kwargs)
        if self.show_return_value_in_logs and result is not None:
            print(f"Returned value was: {result!r}")
        return result


def branch_targets(result: Any, task_id: str) -> list[str]:
    if result is None:
        return []
    if isinstance(result, str):
        return [result]
    if isinstance(result, Iterable) and all(isinstance(item, str) for item in result):
        return list(result)
    raise DagDefinitionError(f"branch task {task_id!r} must return a task_id, a list of task_ids or None")


class BranchPythonOperator(PythonOperator):
    """The callable returns the task_id(s) to follow; the other direct downstream tasks are skipped."""

    def execute(self, context: dict[str, Any]) -> Any:
        result = super().execute(context)
        context["ti"].follow_branches(branch_targets(result, self.task_id))
        return result


class ShortCircuitOperator(PythonOperator):
    """A falsy result skips everything downstream (honouring their trigger rules if asked to)."""

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def execute(self, context: dict[str, Any]) -> Any:
        result = super().execute(context)
        if not result:
            print("Condition is falsy: skipping downstream tasks")
            context["ti"].skip_downstream(respect_trigger_rules=not self.ignore_downstream_trigger_rules)
        return result


class _PythonDecoratedOperator(PythonOperator):
    """The operator behind `@task`: op_args/op_kwargs may hold other tasks' outputs."""

    custom_operator_name = "@task"


class _BranchDecoratedOperator(BranchPythonOperator):
    custom_operator_name = "@task.branch"


class _ShortCircuitDecoratedOperator(ShortCircuitOperator):
    custom_operator_name = "@task.short_circuit"
