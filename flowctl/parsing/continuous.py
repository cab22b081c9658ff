"""Keeping the stored DAGs in step with the dags folder until stopped: `flowctl dag-processor`, and the
process every scheduler runs beside its loop, so that parsing never holds the loop up.

A change is noticed within a second (file names, sizes and mtimes are polled, which costs a few stat
calls); the whole folder is re-listed every `dag_dir_list_interval` seconds regardless. The processor
heartbeats as a `dag_processor` job: commands that show DAGs leave parsing to a live one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from flowctl.config import Settings
from flowctl.db.engine import session_scope
from flowctl.db.queries import jobs as job_queries
from flowctl.parsing.processor import FolderWatch, RefreshResult, dag_folders, refresh

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0


def keep_in_step(
    settings: Settings,
    factory: sessionmaker[Session],
    *,
    stopping: Callable[[], bool],
    on_pass: Callable[[RefreshResult], None],
    passes: int = 0,
    prune_unscanned: bool = False,
    reader: sessionmaker[Session] | None = None,
) -> None:
    """Parse whenever the folder changed (or every dag_dir_list_interval) until `stopping()` or `passes`
    passes (0: no limit); `on_pass` gets each pass's result. A DB outage is waited out. `reader`: sessions
    that only read (see refresh)."""
    watch = FolderWatch(dag_folders(settings))
    interval = settings.scheduler.dag_dir_list_interval
    job_id = _start_job(factory, stopping)
    done, last_pass, last_beat = 0, -interval, time.monotonic()
    try:
        while not stopping() and (passes == 0 or done < passes):
            try:
                if watch.changed() or time.monotonic() - last_pass >= interval:
                    now = datetime.now(UTC)
                    on_pass(refresh(settings, factory, now=now, prune_unscanned=prune_unscanned, reader=reader))
                    last_pass, done = time.monotonic(), done + 1
                if time.monotonic() - last_beat >= job_queries.HEARTBEAT_SECONDS:
                    with session_scope(factory) as session:
                        job_queries.heartbeat(session, job_id, at=datetime.now(UTC))
                    last_beat = time.monotonic()
            except DBAPIError as exc:
                log.error("metadata DB error, parsing again shortly: %s", str(exc).splitlines()[0])
                watch = FolderWatch(watch.folders)  # forget what was seen: the next look parses again
            if not stopping() and (passes == 0 or done < passes):
                time.sleep(POLL_SECONDS)
    finally:
        _end_job(factory, job_id)


def _start_job(factory: sessionmaker[Session], stopping: Callable[[], bool]) -> int:
    while True:
        try:
            with session_scope(factory) as session:
                return job_queries.start_job(session, job_queries.DAG_PROCESSOR_JOB, at=datetime.now(UTC)).id
        except DBAPIError as exc:
            if stopping():
                raise
            log.error("metadata DB error, trying again: %s", str(exc).splitlines()[0])
            time.sleep(POLL_SECONDS)


def _end_job(factory: sessionmaker[Session], job_id: int) -> None:
    try:
        with session_scope(factory) as session:
            job_queries.end_job(session, job_id, at=datetime.now(UTC))
    except DBAPIError as exc:  # its heartbeat goes stale instead
        log.error("could not record the DAG processor's end: %s", str(exc).splitlines()[0])
