"""The scheduler: one loop that blocks on executor events, the wake-up socket and the next timer, and
on each wake-up runs a tick — record events, create and start runs, plan them, queue what is ready —
in one transaction (ARCHITECTURE decisions 2, 3 and 5).
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from flowctl.config import Settings
from flowctl.db.engine import make_engine, make_session_factory, session_scope
from flowctl.db.models import DagRun
from flowctl.db.queries import jobs as job_queries
from flowctl.db.queries.jobs import DEAD_AFTER, HEARTBEAT_SECONDS, SCHEDULER_JOB
from flowctl.executors.base import CallbackRequest, EventKind, RunSnapshot, TaskCommand, TaskEvent, TaskKey
from flowctl.executors.local import executor_for
from flowctl.executors.spool import remove_spool, spool_path
from flowctl.scheduler.advance import advance_runs, running_runs
from flowctl.scheduler.dag_processing import DagProcessorChild
from flowctl.scheduler.dispatch import Limits, RunSnapshots, dispatch_ready, stale_tries, try_log_path
from flowctl.scheduler.events import record_events
from flowctl.scheduler.recovery import recover_orphans
from flowctl.scheduler.runs import DagVersions, create_due_runs, start_queued_runs
from flowctl.scheduler.wakeup import WakeupSocket
from flowctl.state import RunState

log = logging.getLogger(__name__)

IDLE_TICK_SECONDS = 1.0
# While the metadata DB is unreachable, it is probed this often (doubling from the minimum): a short
# outage ends with a short wait, and the heartbeat is written on the first tick that reaches it.
MIN_DB_BACKOFF_SECONDS = 0.25
MAX_DB_BACKOFF_SECONDS = 2.0
STARTED_BATCH_SECONDS = 0.05


class Scheduler:
    def __init__(self, settings: Settings, *, num_runs: int = 0, shutdown_grace: float = 30.0) -> None:
        self.settings = settings
        self.num_runs = num_runs
        self.shutdown_grace = timedelta(seconds=shutdown_grace)
        self.versions = DagVersions()
        self.snapshots = RunSnapshots()
        self.pending_events: list[TaskEvent] = []
        self.stopping = False
        self.job_id = 0
        self._next_check: datetime | None = None
        self._last_heartbeat = 0.0
        self._db_backoff = 0.0
        self._terminated: set[TaskKey] = set()
        self._command_jobs: set[int] = set()
        self._watched_workers: tuple[int, list[int]] = (-1, [])  # (executor.spawned, their pipes' fds)

    # lifecycle

    def run(self) -> int:
        self.executor = executor_for(self.settings)
        self.executor.start()  # workers fork before this process opens any DB connection
        self.processor = DagProcessorChild(self.settings)
        self.processor.start()  # the DAG files, parsed beside the loop
        try:
            self.engine = make_engine(self.settings.core.sql_alchemy_conn)
            self.factory = make_session_factory(self.engine, immediate=True)
            self._install_signal_handlers()
            self.wakeup = WakeupSocket(self.settings.home)
            self._start_job()
            self._loop()
        finally:  # whatever ended the loop, task processes are stopped and their outcomes recorded
            self._shutdown()
        return 0

    def _start_job(self) -> None:
        now = datetime.now(UTC)
        with session_scope(self.factory) as session:
            self.job_id = job_queries.start_job(session, SCHEDULER_JOB, at=now).id
        with session_scope(self.factory) as session:
            orphans = self._recover_orphans(session, now=now)
        self._forget_spools(orphans)
        if orphans:
            log.warning("settled %d tries left queued or running by a scheduler that stopped", len(orphans))
        log.info("scheduler job %d started (executor %s)", self.job_id, self.settings.core.executor)

    def _loop(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.wakeup, selectors.EVENT_READ)
        selector.register(self._signal_reader, selectors.EVENT_READ)
        ticks = 0
        full = True
        while not self.stopping and (self.num_runs == 0 or ticks < self.num_runs):
            self._tick(datetime.now(UTC), full=full)
            ticks += 1
            full = self._wait(selector)

    def _wait(self, selector: selectors.BaseSelector) -> bool:
        """Block until there is work; returns whether the next tick must be a full one. Events that only
        say a try started change no plan: they wait (briefly) to share the tick of the next finish."""
        self._watch_workers(selector)
        deadline = time.monotonic() + self._timeout()
        while True:
            ready = selector.select(max(deadline - time.monotonic(), 0))
            full = not ready or self._timer_due()
            for key, _ in ready:
                if key.fileobj is self.wakeup:
                    self.wakeup.drain()
                    full = True  # a trigger, clear or unpause: look at everything
                elif key.fileobj is self._signal_reader:
                    os.read(self._signal_reader, 64)
            if full or self.stopping:
                return full
            self.pending_events += self.executor.events()
            if any(event.kind is EventKind.FINISHED for event in self.pending_events):
                return False
            deadline = min(deadline, time.monotonic() + STARTED_BATCH_SECONDS)

    def _watch_workers(self, selector: selectors.BaseSelector) -> None:
        """Wait on the pipes of the executor's current workers (a replaced worker has a new pipe, maybe
        under the number of the old one, which closing took out of the selector's kernel side)."""
        spawned, fds = self._watched_workers
        if spawned == self.executor.spawned:
            return
        for fd in fds:
            selector.unregister(fd)
        fds = self.executor.filenos()
        for fd in fds:
            selector.register(fd, selectors.EVENT_READ)
        self._watched_workers = (self.executor.spawned, fds)

    def _install_signal_handlers(self) -> None:
        self._signal_reader, self._signal_writer = os.pipe()
        os.set_blocking(self._signal_writer, False)

        def stop(signum: int, _frame: object) -> None:
            self.stopping = True
            with contextlib.suppress(OSError):
                os.write(self._signal_writer, b"x")

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def _timeout(self) -> float:
        if self._db_backoff:
            return self._db_backoff
        timeout = IDLE_TICK_SECONDS
        if self._next_check is not None:
            timeout = min(timeout, max((self._next_check - datetime.now(UTC)).total_seconds(), 0))
        return timeout

    def _shutdown(self) -> None:
        log.info("scheduler stopping: waiting up to %ss for running tasks", self.shutdown_grace.total_seconds())
        self.processor.stop()
        self.pending_events += self.executor.shutdown(grace=self.shutdown_grace)
        if not hasattr(self, "factory"):
            return
        now = datetime.now(UTC)
        try:
            with session_scope(self.factory) as session:
                record_events(session, self.pending_events, self.versions, now=now)
                if self.job_id:
                    job_queries.end_job(session, self.job_id, at=now)
        except DBAPIError as exc:  # their spool files keep them for the next start's recovery
            log.error("could not record the last task outcomes: %s", exc)
        else:
            self._forget_spools([e.key for e in self.pending_events if e.kind is EventKind.FINISHED])
        if hasattr(self, "wakeup"):
            self.wakeup.close()
        self.engine.dispose()

    # the tick

    def _timer_due(self) -> bool:
        return self._next_check is not None and self._next_check <= datetime.now(UTC)

    def _tick(self, now: datetime, *, full: bool) -> None:
        """One transaction. A full tick (wake-up poke, timer, idle second) creates and starts runs and
        plans every running run; an event tick plans only the runs where a try finished."""
        self.pending_events += self.executor.events()
        finished = any(event.kind is EventKind.FINISHED for event in self.pending_events)
        commands: list[TaskCommand] = []
        callbacks: list[CallbackRequest] = []
        recovered: list[TaskKey] = []
        try:
            with session_scope(self.factory) as session:
                touched = record_events(session, self.pending_events, self.versions, now=now)
                if full:
                    self._stop_unwanted(session)
                if full and not self.stopping:
                    create_due_runs(session, self.versions, now=now)
                    start_queued_runs(session, self.versions, now=now)
                if full:  # jobs of commands running their own runs (backfill, dags test): refreshed each second
                    self._command_jobs = set(job_queries.live_job_ids(session, None, now=now, stale_after=DEAD_AFTER))
                if full or touched:
                    runs = running_runs(session, None if full else touched)
                    next_check = advance_runs(session, runs, self.versions, now=now, skip_jobs=self._command_jobs)
                    callbacks = self._run_callbacks(session, runs)
                    if full or (next_check and (self._next_check is None or next_check < self._next_check)):
                        self._next_check = next_check
                if (full or finished) and not self.stopping:
                    if full:
                        self.snapshots.clear()
                    commands = dispatch_ready(
                        session,
                        self.versions,
                        self._limits(),
                        log_folder=self.settings.logging.base_log_folder,
                        job_id=self.job_id,
                        now=now,
                        snapshots=self.snapshots,
                    )
                if self._db_backoff or time.monotonic() - self._last_heartbeat >= HEARTBEAT_SECONDS:
                    job_queries.heartbeat(session, self.job_id, at=now)
                    # Another scheduler, or a command running tasks, may have died since we started.
                    recovered = self._recover_orphans(session, now=now)
                    self._last_heartbeat = time.monotonic()
                    self.processor.ensure_running()
        except DBAPIError as exc:
            self._db_backoff = min(max(self._db_backoff * 2, MIN_DB_BACKOFF_SECONDS), MAX_DB_BACKOFF_SECONDS)
            log.error("metadata DB error, retrying in %.1fs: %s", self._db_backoff, str(exc).splitlines()[0])
            return
        if self._db_backoff:
            log.info("metadata DB reachable again")
        self._db_backoff = 0.0
        recorded, self.pending_events = self.pending_events, []
        for command in commands:
            self.executor.submit(command)
        for request in callbacks:
            self.executor.run_callback(request)
        self._forget_spools([e.key for e in recorded if e.kind is EventKind.FINISHED] + recovered)  # after: cleanup

    def _recover_orphans(self, session: Session, *, now: datetime) -> list[TaskKey]:
        log_folder = self.settings.logging.base_log_folder
        return recover_orphans(session, self.versions, my_job_id=self.job_id, log_folder=log_folder, now=now)

    def _forget_spools(self, keys: list[TaskKey]) -> None:
        """The spool files of tries whose end is committed: nothing needs them any more."""
        folder = self.settings.logging.base_log_folder
        for key in keys:
            remove_spool(spool_path(try_log_path(folder, key)))

    def _run_callbacks(self, session: Session, runs: list[DagRun]) -> list[CallbackRequest]:
        """DAG-level callbacks of the runs that just ended (called after the transaction commits)."""
        requests = []
        for run in runs:
            if run.state not in (RunState.SUCCESS, RunState.FAILED) or run.dag_version_id is None:
                continue
            spec = self.versions.get(session, run.dag_version_id)
            wanted = spec.has_on_success_callback if run.state == RunState.SUCCESS else spec.has_on_failure_callback
            if wanted:
                folder = self.settings.logging.base_log_folder / f"dag_id={run.dag_id}" / f"run_id={run.run_id}"
                requests.append(
                    CallbackRequest(
                        run=RunSnapshot.of(run, None),
                        fileloc=spec.fileloc,
                        state=run.state,
                        log_path=str(folder / "dag_callback.log"),
                    )
                )
        return requests

    def _stop_unwanted(self, session: Session) -> None:
        """Kill the processes of tries a user cleared or marked while they ran."""
        unwanted = stale_tries(session, self.executor.running_keys())
        for key in unwanted - self._terminated:
            log.info("stopping %s: it was cleared or marked while running", key)
            self.executor.terminate(key)
        self._terminated = unwanted

    def _limits(self) -> Limits:
        return Limits(
            parallelism=self.settings.core.parallelism,
            executor_free=self.executor.slots - self.executor.running,
            batch=self.settings.scheduler.max_tis_per_query,
            skip_locked=self.engine.dialect.name in ("postgresql", "mysql", "mariadb"),
        )
