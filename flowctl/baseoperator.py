"""BaseOperator: what every task is; default_args, argument checking, and the `>>` dependency algebra.

Pure core: operators describe work; running them (processes, logs, state) is the executors' job.
"""

from __future__ import annotations

import functools
import inspect
import itertools
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from flowctl.dag_definition import DAG, current_dag, validate_id
from flowctl.exceptions import DagDefinitionError
from flowctl.params import Param, normalize_params
from flowctl.taskgroup import TaskGroup, current_task_group

if TYPE_CHECKING:
    from flowctl.taskflow import XComArg

DEFAULT_OWNER = "flowctl"
DEFAULT_POOL = "default_pool"
DEFAULT_QUEUE = "default"
DEFAULT_RETRY_DELAY = timedelta(minutes=5)


class TriggerRule(StrEnum):
    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_SKIPPED = "all_skipped"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"


class WeightRule(StrEnum):
    DOWNSTREAM = "downstream"
    UPSTREAM = "upstream"
    ABSOLUTE = "absolute"


# Arguments of Airflow-era DAG files that have no meaning here; accepted so such files still load.
IGNORED_LEGACY_ARGUMENTS = frozenset({"provide_context", "sla", "executor_config", "run_as_user"})


def _apply_default_args(init: Callable[..., None]) -> Callable[..., None]:
    """Wrap an operator's __init__: merge the DAG's and the call's default_args into the arguments
    the operator accepts (only at the outermost __init__ of a subclass chain)."""

    @functools.wraps(init)
    def wrapper(self: BaseOperator, *args: Any, **kwargs: Any) -> None:
        if getattr(self, "_defaults_applied", False):
            init(self, *args, **kwargs)
            return
        object.__setattr__(self, "_defaults_applied", True)
        dag = kwargs.get("dag") or current_dag()
        default_args = {**(dag.default_args if dag else {}), **(kwargs.pop("default_args", None) or {})}
        accepted = type(self).accepted_arguments()
        for name, value in default_args.items():
            if name in accepted and name not in kwargs:
                kwargs[name] = value
        init(self, *args, **kwargs)

    return wrapper


class BaseOperator:
    """A task: `execute(context)` does the work; its return value becomes the `return_value` XCom."""

    template_fields: ClassVar[Sequence[str]] = ()
    template_ext: ClassVar[Sequence[str]] = ()
    template_fields_renderers: ClassVar[dict[str, str]] = {}
    ui_color: ClassVar[str] = "#fff"
    is_sensor: ClassVar[bool] = False
    _accepted: ClassVar[frozenset[str] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _apply_default_args(cls.__dict__["__init__"])  # type: ignore[method-assign]
        cls._accepted = None

    @classmethod
    def accepted_arguments(cls) -> frozenset[str]:
        """Every keyword some __init__ in the class chain names: where default_args may go."""
        if cls.__dict__.get("_accepted") is None:
            names: set[str] = set()
            for klass in cls.__mro__:
                init = klass.__dict__.get("__init__")
                if init is not None and klass is not object:
                    names.update(inspect.signature(inspect.unwrap(init)).parameters)
            cls._accepted = frozenset(names - {"self", "args", "kwargs"})
        return cls._accepted  # type: ignore[return-value]

    def __init__(
        self,
        *,
        task_id: str,
        owner: str = DEFAULT_OWNER,
        email: str | Iterable[str] | None = None,
        email_on_retry: bool = True,
        email_on_failure: bool = True,
        email_on_success: bool = False,
        retries: int | None = 0,
        retry_delay: timedelta | float = DEFAULT_RETRY_DELAY,
        retry_exponential_backoff: bool = False,
        max_retry_delay: timedelta | float | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        depends_on_past: bool = False,
        wait_for_downstream: bool = False,
        dag: DAG | None = None,
        params: dict[str, Any] | None = None,
        default_args: dict[str, Any] | None = None,
        priority_weight: int = 1,
        weight_rule: str = WeightRule.DOWNSTREAM,
        queue: str = DEFAULT_QUEUE,
        pool: str | None = None,
        pool_slots: int = 1,
        execution_timeout: timedelta | float | None = None,
        on_execute_callback: Callable[..., Any] | None = None,
        on_failure_callback: Callable[..., Any] | None = None,
        on_success_callback: Callable[..., Any] | None = None,
        on_retry_callback: Callable[..., Any] | None = None,
        trigger_rule: str = TriggerRule.ALL_SUCCESS,
        do_xcom_push: bool = True,
        doc_md: str | None = None,
        doc: str | None = None,
        max_active_tis_per_dag: int | None = None,
        task_group: TaskGroup | None = None,
        multiple_outputs: bool = False,
        **kwargs: Any,
    ) -> None:
        unknown = sorted(set(kwargs) - IGNORED_LEGACY_ARGUMENTS)
        if unknown:
            raise DagDefinitionError(
                f"Invalid arguments were passed to {type(self).__name__} (task_id: {task_id}): " + ", ".join(unknown)
            )
        validate_id("task_id", task_id)
        self.dag: DAG | None = None
        self.task_group = task_group or current_task_group(dag or current_dag())
        prefix = self.task_group.child_prefix if self.task_group else ""
        self.task_id = prefix + task_id
        self.owner = owner
        self.email = [email] if isinstance(email, str) else list(email or [])
        self.email_on_retry = email_on_retry
        self.email_on_failure = email_on_failure
        self.email_on_success = email_on_success
        self.retries = int(retries or 0)
        delay = _as_timedelta(retry_delay)
        self.retry_delay = DEFAULT_RETRY_DELAY if delay is None else delay  # timedelta(0): retry at once
        self.retry_exponential_backoff = retry_exponential_backoff
        self.max_retry_delay = _as_timedelta(max_retry_delay)
        self.start_date = start_date
        self.end_date = end_date
        self.wait_for_downstream = wait_for_downstream
        self.depends_on_past = depends_on_past or wait_for_downstream
        self.priority_weight = priority_weight
        self.weight_rule = _enum_value(WeightRule, weight_rule, "weight_rule", self.task_id)
        self.queue = queue
        self.pool = pool or DEFAULT_POOL
        self.pool_slots = pool_slots
        self.execution_timeout = _as_timedelta(execution_timeout)
        self.on_execute_callback = on_execute_callback
        self.on_failure_callback = on_failure_callback
        self.on_success_callback = on_success_callback
        self.on_retry_callback = on_retry_callback
        self.trigger_rule = _enum_value(TriggerRule, trigger_rule, "trigger_rule", self.task_id)
        self.do_xcom_push = do_xcom_push
        self.doc_md = doc_md or doc
        self.max_active_tis_per_dag = max_active_tis_per_dag
        self.multiple_outputs = multiple_outputs
        self.params: dict[str, Param] = normalize_params(params or {})
        self.upstream_task_ids: set[str] = set()
        self.downstream_task_ids: set[str] = set()
        self.is_mapped = False
        self.expand_input: dict[str, Any] = {}
        target = dag or current_dag()
        if target is not None:
            self._attach(target)

    def _attach(self, dag: DAG) -> None:
        self.dag = dag
        self.params = {**dag.params, **self.params}
        dag.add_task(self)
        if self.task_group is None or self.task_group.dag is not dag:
            self.task_group = dag.task_group
        self.task_group.add_child(self.task_id, self)

    def __repr__(self) -> str:
        return f"<Task({type(self).__name__}): {self.task_id}>"

    def validate(self) -> None:
        """Checks that need the finished DAG (called by DAG.validate)."""
        if self.pool_slots < 1:
            raise DagDefinitionError(f"task {self.task_id!r}: pool_slots must be at least 1")
        if self.retries < 0:
            raise DagDefinitionError(f"task {self.task_id!r}: retries must not be negative")

    def execute(self, context: dict[str, Any]) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement execute(context)")

    @property
    def operator_name(self) -> str:
        return type(self).__name__

    @property
    def output(self) -> XComArg:
        """This task's return value, for passing to another task (creates the dependency)."""
        from flowctl.taskflow import XComArg

        return XComArg(self)

    # dependencies

    @staticmethod
    def _tasks_of(other: Any, *, group_edge: str) -> list[BaseOperator]:
        """The tasks an operand of >> stands for; a TaskGroup stands for its `roots` or `leaves`."""
        from flowctl.taskflow import Label, XComArg

        tasks: list[BaseOperator] = []
        for item in _as_list(other):
            if isinstance(item, XComArg):
                tasks.append(item.operator)
            elif isinstance(item, BaseOperator):
                tasks.append(item)
            elif isinstance(item, TaskGroup):
                tasks.extend(getattr(item, group_edge)())
            elif not isinstance(item, Label):
                raise DagDefinitionError(f"cannot set a dependency on {item!r}: not a task")
        return tasks

    @staticmethod
    def _relate(upstream: BaseOperator, downstream: BaseOperator) -> None:
        dag = upstream.dag or downstream.dag
        if dag is None:
            raise DagDefinitionError(f"tasks {upstream.task_id!r} and {downstream.task_id!r} belong to no DAG")
        for task in (upstream, downstream):
            if task.dag is None:
                task._attach(dag)
        if upstream.dag is not downstream.dag:
            raise DagDefinitionError(f"tasks {upstream.task_id!r} and {downstream.task_id!r} are in different DAGs")
        upstream.downstream_task_ids.add(downstream.task_id)
        downstream.upstream_task_ids.add(upstream.task_id)

    def set_downstream(self, other: Any) -> None:
        for task in self._tasks_of(other, group_edge="roots"):
            self._relate(self, task)

    def set_upstream(self, other: Any) -> None:
        for task in self._tasks_of(other, group_edge="leaves"):
            self._relate(task, self)

    def __rshift__(self, other: Any) -> Any:
        from flowctl.taskflow import Label

        if isinstance(other, Label):
            return other.bind_upstream(self)
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Any) -> BaseOperator:
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> BaseOperator:
        self.set_downstream(other)
        return self

    # dynamic task mapping

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        from flowctl.taskflow import PartialOperator

        return PartialOperator(cls, kwargs)


# Subclasses get the wrapper from __init_subclass__; BaseOperator itself (used by subclasses with no
# __init__ of their own, like EmptyOperator) gets it here.
BaseOperator.__init__ = _apply_default_args(BaseOperator.__init__)  # type: ignore[method-assign]


def chain(*tasks: Any) -> None:
    """`chain(a, [b, c], d)`: a >> [b, c] >> d; two adjacent lists of equal length pair up one by one."""
    for upstream, downstream in itertools.pairwise(tasks):
        if isinstance(upstream, (list, tuple)) and isinstance(downstream, (list, tuple)):
            if len(upstream) != len(downstream):
                raise DagDefinitionError(
                    f"chain: adjacent lists must have the same length ({len(upstream)} != {len(downstream)})"
                )
            for up, down in zip(upstream, downstream, strict=True):
                up >> down
        elif isinstance(upstream, (list, tuple)):
            for up in upstream:
                up >> downstream
        else:
            upstream >> downstream


def cross_downstream(from_tasks: Sequence[Any], to_tasks: Sequence[Any]) -> None:
    """Every task of `from_tasks` upstream of every task of `to_tasks`."""
    for task in from_tasks:
        task >> list(to_tasks)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def _as_timedelta(value: timedelta | float | None) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    return timedelta(seconds=float(value))


def _enum_value(enum: type[StrEnum], value: str, argument: str, task_id: str) -> str:
    try:
        return enum(value).value
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise DagDefinitionError(f"task {task_id!r}: {argument} {value!r} is not one of {allowed}") from None
