"""TaskFlow: `@dag`, `@task` (and its branch / short_circuit / sensor / bash variants), XComArg,
edge labels, and dynamic task mapping (`.partial()` / `.expand()`).

Pure core.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from flowctl.baseoperator import BaseOperator
from flowctl.dag_definition import DAG, current_dag
from flowctl.exceptions import DagDefinitionError

RETURN_VALUE = "return_value"


class XComArg:
    """A task's XCom (its return value by default) used as another task's argument: the dependency
    is made when it is passed, the value is pulled when the consuming task runs."""

    def __init__(self, operator: BaseOperator, key: str = RETURN_VALUE) -> None:
        self.operator = operator
        self.key = key

    def __repr__(self) -> str:
        return f"XComArg({self.operator.task_id!r}, key={self.key!r})"

    def __getitem__(self, key: str) -> XComArg:
        return XComArg(self.operator, key)

    def __rshift__(self, other: Any) -> Any:
        return self.operator >> other

    def __lshift__(self, other: Any) -> Any:
        return self.operator << other

    def __rrshift__(self, other: Any) -> XComArg:
        self.operator.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> XComArg:
        self.operator.set_downstream(other)
        return self

    def resolve(self, context: Mapping[str, Any]) -> Any:
        return context["ti"].xcom_pull(task_ids=self.operator.task_id, key=self.key)

    def to_dict(self) -> dict[str, str]:
        return {"task_id": self.operator.task_id, "key": self.key}


class Label:
    """An edge label: `a >> Label("on failure") >> b`."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._upstreams: list[BaseOperator] = []

    def bind_upstream(self, upstream: Any) -> Label:
        self._upstreams = BaseOperator._tasks_of(upstream, group_edge="leaves")
        return self

    def __rrshift__(self, other: Any) -> Label:
        return self.bind_upstream(other)

    def __rshift__(self, other: Any) -> Any:
        for upstream in self._upstreams:
            for downstream in BaseOperator._tasks_of(other, group_edge="roots"):
                BaseOperator._relate(upstream, downstream)
                assert upstream.dag is not None
                upstream.dag.edge_labels[(upstream.task_id, downstream.task_id)] = self.label
        return other


def find_xcom_args(value: Any) -> list[XComArg]:
    """XComArgs inside an argument (nested in lists, tuples and dicts)."""
    if isinstance(value, XComArg):
        return [value]
    if isinstance(value, (list, tuple, set)):
        return [arg for item in value for arg in find_xcom_args(item)]
    if isinstance(value, dict):
        return [arg for item in value.values() for arg in find_xcom_args(item)]
    return []


def link_xcom_args(task: BaseOperator, *values: Any) -> None:
    """Make `task` downstream of every task whose XCom it takes as an argument."""
    for arg in find_xcom_args(list(values)):
        task.set_upstream(arg.operator)


# dynamic task mapping


class MappedOperator(BaseOperator):
    """A task that becomes one task instance per element of its `expand` input at run time."""

    def __init__(
        self,
        *,
        operator_class: type[BaseOperator],
        partial_kwargs: dict[str, Any],
        expand_input: dict[str, Any],
        expand_into: str | None = None,
        **kwargs: Any,
    ) -> None:
        base_arguments = BaseOperator.accepted_arguments()
        scheduling = {k: v for k, v in partial_kwargs.items() if k in base_arguments and k != "default_args"}
        super().__init__(**{**kwargs, **scheduling})  # partial() arguments beat default_args
        self.operator_class = operator_class
        self.partial_kwargs = partial_kwargs
        self.expand_input = expand_input
        self.expand_into = expand_into
        self.is_mapped = True
        self.template_fields = operator_class.template_fields  # type: ignore[misc]
        self.template_ext = operator_class.template_ext  # type: ignore[misc]
        self.is_sensor = operator_class.is_sensor  # type: ignore[misc]
        link_xcom_args(self, expand_input, partial_kwargs)

    @property
    def operator_name(self) -> str:
        return getattr(self.operator_class, "custom_operator_name", None) or self.operator_class.__name__

    def unmap(self, values: Mapping[str, Any]) -> BaseOperator:
        """The concrete operator for one map index, given that index's expand values (outside any DAG)."""
        kwargs = {k: v for k, v in self.partial_kwargs.items() if k not in ("dag", "task_group", "default_args")}
        if self.expand_into:
            kwargs[self.expand_into] = {**kwargs.get(self.expand_into, {}), **values}
        else:
            kwargs.update(values)
        kwargs["task_id"] = self.task_id
        operator = self.operator_class(**kwargs)
        operator.dag = self.dag
        operator.upstream_task_ids = set(self.upstream_task_ids)
        operator.downstream_task_ids = set(self.downstream_task_ids)
        operator.params = self.params
        return operator

    def execute(self, context: dict[str, Any]) -> Any:
        raise DagDefinitionError(f"mapped task {self.task_id!r} runs only through its map indexes")


class PartialOperator:
    """`Operator.partial(**fixed)`: waits for `.expand(**mapped)` to make the MappedOperator."""

    def __init__(
        self, operator_class: type[BaseOperator], kwargs: dict[str, Any], expand_into: str | None = None
    ) -> None:
        if "task_id" not in kwargs:
            raise DagDefinitionError(f"{operator_class.__name__}.partial() needs a task_id")
        self.operator_class = operator_class
        self.kwargs = kwargs
        self.expand_into = expand_into

    def expand(self, **expand_input: Any) -> Any:
        task_id = self.kwargs["task_id"]
        if not expand_input:
            raise DagDefinitionError(f"task {task_id!r}: expand() needs at least one argument")
        for name, value in expand_input.items():
            if not isinstance(value, (list, tuple, dict, XComArg)):
                raise DagDefinitionError(
                    f"task {task_id!r}: expand({name}=...) needs a list, a dict or a task's output, "
                    f"not {type(value).__name__}"
                )
        accepted = self.operator_class.accepted_arguments()
        if self.expand_into is not None:
            fixed = self.kwargs.get(self.expand_into, {})
            _check_call(self.kwargs["python_callable"], (), {**fixed, **expand_input}, partial=True)
        else:
            unknown = sorted(set(expand_input) - accepted)
            if unknown:
                raise DagDefinitionError(
                    f"Invalid arguments were passed to {self.operator_class.__name__} (task_id: {task_id}): "
                    + ", ".join(unknown)
                )
        dag = self.kwargs.get("dag") or current_dag()
        partial_kwargs = dict(self.kwargs)
        for name, value in (dag.default_args if dag else {}).items():
            if name in accepted:
                partial_kwargs.setdefault(name, value)
        mapped = MappedOperator(
            operator_class=self.operator_class,
            partial_kwargs=partial_kwargs,
            expand_input={k: list(v) if isinstance(v, tuple) else v for k, v in expand_input.items()},
            expand_into=self.expand_into,
        )
        return XComArg(mapped) if self.expand_into else mapped


# @task


class _TaskDecorator:
    """What `@task` returns: calling it inside a DAG adds a task and gives back its XComArg."""

    def __init__(self, function: Callable[..., Any], operator_class: type[BaseOperator], kwargs: dict[str, Any]):
        self.function = function
        self.operator_class = operator_class
        self.kwargs = kwargs
        functools.update_wrapper(self, function)

    def _task_id(self) -> str:
        base = self.kwargs.get("task_id") or self.function.__name__
        dag = self.kwargs.get("dag") or current_dag()
        if dag is None:
            return base
        from flowctl.taskgroup import current_task_group

        group = current_task_group(dag)
        prefix = group.child_prefix if group else ""
        task_id, number = base, 0
        while dag.has_task(prefix + task_id):
            number += 1
            task_id = f"{base}__{number}"
        return task_id

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg:
        _check_call(self.function, args, kwargs)
        operator = self.operator_class(
            **{**self.kwargs, "task_id": self._task_id()},
            python_callable=self.function,
            op_args=list(args),
            op_kwargs=kwargs,
        )
        link_xcom_args(operator, args, kwargs)
        return XComArg(operator)

    def partial(self, **kwargs: Any) -> PartialOperator:
        _check_call(self.function, (), kwargs, partial=True)
        fixed = {
            **self.kwargs,
            "task_id": self._task_id(),
            "python_callable": self.function,
            "op_kwargs": kwargs,
        }
        return PartialOperator(self.operator_class, fixed, expand_into="op_kwargs")

    def expand(self, **expand_input: Any) -> XComArg:
        return self.partial().expand(**expand_input)

    def override(self, **kwargs: Any) -> _TaskDecorator:
        return _TaskDecorator(self.function, self.operator_class, {**self.kwargs, **kwargs})


def _check_call(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], partial: bool = False
) -> None:
    try:
        signature = inspect.signature(function)
        signature.bind_partial(*args, **kwargs) if partial else signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise DagDefinitionError(f"task {function.__name__!r}: {exc}") from None


def _decorator_for(operator_path: str) -> Callable[..., Any]:
    def decorator(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
        module_name, class_name = operator_path.rsplit(".", 1)
        operator_class = getattr(__import__(module_name, fromlist=[class_name]), class_name)

        def wrap(function: Callable[..., Any]) -> _TaskDecorator:
            return _TaskDecorator(function, operator_class, kwargs)

        return wrap(python_callable) if python_callable is not None else wrap

    return decorator


class _TaskNamespace:
    """`task` itself decorates like `task.python`; `task.branch`, `task.short_circuit`, `task.sensor`
    and `task.bash` pick other operators."""

    python = staticmethod(_decorator_for("flowctl.operators.python._PythonDecoratedOperator"))
    branch = staticmethod(_decorator_for("flowctl.operators.python._BranchDecoratedOperator"))
    short_circuit = staticmethod(_decorator_for("flowctl.operators.python._ShortCircuitDecoratedOperator"))
    sensor = staticmethod(_decorator_for("flowctl.sensors.python._DecoratedSensorOperator"))
    bash = staticmethod(_decorator_for("flowctl.operators.bash._BashDecoratedOperator"))

    def __call__(self, python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
        return self.python(python_callable, **kwargs)


task = _TaskNamespace()


# @dag


def dag(dag_id: str | None = None, **dag_kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., DAG]]:
    """`@dag(schedule=..., start_date=...)`: calling the function builds the DAG (named after it);
    the function's keyword defaults become the DAG's params."""

    def decorate(function: Callable[..., Any]) -> Callable[..., DAG]:
        @functools.wraps(function)
        def factory(*args: Any, **kwargs: Any) -> DAG:
            signature = inspect.signature(function)
            defaults = {
                name: parameter.default
                for name, parameter in signature.parameters.items()
                if parameter.default is not inspect.Parameter.empty
            }
            params = {**defaults, **dag_kwargs.get("params", {})}
            new_dag = DAG(
                dag_id or function.__name__,
                **{**dag_kwargs, "params": params, "doc_md": dag_kwargs.get("doc_md") or function.__doc__},
            )
            with new_dag:
                bound = {name: _ParamReference(name) for name in defaults}
                function(*args, **{**bound, **kwargs})
            return new_dag

        return factory

    if callable(dag_id):  # used bare: @dag
        function, dag_id = dag_id, None
        return decorate(function)  # type: ignore[return-value]
    return decorate


class _ParamReference(str):
    """A DAG function's parameter inside its body: renders as `{{ params.<name> }}` in templates."""

    def __new__(cls, name: str) -> _ParamReference:
        return super().__new__(cls, f"{{{{ params.{name} }}}}")
