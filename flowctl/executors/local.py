"""LocalExecutor: a few warm worker processes; each forks one child per task try (ARCHITECTURE decision 4).

The scheduler sends commands and reads events through one pipe per worker; `filenos()` are what its
selector waits on. A worker that dies (or stops answering, and is killed) takes its task processes with
it: the executor kills whatever still runs of each of its tries' process groups, then reports their
ends — a try that had finished with the outcome its spool kept, the others as failed — and a new worker
takes its place.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

from flowctl.config import Settings
from flowctl.executors.base import CallbackRequest, EventKind, TaskCommand, TaskEvent, TaskKey
from flowctl.executors.spool import reclaim_try
from flowctl.executors.worker import worker_main
from flowctl.logs import append_line

DEFAULT_WORKERS = 2
# How long the executor waits for the processes of a dead worker's try to die before it looks again later.
KILL_WAIT_SECONDS = 1.0
SLOW_ANSWER_SECONDS = 1.0


@dataclass(slots=True)
class _WorkerHandle:
    process: Any
    connection: Connection
    running: dict[TaskKey, TaskCommand] = field(default_factory=dict)
    unanswered: dict[TaskKey, float] = field(default_factory=dict)  # sent, not started yet: since when
    death_reason: str = "died with its worker process"


class LocalExecutor:
    """Runs up to `slots` task tries at once on this machine."""

    def __init__(self, settings: Settings, *, workers: int = DEFAULT_WORKERS, slots: int | None = None) -> None:
        self.settings = settings
        self.worker_count = workers
        self.slots = slots if slots is not None else settings.core.parallelism
        self.workers: list[_WorkerHandle] = []
        self.spawned = 0  # workers started so far: changes when one is replaced
        # Tries of dead workers some process of which would not die yet: they keep their slots.
        self.lost: dict[TaskKey, tuple[TaskCommand, str]] = {}  # and what became of their worker
        self.stopping = False
        self._context = multiprocessing.get_context("fork")
        # A worker answers a try within the time a probe import and its own import of the DAG file may
        # take; one that does not is stuck (in C code no timeout reaches) and is replaced.
        self.hung_after = 2 * settings.core.dagbag_import_timeout + 10

    def start(self) -> None:
        self.workers = [self._spawn() for _ in range(self.worker_count)]

    def _spawn(self) -> _WorkerHandle:
        ours, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=worker_main, args=(theirs, self.settings, os.getpid()), name="flowctl-worker"
        )
        process.start()
        theirs.close()
        self.spawned += 1
        return _WorkerHandle(process=process, connection=ours)

    @property
    def running(self) -> int:
        return sum(len(worker.running) for worker in self.workers) + len(self.lost)

    def running_keys(self) -> set[TaskKey]:
        return {key for worker in self.workers for key in worker.running} | set(self.lost)

    def filenos(self) -> list[int]:
        return [worker.connection.fileno() for worker in self.workers]

    def submit(self, command: TaskCommand) -> None:
        # A worker still waiting to start a try sent a while ago is loading a slow (or stuck) DAG file:
        # others take new tries first.
        now = time.monotonic()
        worker = min(
            self.workers,
            key=lambda w: (min(w.unanswered.values(), default=now) < now - SLOW_ANSWER_SECONDS, len(w.running)),
        )
        worker.running[command.key] = command
        worker.unanswered[command.key] = time.monotonic()
        worker.connection.send(("run", command))

    def run_callback(self, request: CallbackRequest) -> None:
        """Fire and forget: a worker forks a child that calls the DAG's callback."""
        _send_quietly(self.workers[0].connection, ("callback", request))

    def terminate(self, key: TaskKey) -> None:
        for worker in self.workers:
            if key in worker.running:
                worker.connection.send(("terminate", key))

    def events(self) -> list[TaskEvent]:
        events: list[TaskEvent] = self._settle_lost() if self.lost else []
        for index, worker in enumerate(self.workers):
            if not self._receive(worker, events) or self._stuck(worker):
                events += self._worker_died(worker)
                if not self.stopping:
                    self.workers[index] = self._spawn()
        return events

    def _receive(self, worker: _WorkerHandle, events: list[TaskEvent]) -> bool:
        """Append what the worker sent to `events`; returns False once its pipe is closed (it ended)."""
        try:
            while worker.connection.poll(0):
                event = worker.connection.recv()
                worker.unanswered.pop(event.key, None)
                if event.kind is EventKind.FINISHED:
                    worker.running.pop(event.key, None)
                events.append(event)
        except (EOFError, OSError):
            return False
        return True

    def _stuck(self, worker: _WorkerHandle) -> bool:
        """Whether the worker stopped answering; such a worker is killed (and then replaced)."""
        if not worker.unanswered or time.monotonic() - min(worker.unanswered.values()) <= self.hung_after:
            return False
        worker.death_reason = f"was lost: its worker stopped answering for {self.hung_after:g}s and was replaced"
        worker.process.kill()
        worker.process.join(5)
        return True

    def _worker_died(self, worker: _WorkerHandle) -> list[TaskEvent]:
        """A worker that died (or ended) takes its task processes with it (parent-death signal), but not
        what they started: each try's group is killed, and its end reported only once none of it runs, so
        nothing of it still runs when it is retried; a try that had finished keeps its outcome (spool)."""
        self.lost.update({key: (command, worker.death_reason) for key, command in worker.running.items()})
        worker.running.clear()
        worker.connection.close()
        worker.process.join(1)
        return self._settle_lost()

    def _settle_lost(self) -> list[TaskEvent]:
        events = []
        for key, (command, reason) in list(self.lost.items()):
            event = _reclaimed_event(command, reason)
            if event is not None:
                del self.lost[key]
                events.append(event)
        return events

    def shutdown(self, *, grace: timedelta) -> list[TaskEvent]:
        """Stop taking work, let running tries finish for `grace`, then kill them; returns the last events."""
        self.stopping = True
        events: list[TaskEvent] = []
        deadline = time.monotonic() + grace.total_seconds()
        for worker in self.workers:
            _send_quietly(worker.connection, ("stop", None))
        while self.running and time.monotonic() < deadline:
            events += self.events()
            time.sleep(0.02)
        for worker in self.workers:
            for key in list(worker.running):
                _send_quietly(worker.connection, ("terminate", key))
        kill_deadline = time.monotonic() + 10
        while self.running and time.monotonic() < kill_deadline:
            events += self.events()
            time.sleep(0.02)
        for worker in self.workers:
            worker.process.join(2)
            if worker.process.is_alive():
                worker.process.kill()
            worker.connection.close()
        return events


class SequentialExecutor(LocalExecutor):
    """One task try at a time, through the same worker protocol."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, workers=1, slots=1)


def _reclaimed_event(command: TaskCommand, reason: str) -> TaskEvent | None:
    """The end of a try whose worker died, once no process of it runs (None while one still does)."""
    reclaimed = reclaim_try(command.log_path, queued_at=command.queued_at, timeout=KILL_WAIT_SECONDS)
    spooled = reclaimed.spooled
    if not reclaimed.gone:
        return None
    if spooled is not None and spooled.outcome is not None:
        return spooled.finished_event(command.key)
    with contextlib.suppress(OSError):
        append_line(command.log_path, f"[flowctl] task process {reason}")
    return TaskEvent(key=command.key, kind=EventKind.FINISHED, reason=reason, at=datetime.now(UTC))


def _send_quietly(connection: Connection, message: Any) -> None:
    with contextlib.suppress(OSError):
        connection.send(message)


def executor_for(settings: Settings) -> LocalExecutor:
    """The executor named by core.executor (`local`, `sequential`, or a dotted class path)."""
    name = settings.core.executor
    if name == "local":
        return LocalExecutor(settings)
    if name == "sequential":
        return SequentialExecutor(settings)
    import importlib

    module_name, _, class_name = name.rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)(settings)
