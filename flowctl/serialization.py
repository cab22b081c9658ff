"""A DAG as versioned JSON, and the read model (DagSpec / TaskSpec) the scheduler and webserver use.

The JSON holds everything needed to schedule, plan and draw a DAG without importing its file. Pure core.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pendulum

from flowctl.exceptions import FlowctlError

if TYPE_CHECKING:
    from flowctl.baseoperator import BaseOperator
    from flowctl.dag_definition import DAG
    from flowctl.schedule import DataInterval, Timetable

SERIALIZATION_VERSION = 1


class SerializationError(FlowctlError):
    """Serialized DAG data of an unknown version or shape."""


def serialize_dag(dag: DAG) -> dict[str, Any]:
    """The JSON form of a DAG whose defaults are applied (DAG.apply_defaults) and that validated."""
    from flowctl.schedule import timetable_for

    timetable = timetable_for(dag.schedule, timezone=dag.timezone or "UTC")
    return {
        "version": SERIALIZATION_VERSION,
        "dag_id": dag.dag_id,
        "fileloc": dag.fileloc,
        "schedule": timetable.summary,
        "timetable": timetable.to_dict(),
        "timezone": dag.timezone,
        "start_date": _iso(dag.start_date),
        "end_date": _iso(dag.end_date),
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "max_active_tasks": dag.max_active_tasks,
        "dagrun_timeout": _seconds(dag.dagrun_timeout),
        "params": {name: _jsonable(param.to_dict()) for name, param in dag.params.items()},
        "tags": list(dag.tags),
        "owners": sorted({task.owner for task in dag.tasks}),
        "owner_links": dag.owner_links,
        "description": dag.description,
        "doc_md": dag.doc_md,
        "is_paused_upon_creation": dag.is_paused_upon_creation,
        "render_template_as_native_obj": dag.render_template_as_native_obj,
        "template_searchpath": list(dag.template_searchpath),
        "has_on_success_callback": dag.on_success_callback is not None,
        "has_on_failure_callback": dag.on_failure_callback is not None,
        "edge_labels": [[up, down, label] for (up, down), label in sorted(dag.edge_labels.items())],
        "task_group": dag.task_group.to_dict(),
        "tasks": [_serialize_task(task) for task in dag.topological_order()],
    }


def _serialize_task(task: BaseOperator) -> dict[str, Any]:
    data: dict[str, Any] = {
        "task_id": task.task_id,
        "operator": getattr(task, "custom_operator_name", None) or task.operator_name,
        "upstream": sorted(task.upstream_task_ids),
        "downstream": sorted(task.downstream_task_ids),
        "trigger_rule": task.trigger_rule,
        "retries": task.retries,
        "retry_delay": _seconds(task.retry_delay),
        "retry_exponential_backoff": task.retry_exponential_backoff,
        "max_retry_delay": _seconds(task.max_retry_delay),
        "execution_timeout": _seconds(task.execution_timeout),
        "depends_on_past": task.depends_on_past,
        "wait_for_downstream": task.wait_for_downstream,
        "pool": task.pool,
        "pool_slots": task.pool_slots,
        "priority_weight": task.priority_weight,
        "weight_rule": task.weight_rule,
        "queue": task.queue,
        "owner": task.owner,
        "email": list(task.email),
        "email_on_failure": task.email_on_failure,
        "email_on_retry": task.email_on_retry,
        "email_on_success": task.email_on_success,
        "start_date": _iso(task.start_date),
        "end_date": _iso(task.end_date),
        "doc_md": task.doc_md,
        "max_active_tis_per_dag": task.max_active_tis_per_dag,
        "do_xcom_push": task.do_xcom_push,
        "multiple_outputs": task.multiple_outputs,
        "template_fields": list(task.template_fields),
        "template_sources": {name: _source_text(getattr(task, name, None)) for name in task.template_fields},
        "is_mapped": task.is_mapped,
        "expand_input": _jsonable(task.expand_input) if task.is_mapped else None,
        "is_sensor": task.is_sensor,
        "ui_color": task.ui_color,
        "callbacks": sorted(
            name
            for name in (
                "on_execute_callback",
                "on_failure_callback",
                "on_success_callback",
                "on_retry_callback",
            )
            if getattr(task, name) is not None
        ),
    }
    if task.is_sensor:
        data["sensor"] = {
            name: getattr(task, name, None)
            for name in ("mode", "poke_interval", "timeout", "soft_fail", "exponential_backoff", "max_wait")
        }
    return data


def content_hash(data: dict[str, Any]) -> str:
    """A version key: the same DAG structure gives the same hash, any change a new one."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TaskSpec:
    task_id: str
    operator: str
    upstream: tuple[str, ...]
    downstream: tuple[str, ...]
    trigger_rule: str
    retries: int
    retry_delay: float
    retry_exponential_backoff: bool
    max_retry_delay: float | None
    execution_timeout: float | None
    depends_on_past: bool
    wait_for_downstream: bool
    pool: str
    pool_slots: int
    priority_weight: int
    weight_rule: str
    queue: str
    owner: str
    email: tuple[str, ...]
    email_on_failure: bool
    email_on_retry: bool
    email_on_success: bool
    start_date: datetime | None
    end_date: datetime | None
    doc_md: str | None
    max_active_tis_per_dag: int | None
    do_xcom_push: bool
    multiple_outputs: bool
    template_fields: tuple[str, ...]
    template_sources: dict[str, str | None]
    is_mapped: bool
    expand_input: dict[str, Any] | None
    is_sensor: bool
    ui_color: str
    callbacks: tuple[str, ...]
    sensor: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class DagSpec:
    dag_id: str
    fileloc: str
    schedule: str | None
    timetable_data: dict[str, Any]
    timezone: str
    start_date: datetime | None
    end_date: datetime | None
    catchup: bool
    max_active_runs: int
    max_active_tasks: int
    dagrun_timeout: float | None
    params: dict[str, Any]
    tags: tuple[str, ...]
    owners: tuple[str, ...]
    description: str | None
    doc_md: str | None
    is_paused_upon_creation: bool
    render_template_as_native_obj: bool
    template_searchpath: tuple[str, ...]
    has_on_success_callback: bool
    has_on_failure_callback: bool
    edge_labels: dict[tuple[str, str], str]
    task_group: dict[str, Any]
    tasks: dict[str, TaskSpec] = field(default_factory=dict)
    owner_links: dict[str, str] = field(default_factory=dict)

    @property
    def timetable(self) -> Timetable:
        from flowctl.schedule import timetable_from_dict

        return timetable_from_dict(self.timetable_data)

    @property
    def task_ids(self) -> list[str]:
        return list(self.tasks)

    def next_dagrun(self, *, last: DataInterval | None, now: datetime) -> DataInterval | None:
        """The next run the scheduler will create after `last` (the latest automated run's interval)."""
        from flowctl.schedule import next_dagrun_info

        return next_dagrun_info(
            self.timetable,
            last=last,
            start_date=self.start_date,
            end_date=self.end_date,
            catchup=self.catchup,
            now=now,
        )


def deserialize_dag(data: dict[str, Any]) -> DagSpec:
    """The read model of serialized DAG data (tasks in topological order)."""
    if data.get("version") != SERIALIZATION_VERSION:
        raise SerializationError(f"serialized DAG version {data.get('version')!r} is not {SERIALIZATION_VERSION}")
    try:
        tasks = {task["task_id"]: _task_spec(task) for task in data["tasks"]}
        return DagSpec(
            dag_id=data["dag_id"],
            fileloc=data["fileloc"],
            schedule=data["schedule"],
            timetable_data=data["timetable"],
            timezone=data["timezone"],
            start_date=_datetime(data["start_date"]),
            end_date=_datetime(data["end_date"]),
            catchup=data["catchup"],
            max_active_runs=data["max_active_runs"],
            max_active_tasks=data["max_active_tasks"],
            dagrun_timeout=data["dagrun_timeout"],
            params=data["params"],
            tags=tuple(data["tags"]),
            owners=tuple(data["owners"]),
            description=data["description"],
            doc_md=data["doc_md"],
            is_paused_upon_creation=data["is_paused_upon_creation"],
            render_template_as_native_obj=data["render_template_as_native_obj"],
            template_searchpath=tuple(data["template_searchpath"]),
            has_on_success_callback=data["has_on_success_callback"],
            has_on_failure_callback=data["has_on_failure_callback"],
            edge_labels={(up, down): label for up, down, label in data["edge_labels"]},
            task_group=data["task_group"],
            tasks=tasks,
            owner_links=data.get("owner_links") or {},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SerializationError(f"serialized DAG {data.get('dag_id')!r} is malformed: {exc!r}") from None


def _task_spec(data: dict[str, Any]) -> TaskSpec:
    values = dict(data)
    for name in ("upstream", "downstream", "email", "template_fields", "callbacks"):
        values[name] = tuple(values[name])
    values["start_date"] = _datetime(values["start_date"])
    values["end_date"] = _datetime(values["end_date"])
    return TaskSpec(**values)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else pendulum.instance(value).in_timezone("UTC").isoformat()


def _datetime(value: str | None) -> datetime | None:
    return None if value is None else pendulum.parse(value)  # type: ignore[return-value]


def _seconds(value: Any) -> float | None:
    return None if value is None else value.total_seconds()


def _source_text(value: Any) -> str | None:
    """How a template field reads in the DAG file, for the UI (before rendering)."""
    if value is None or isinstance(value, str):
        return value
    try:
        return json.dumps(_jsonable(value), sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def _jsonable(value: Any) -> Any:
    """Plain JSON data; task outputs become {"__xcomarg__": {...}} and other objects their repr."""
    from flowctl.taskflow import XComArg

    if isinstance(value, XComArg):
        return {"__xcomarg__": value.to_dict()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, datetime):
        return _iso(value)
    return repr(value)
