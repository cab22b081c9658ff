"""DAG runs: lookups shared by the scheduler, the task runtime and the services."""

from __future__ import annotations

from datetime import datetime

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
