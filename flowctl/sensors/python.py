"""PythonSensor: done when a callable returns something truthy; also the operator behind @task.sensor."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flowctl.operators.python import context_arguments
from flowctl.sensors.base import BaseSensorOperator, PokeReturnValue


class PythonSensor(BaseSensorOperator):
    template_fields = ("templates_dict", "op_args", "op_kwargs")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Iterable[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = templates_dict

    def poke(self, context: dict[str, Any]) -> bool | PokeReturnValue:
        if self.templates_dict is not None:
            context = {**context, "templates_dict": self.templates_dict}
        kwargs = {**self.op_kwargs, **context_arguments(self.python_callable, context, self.op_kwargs)}
        result = self.python_callable(*self.op_args, **kwargs)
        return result if isinstance(result, PokeReturnValue) else bool(result)


class _DecoratedSensorOperator(PythonSensor):
    custom_operator_name = "@task.sensor"
