"""Scheduler jobs and their heartbeats."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from flowctl.db.models import Job

RUNNING = "running"
FINISHED = "finished"
SCHEDULER_JOB = "scheduler"
DAG_PROCESSOR_JOB = "dag_processor"
HEARTBEAT_SECONDS = 5.0
# A job whose heartbeat is older than this is dead: what it left queued or running is recovered.
DEAD_AFTER = timedelta(seconds=HEARTBEAT_SECONDS * 6)


def start_job(session: Session, job_type: str, *, at: datetime) -> Job:
    job = Job(
        job_type=job_type,
        state=RUNNING,
        hostname=socket.gethostname(),
        pid=os.getpid(),
        start_date=at,
        latest_heartbeat=at,
    )
    session.add(job)
    session.flush()
    return job


def heartbeat(session: Session, job_id: int, *, at: datetime) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(latest_heartbeat=at))


def end_job(session: Session, job_id: int, *, at: datetime) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(state=FINISHED, end_date=at, latest_heartbeat=at))


def live_job_ids(session: Session, job_type: str | None, *, now: datetime, stale_after: timedelta) -> list[int]:
    """Jobs (of one type, or all) still running with a fresh heartbeat."""
    query = select(Job.id).where(Job.state == RUNNING, Job.latest_heartbeat >= now - stale_after)
    if job_type is not None:
        query = query.where(Job.job_type == job_type)
    return list(session.scalars(query))


def latest_heartbeat(session: Session, job_type: str) -> datetime | None:
    return session.scalar(
        select(Job.latest_heartbeat)
        .where(Job.job_type == job_type, Job.state == RUNNING)
        .order_by(Job.latest_heartbeat.desc())
        .limit(1)
    )


def live_jobs(session: Session, *, now: datetime, stale_after: timedelta) -> list[Job]:
    """Every job still marked running with a fresh heartbeat."""
    return list(session.scalars(select(Job).where(Job.state == RUNNING, Job.latest_heartbeat >= now - stale_after)))


def process_alive(job: Job) -> bool:
    """A fresh heartbeat is not enough when the job's process, on this host, is gone (killed, and maybe
    restarted, within the heartbeat window)."""
    if job.hostname != socket.gethostname():
        return True
    try:
        os.kill(job.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def any_alive(session: Session, job_type: str, *, now: datetime) -> bool:
    """Whether a job of this type runs: a fresh heartbeat and, on this host, a live process."""
    query = select(Job).where(Job.job_type == job_type, Job.state == RUNNING, Job.latest_heartbeat >= now - DEAD_AFTER)
    return any(process_alive(job) for job in session.scalars(query))
