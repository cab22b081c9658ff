"""`tasks render`: import a DAG's file and render one task's template fields for a logical date."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pendulum
from sqlalchemy import select
from sqlalchemy.orm import Session

from flowctl.config import Settings
from flowctl.db.models import DagRun
from flowctl.db.secrets import SecretCipher
from flowctl.exceptions import InvalidInput, NotFound
from flowctl.params import resolve_params
from flowctl.parsing.processor import import_dag
from flowctl.services import connections, dags, variables
from flowctl.state import RunType


@dataclass(slots=True)
class PreviewTaskInstance:
    """Stands in for the task instance while rendering outside a run: no XComs exist yet."""

    dag_id: str
    task_id: str
    run_id: str
    map_index: int = -1
    try_number: int = 1

    def xcom_pull(self, *args: Any, **kwargs: Any) -> None:
        return None


def parse_logical_date(text: str, timezone: str) -> pendulum.DateTime:
    try:
        value = pendulum.parse(text, tz=timezone)
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        raise InvalidInput(
            f"bad date {text!r}: expected ISO-8601, e.g. 2024-01-31 or 2024-01-31T04:00:00+09:00"
        ) from None
    if not isinstance(value, pendulum.DateTime):
        raise InvalidInput(f"bad date {text!r}: expected a date and time")
    return value.in_timezone("UTC")


def render_task_fields(
    session: Session,
    settings: Settings,
    cipher: SecretCipher,
    *,
    dag_id: str,
    task_id: str,
    logical_date: str,
    environ: Mapping[str, str],
) -> dict[str, Any]:
    from flowctl.templating import (
        ConnectionAccessor,
        RunInfo,
        VariableAccessor,
        build_context,
        make_environment,
        render_template_fields,
    )

    row = dags.require_dag(session, dag_id)
    if row.is_stale:
        raise NotFound(f"DAG {dag_id!r} is stale: its file {row.fileloc} no longer defines it")
    dag = import_dag(settings, row.fileloc, dag_id)
    if not dag.has_task(task_id):
        raise NotFound(f"DAG {dag_id!r} has no task {task_id!r}")
    task = dag.get_task(task_id)
    when = parse_logical_date(logical_date, settings.core.default_timezone)
    run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.logical_date == when))
    if run is not None:
        info = RunInfo(
            run_id=run.run_id,
            run_type=run.run_type,
            logical_date=run.logical_date,
            data_interval_start=run.data_interval_start or run.logical_date,
            data_interval_end=run.data_interval_end or run.logical_date,
            conf=run.conf or {},
        )
    else:
        from flowctl.schedule import timetable_for

        interval = timetable_for(dag.schedule, timezone=dag.timezone or "UTC").infer_manual_data_interval(when)
        info = RunInfo(
            run_id=f"{RunType.MANUAL}__{when.isoformat()}",
            run_type=RunType.MANUAL,
            logical_date=when,
            data_interval_start=interval.start,
            data_interval_end=interval.end,
        )

    def get_variable(key: str) -> str | None:
        try:
            return variables.get_variable(session, cipher, key)
        except NotFound:
            return None

    context = build_context(
        dag=dag,
        task=task,
        run=info,
        ti=PreviewTaskInstance(dag_id=dag_id, task_id=task_id, run_id=info.run_id),
        params=resolve_params(task.params, info.conf),
        variables=VariableAccessor(get_variable),
        connections=ConnectionAccessor(
            lambda conn_id: connections.get_connection(session, cipher, conn_id, environ=environ)
        ),
        prev_success=None,
    )
    return render_template_fields(task, context, make_environment(dag))
