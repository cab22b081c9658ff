"""DAG runs: lookups shared by the scheduler, the task runtime and the services."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from flowctl.db.models import DagRun
from flowctl.state import RunState


def get_run(session: Session, dag_id: str, run_id: str) -> DagRun | None:
    return session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))


def previous_run(session: Session, dag_id: str, logical_date: datetime) -> DagRun | None:
    """The run just before `logical_date` (for depends_on_past)."""
    return session.scalar(
        select(DagRun)
        .where(DagRun.dag_id == dag_id, DagRun.logical_date < logical_date)
        .order_by(DagRun.logical_date.desc())
        .limit(1)
    )


def previous_successful_run(session: Session, dag_id: str, logical_date: datetime) -> DagRun | None:
    return session.scalar(
        select(DagRun)
        .where(DagRun.dag_id == dag_id, DagRun.logical_date < logical_date, DagRun.state == RunState.SUCCESS)
        .order_by(DagRun.logical_date.desc())
        .limit(1)
    )


def runs_before(session: Session, dag_id: str, *, limit: int, before: datetime | None = None) -> list[Any]:
    """The newest `limit` runs of a DAG (with a logical date before `before`, if given), newest first:
    (run_id, run_type, state, logical_date, queued_at, start_date, end_date, dag_version_id) rows."""
    query = select(
        DagRun.run_id,
        DagRun.run_type,
        DagRun.state,
        DagRun.logical_date,
        DagRun.queued_at,
        DagRun.start_date,
        DagRun.end_date,
        DagRun.dag_version_id,
    ).where(DagRun.dag_id == dag_id)
    if before is not None:
        query = query.where(DagRun.logical_date < before)
    return list(session.execute(query.order_by(DagRun.logical_date.desc()).limit(limit)))


def logical_dates(session: Session, dag_id: str, run_ids: Iterable[str]) -> dict[str, datetime]:
    """run_id -> logical date, for these runs of a DAG."""
    ids = list(set(run_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(DagRun.run_id, DagRun.logical_date).where(DagRun.dag_id == dag_id, DagRun.run_id.in_(ids))
    )
    return {run_id: logical_date for run_id, logical_date in rows}


def states_on(session: Session, dag_id: str, logical_dates: Iterable[datetime]) -> dict[datetime, str]:
    """logical date -> state of the DAG's run on it, for those of these dates that have a run."""
    dates = list(set(logical_dates))
    if not dates:
        return {}
    rows = session.execute(
        select(DagRun.logical_date, DagRun.state).where(DagRun.dag_id == dag_id, DagRun.logical_date.in_(dates))
    )
    return {logical_date: state for logical_date, state in rows}
