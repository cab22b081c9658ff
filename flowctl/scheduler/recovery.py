"""After a crash: tries that a dead scheduler (or a dead command running tasks) left queued, running or
restarting. Each try's spool (flowctl.executors.spool) tells how far it got, once whatever is left of
its process group has been killed:
- it finished: its real outcome (state, XComs, decisions) is recorded, as its scheduler would have;
- it started running user code: it failed (retried if it has tries left);
- it never started: the try is taken back, and the task instance is queued again at the same number.
A try some process of which will not die is left for the next pass: it is never retried while one lives.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from flowctl.db.models import TaskInstance
from flowctl.db.queries import jobs as job_queries
from flowctl.db.queries import task_instances as ti_queries
from flowctl.executors.base import EventKind, TaskEvent, TaskKey
from flowctl.executors.spool import SpooledTry, reclaim_try
from flowctl.logs import append_line
from flowctl.scheduler.dispatch import try_log_path
from flowctl.scheduler.events import record_events
from flowctl.scheduler.runs import DagVersions

log = logging.getLogger(__name__)

LOST_REASON = "was stopped: the scheduler running it died before the try finished"


def recover_orphans(
    session: Session, versions: DagVersions, *, my_job_id: int, log_folder: Path, now: datetime
) -> list[TaskKey]:
    """Settle what jobs that stopped heartbeating left queued/running/restarting; returns the tries
    settled (their spool files may go once this transaction commits)."""
    # Any live job may own task instances: schedulers, and backfills / `dags test` / `tasks run` commands.
    jobs = job_queries.live_jobs(session, now=now, stale_after=job_queries.DEAD_AFTER)
    live = [job.id for job in jobs if job_queries.process_alive(job)]
    orphans = ti_queries.orphaned(session, [*live, my_job_id])
    events: list[TaskEvent] = []
    settled = []
    for ti in orphans:
        if ti.try_number < 1:  # queued before any try was counted: nothing of it can have run
            ti_queries.take_back_try(session, ti, at=now)
            continue
        key = TaskKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)
        log_path = try_log_path(log_folder, key)
        reclaimed = reclaim_try(log_path, queued_at=ti.queued_at)
        if not reclaimed.gone:
            log.warning("%s: processes of its try %d still run after SIGKILL; it waits", key, key.try_number)
            continue
        settled.append(key)
        events += _settle(session, ti, key, reclaimed.spooled, log_path, now=now)
    record_events(session, events, versions, now=now)
    return settled


def _settle(
    session: Session, ti: TaskInstance, key: TaskKey, spooled: SpooledTry | None, log_path: Path, *, now: datetime
) -> list[TaskEvent]:
    if spooled is None:  # it never ran user code: as if it had not been queued
        ti_queries.take_back_try(session, ti, at=now)
        return []
    started = spooled.started_event(key)
    if spooled.outcome is not None:
        _note(log_path, "its scheduler died before recording this try's outcome; recovered from its spool file")
        finished = spooled.finished_event(key)
    else:
        _note(log_path, f"task process {LOST_REASON}")
        finished = TaskEvent(key=key, kind=EventKind.FINISHED, reason=LOST_REASON, at=now)
    return [started, finished]


def _note(log_path: Path, text: str) -> None:
    with contextlib.suppress(OSError):
        append_line(log_path, f"[flowctl] {text}")
