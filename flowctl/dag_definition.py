"""DAG: a named set of tasks and their dependencies, with its schedule and run-level settings.

Pure core: no DB, no processes, no clock reads, no config reads. Settings that default from the
configuration (catchup, max_active_*, the timezone of naive dates) are filled in by the DAG processor
through `apply_defaults`, so a DAG file imports the same way everywhere.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pendulum

from flowctl.exceptions import DagCycleError, DagDefinitionError, DuplicateTaskIdError

MAX_TAG_LENGTH = 100

if TYPE_CHECKING:
    from flowctl.baseoperator import BaseOperator
    from flowctl.params import Param
    from flowctl.taskgroup import TaskGroup

ID_PATTERN = re.compile(r"[A-Za-z0-9_.\-]+")
ID_MAX_LENGTH = 250
NOTSET: Any = object()


def validate_id(kind: str, value: object) -> str:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value) or len(value) > ID_MAX_LENGTH:
        raise DagDefinitionError(
            f"{kind} {value!r} is invalid: use only letters, digits, '_', '.', '-' (1-{ID_MAX_LENGTH} characters)"
        )
    return value


@dataclass(frozen=True, slots=True)
class DagDefaults:
    """Values a DAG takes from the configuration when its file does not set them."""

    catchup: bool = False
    max_active_runs: int = 16
    max_active_tasks: int = 16
    timezone: str = "UTC"
    is_paused_upon_creation: bool = True


class _Contexts:
    """The DAGs and task groups open in `with` blocks while a DAG file is imported (one per process)."""

    dags: list[DAG] = []
    groups: list[TaskGroup] = []
    # Every DAG created while a file is imported, when the DAG processor is collecting them.
    created: list[DAG] | None = None


def current_dag() -> DAG | None:
    return _Contexts.dags[-1] if _Contexts.dags else None


class DAG:
    """A workflow: tasks, the edges between them, and when and how its runs are made."""

    def __init__(
        self,
        dag_id: str,
        description: str | None = None,
        schedule: Any = NOTSET,
        schedule_interval: Any = NOTSET,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        catchup: bool | None = None,
        default_args: dict[str, Any] | None = None,
        max_active_runs: int | None = None,
        max_active_tasks: int | None = None,
        dagrun_timeout: timedelta | None = None,
        params: dict[str, Any] | None = None,
        tags: Iterable[str] | None = None,
        doc_md: str | None = None,
        owner_links: dict[str, str] | None = None,
        on_success_callback: Callable[..., Any] | None = None,
        on_failure_callback: Callable[..., Any] | None = None,
        template_searchpath: str | Iterable[str] | None = None,
        user_defined_macros: dict[str, Any] | None = None,
        user_defined_filters: dict[str, Callable[..., Any]] | None = None,
        render_template_as_native_obj: bool = False,
        is_paused_upon_creation: bool | None = None,
        concurrency: int | None = None,
    ) -> None:
        self.dag_id = validate_id("dag_id", dag_id)
        if schedule is not NOTSET and schedule_interval is not NOTSET:
            raise DagDefinitionError(f"DAG {dag_id!r}: give either schedule or schedule_interval, not both")
        self.schedule: Any = schedule if schedule is not NOTSET else schedule_interval
        if self.schedule is NOTSET:
            self.schedule = timedelta(days=1)  # Airflow 2's default schedule
        self.default_args = dict(default_args or {})
        self.start_date = start_date or self.default_args.get("start_date")
        self.end_date = end_date or self.default_args.get("end_date")
        self.catchup = catchup
        self.max_active_runs = max_active_runs
        self.max_active_tasks = max_active_tasks if max_active_tasks is not None else concurrency
        self.dagrun_timeout = dagrun_timeout
        self.description = description
        self.doc_md = doc_md
        self.tags = sorted({str(tag) for tag in tags or ()})
        for tag in self.tags:
            if len(tag) > MAX_TAG_LENGTH:  # as in Airflow; the metadata DB stores tags up to this length
                raise DagDefinitionError(
                    f"DAG {dag_id!r}: tag {tag[:20]!r}... is longer than {MAX_TAG_LENGTH} characters"
                )
        self.owner_links = dict(owner_links or {})
        self.on_success_callback = on_success_callback
        self.on_failure_callback = on_failure_callback
        searchpath = template_searchpath
        self.template_searchpath = [searchpath] if isinstance(searchpath, str) else list(searchpath or [])
        self.user_defined_macros = dict(user_defined_macros or {})
        self.user_defined_filters = dict(user_defined_filters or {})
        self.render_template_as_native_obj = render_template_as_native_obj
        self.is_paused_upon_creation = is_paused_upon_creation
        self.timezone: str | None = None
        self.fileloc = _caller_file()
        self.task_dict: dict[str, BaseOperator] = {}
        self.edge_labels: dict[tuple[str, str], str] = {}
        from flowctl.params import normalize_params
        from flowctl.taskgroup import TaskGroup

        self.params: dict[str, Param] = normalize_params({**self.default_args.get("params", {}), **(params or {})})
        self.task_group = TaskGroup.root(self)
        if _Contexts.created is not None:
            _Contexts.created.append(self)

    def __repr__(self) -> str:
        return f"<DAG {self.dag_id}: {len(self.task_dict)} tasks>"

    def __enter__(self) -> DAG:
        _Contexts.dags.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _Contexts.dags.pop()

    # tasks

    def add_task(self, task: BaseOperator) -> None:
        if task.task_id in self.task_dict and self.task_dict[task.task_id] is not task:
            raise DuplicateTaskIdError(f"DAG {self.dag_id!r} has two tasks with task_id {task.task_id!r}")
        self.task_dict[task.task_id] = task

    @property
    def tasks(self) -> list[BaseOperator]:
        return list(self.task_dict.values())

    @property
    def task_ids(self) -> list[str]:
        return list(self.task_dict)

    def get_task(self, task_id: str) -> BaseOperator:
        try:
            return self.task_dict[task_id]
        except KeyError:
            raise DagDefinitionError(f"DAG {self.dag_id!r} has no task {task_id!r}") from None

    def has_task(self, task_id: str) -> bool:
        return task_id in self.task_dict

    @property
    def roots(self) -> list[BaseOperator]:
        return [t for t in self.tasks if not t.upstream_task_ids]

    @property
    def leaves(self) -> list[BaseOperator]:
        return [t for t in self.tasks if not t.downstream_task_ids]

    def topological_order(self) -> list[BaseOperator]:
        """Tasks with every task after all of its upstreams; raises DagCycleError naming one cycle."""
        order = topological_order(self.dag_id, {t.task_id: t.upstream_task_ids for t in self.tasks})
        return [self.task_dict[task_id] for task_id in order]

    # settings

    @property
    def owner(self) -> str:
        return ", ".join(sorted({t.owner for t in self.tasks})) if self.tasks else ""

    def apply_defaults(self, defaults: DagDefaults) -> None:
        """Fill what the DAG file left unset from the configuration, and give naive dates a timezone."""
        if self.catchup is None:
            self.catchup = defaults.catchup
        if self.max_active_runs is None:
            self.max_active_runs = defaults.max_active_runs
        if self.max_active_tasks is None:
            self.max_active_tasks = defaults.max_active_tasks
        if self.is_paused_upon_creation is None:
            self.is_paused_upon_creation = defaults.is_paused_upon_creation
        self.timezone = _timezone_of(self.start_date) or defaults.timezone
        self.start_date = localize(self.start_date, self.timezone)
        self.end_date = localize(self.end_date, self.timezone)
        for task in self.tasks:
            task.start_date = localize(task.start_date, self.timezone)
            task.end_date = localize(task.end_date, self.timezone)

    def validate(self) -> None:
        """Everything an import error should name: ids, dependency cycles, the schedule, params."""
        from flowctl.schedule import timetable_for

        for task in self.tasks:
            validate_id("task_id", task.task_id)
            task.validate()
        self.topological_order()
        timetable_for(self.schedule, timezone=self.timezone or "UTC")
        for name, param in self.params.items():
            param.validate_default(name)

    def test(
        self,
        execution_date: datetime | None = None,
        run_conf: dict[str, Any] | None = None,
        conn_file_path: str | None = None,
        variable_file_path: str | None = None,
        use_executor: bool = False,
        mark_success_pattern: str | None = None,
        *,
        logical_date: datetime | None = None,
    ) -> Any:
        """Run this DAG once in this process, as Airflow 2.5+'s `dag.test()`, and return the run
        (`flowctl.testing.RunResult`: state, task states, XComs, logs). It is recorded in a throwaway
        SQLite DB, never in your metadata DB; see flowctl.testing."""
        from flowctl.testing import dag_test  # the DB and the runner load only here: this module stays pure

        return dag_test(
            self,
            execution_date,
            run_conf,
            conn_file_path,
            variable_file_path,
            use_executor,
            mark_success_pattern,
            logical_date=logical_date,
        )

    def iter_dependencies(self) -> Iterator[tuple[str, str]]:
        for task in self.tasks:
            for downstream in sorted(task.downstream_task_ids):
                yield task.task_id, downstream


def topological_order(dag_id: str, upstreams: dict[str, set[str]]) -> list[str]:
    """Kahn's order over task ids, stable by definition order; a cycle raises naming its path."""
    remaining = {task: set(ups) for task, ups in upstreams.items()}
    order: list[str] = []
    ready = [task for task, ups in remaining.items() if not ups]
    while ready:
        task = ready.pop(0)
        order.append(task)
        del remaining[task]
        for other, ups in remaining.items():
            if task in ups:
                ups.discard(task)
                if not ups and other not in ready:
                    ready.append(other)
    if remaining:
        raise DagCycleError(f"DAG {dag_id!r} has a cycle: {' -> '.join(_find_cycle(remaining))}")
    return order


def _find_cycle(remaining: dict[str, set[str]]) -> list[str]:
    """Walk upstream edges among the tasks Kahn's order could not place until a task repeats."""
    path: list[str] = []
    task = next(iter(remaining))
    while task not in path:
        path.append(task)
        task = sorted(remaining[task])[0]
    cycle = [*path[path.index(task) :], task]
    return list(reversed(cycle))  # upstream walk reversed reads in dependency direction


def _timezone_of(value: datetime | None) -> str | None:
    if value is None or value.tzinfo is None:
        return None
    name = getattr(value.tzinfo, "name", None) or getattr(value.tzinfo, "key", None)
    if name:
        return str(name)
    offset = value.utcoffset()
    return "UTC" if offset == timedelta(0) else pendulum.fixed_timezone(int(offset.total_seconds())).name


def localize(value: datetime | None, timezone: str) -> datetime | None:
    """A naive datetime read as wall time in `timezone`; aware ones are kept (as pendulum)."""
    if value is None:
        return None
    if value.tzinfo is None:
        from flowctl.cron import zone_named  # the DAG's zone may be a fixed offset such as "+09:00"

        return pendulum.instance(value, tz=zone_named(timezone))
    return pendulum.instance(value)


def _caller_file() -> str:
    """The file that defines the DAG: the first frame outside flowctl's own package."""
    frame = sys._getframe(1)
    package_dir = __file__.rsplit("/", 1)[0]
    while frame is not None and frame.f_code.co_filename.startswith(package_dir):
        frame = frame.f_back  # type: ignore[assignment]
    return frame.f_code.co_filename if frame is not None else "<unknown>"
