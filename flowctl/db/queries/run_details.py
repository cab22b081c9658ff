"""What the run and task instance pages read: a task's mapped instances, a task instance's tries, rendered
fields and XComs, and a run's task states; each in one query, whatever the number of rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flowctl.db.models import TaskInstance, TaskInstanceTry, XCom


def mapped_instances(session: Session, dag_id: str, run_id: str, task_id: str, *, limit: int, offset: int) -> list[Any]:
    """A page of a mapped task's expanded instances (map_index >= 0), in map index order."""
    return list(
        session.execute(
            select(
                TaskInstance.map_index,
                TaskInstance.state,
                TaskInstance.try_number,
                TaskInstance.start_date,
                TaskInstance.end_date,
                TaskInstance.duration,
            )
            .where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
                TaskInstance.map_index >= 0,
            )
            .order_by(TaskInstance.map_index)
            .limit(limit)
            .offset(offset)
        )
    )


def count_mapped_instances(session: Session, dag_id: str, run_id: str, task_id: str) -> int:
    return session.scalar(
        select(func.count()).where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id == task_id,
            TaskInstance.map_index >= 0,
        )
    )


def tries(session: Session, ti_id: int) -> list[Any]:
    """Every try of a task instance, oldest first, without the rendered fields (see `rendered_fields`)."""
    return list(
        session.execute(
            select(
                TaskInstanceTry.try_number,
                TaskInstanceTry.state,
                TaskInstanceTry.hostname,
                TaskInstanceTry.pid,
                TaskInstanceTry.queued_at,
                TaskInstanceTry.start_date,
                TaskInstanceTry.end_date,
                TaskInstanceTry.duration,
                TaskInstanceTry.exit_code,
                TaskInstanceTry.error,
            )
            .where(TaskInstanceTry.task_instance_id == ti_id)
            .order_by(TaskInstanceTry.try_number)
        )
    )


def rendered_fields(session: Session, ti_id: int, try_number: int) -> Any:
    return session.scalar(
        select(TaskInstanceTry.rendered_fields).where(
            TaskInstanceTry.task_instance_id == ti_id, TaskInstanceTry.try_number == try_number
        )
    )


def xcoms(session: Session, ti_id: int, *, limit: int, max_bytes: int) -> list[Any]:
    """(key, size, head, created_at) of a task instance's XComs by key: `head` is at most the first
    `max_bytes` bytes of the value, so a huge value is never loaded whole."""
    return list(
        session.execute(
            select(XCom.key, func.length(XCom.value), func.substr(XCom.value, 1, max_bytes), XCom.created_at)
            .where(XCom.task_instance_id == ti_id)
            .order_by(XCom.key)
            .limit(limit)
        )
    )


def task_states(session: Session, dag_id: str, run_id: str) -> list[Any]:
    """(task_id, map_index, state, try_number, duration) of every task instance of a run."""
    return list(
        session.execute(
            select(
                TaskInstance.task_id,
                TaskInstance.map_index,
                TaskInstance.state,
                TaskInstance.try_number,
                TaskInstance.duration,
            )
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
            .order_by(TaskInstance.task_id, TaskInstance.map_index)
        )
    )
