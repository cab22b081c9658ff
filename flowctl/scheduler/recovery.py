"""After a crash: task instances a dead scheduler left queued or running are failed, or retried if they
have tries left. Their processes died with that scheduler (parent-death signal), so no try of theirs
is still running when this happens."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from flowctl.db.models import Job
from flowctl.db.queries import jobs as job_queries
from flowctl.db.queries import task_instances as ti_queries
from flowctl.logs import append_line, task_log_path
from flowctl.state import TaskState

SCHEDULER_JOB = "scheduler"
HEARTBEAT_SECONDS = 5.0
DEAD_AFTER = timedelta(seconds=HEARTBEAT_SECONDS * 6)


def fail_orphans(session: Session, *, my_job_id: int, log_folder: Path, now: datetime) -> int:
    """Fail or retry what schedulers that stopped heartbeating left queued/running; returns the count."""
    # Any live job may own task instances: schedulers, and backfills / `dags test` / `tasks run` commands.
    live = [job.id for job in job_queries.live_jobs(session, now=now, stale_after=DEAD_AFTER) if _alive(job)]
    orphans = ti_queries.orphaned(session, [*live, my_job_id])
    for ti in orphans:
        retry = ti.try_number <= ti.max_tries
        target = TaskState.UP_FOR_RETRY if retry else TaskState.FAILED
        # first_poke_at reset: a retry is a new try, not a rescheduled sensor's next poke in the same one
        values = {"end_date": now, "updated_at": now, "next_try_at": now if retry else None, "first_poke_at": None}
        if ti_queries.transition(session, [ti.id], target, values=values):
            attempt = ti_queries.get_try(session, ti.id, ti.try_number)
            reason = "its scheduler stopped before the task finished"
            if attempt is not None:
                attempt.state, attempt.end_date, attempt.error = target, now, reason
            if ti.try_number >= 1:
                path = task_log_path(
                    log_folder,
                    dag_id=ti.dag_id,
                    run_id=ti.run_id,
                    task_id=ti.task_id,
                    map_index=ti.map_index,
                    try_number=ti.try_number,
                )
                append_line(path, f"[flowctl] {reason}: marked {target}")
    return len(orphans)


def _alive(job: Job) -> bool:
    """A fresh heartbeat is not enough when the job's process, on this host, is gone (killed and restarted
    within the heartbeat window)."""
    if job.hostname != socket.gethostname():
        return True
    try:
        os.kill(job.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
