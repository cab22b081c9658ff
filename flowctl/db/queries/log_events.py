"""The audit trail of user actions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from flowctl.db.models import LogEvent


def record_event(
    session: Session,
    event: str,
    *,
    owner: str | None,
    at: datetime,
    dag_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    extra: str | None = None,
) -> None:
    session.add(LogEvent(dttm=at, event=event, owner=owner, dag_id=dag_id, run_id=run_id, task_id=task_id, extra=extra))
