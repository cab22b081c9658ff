"""XCom rows: written by the scheduler from task outcomes, read by task processes and the UI."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from flowctl.db.models import DagRun, TaskInstance, XCom


def replace_xcoms(session: Session, ti_id: int, values: Iterable[tuple[str, bytes]], *, at: datetime) -> None:
    """A finished try's XComs replace whatever the task instance held before."""
    session.execute(delete(XCom).where(XCom.task_instance_id == ti_id))
    session.add_all(XCom(task_instance_id=ti_id, key=key, value=value, created_at=at) for key, value in values)


def clear_xcoms(session: Session, ti_ids: Sequence[int]) -> None:
    if ti_ids:
        session.execute(delete(XCom).where(XCom.task_instance_id.in_(list(ti_ids))))


def pull(
    session: Session,
    *,
    dag_id: str,
    run_id: str,
    task_ids: Sequence[str],
    key: str,
    map_indexes: Sequence[int] | None,
    include_prior_dates: bool,
    logical_date: datetime,
) -> list[tuple[str, int, bytes]]:
    """(task_id, map_index, value) of matching XComs; with include_prior_dates the latest run at or before
    `logical_date` that has one wins, per task and map index."""
    query = (
        select(TaskInstance.task_id, TaskInstance.map_index, XCom.value, DagRun.logical_date)
        .join(XCom, XCom.task_instance_id == TaskInstance.id)
        .join(DagRun, (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id))
        .where(TaskInstance.dag_id == dag_id, TaskInstance.task_id.in_(list(task_ids)), XCom.key == key)
    )
    if map_indexes is not None:
        query = query.where(TaskInstance.map_index.in_(list(map_indexes)))
    if include_prior_dates:
        query = query.where(DagRun.logical_date <= logical_date).order_by(DagRun.logical_date.desc())
    else:
        query = query.where(TaskInstance.run_id == run_id)
    seen: dict[tuple[str, int], bytes] = {}
    for task_id, map_index, value, _ in session.execute(query.order_by(TaskInstance.map_index)):
        seen.setdefault((task_id, map_index), value)
    return [(task_id, map_index, value) for (task_id, map_index), value in sorted(seen.items())]


def get_xcom(session: Session, *, dag_id: str, run_id: str, task_id: str, map_index: int, key: str) -> XCom | None:
    """One task instance's XCom by key (its value loaded)."""
    return session.scalar(
        select(XCom)
        .join(TaskInstance, TaskInstance.id == XCom.task_instance_id)
        .where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id == task_id,
            TaskInstance.map_index == map_index,
            XCom.key == key,
        )
    )
