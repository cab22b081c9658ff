"""LocalExecutor: a few warm worker processes; each forks one child per task try (ARCHITECTURE decision 4).

The scheduler sends commands and reads events through one pipe per worker; `filenos()` are what its
selector waits on. A worker that dies takes its children with it; their tries come back as failed
events, and a new worker takes its place.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.connection import Connection
from typing import Any

from flowctl.config import Settings
from flowctl.executors.base import CallbackRequest, EventKind, TaskCommand, TaskEvent, TaskKey
from flowctl.executors.worker import killpg, worker_main

DEFAULT_WORKERS = 2


@dataclass(slots=True)
class _WorkerHandle:
    process: Any
    connection: Connection
    running: set[TaskKey] = field(default_factory=set)
    pids: dict[TaskKey, int] = field(default_factory=dict)  # task process of each started try


class LocalExecutor:
    """Runs up to `slots` task tries at once on this machine."""

    def __init__(self, settings: Settings, *, workers: int = DEFAULT_WORKERS, slots: int | None = None) -> None:
        self.settings = settings
        self.worker_count = workers
        self.slots = slots if slots is not None else settings.core.parallelism
        self.workers: list[_WorkerHandle] = []
        self.stopping = False
        self._context = multiprocessing.get_context("fork")

    def start(self) -> None:
        self.workers = [self._spawn() for _ in range(self.worker_count)]

    def _spawn(self) -> _WorkerHandle:
        ours, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(target=worker_main, args=(theirs, self.settings), name="flowctl-worker")
        process.start()
        theirs.close()
        return _WorkerHandle(process=process, connection=ours)

    @property
    def running(self) -> int:
        return sum(len(worker.running) for worker in self.workers)

    def running_keys(self) -> set[TaskKey]:
        return {key for worker in self.workers for key in worker.running}

    def filenos(self) -> list[int]:
        return [worker.connection.fileno() for worker in self.workers]

    def submit(self, command: TaskCommand) -> None:
        worker = min(self.workers, key=lambda w: len(w.running))
        worker.running.add(command.key)
        worker.connection.send(("run", command))

    def run_callback(self, request: CallbackRequest) -> None:
        """Fire and forget: a worker forks a child that calls the DAG's callback."""
        _send_quietly(self.workers[0].connection, ("callback", request))

    def terminate(self, key: TaskKey) -> None:
        for worker in self.workers:
            if key in worker.running:
                worker.connection.send(("terminate", key))

    def events(self) -> list[TaskEvent]:
        events: list[TaskEvent] = []
        for index, worker in enumerate(self.workers):
            try:
                while worker.connection.poll(0):
                    event = worker.connection.recv()
                    if event.kind is EventKind.FINISHED:
                        worker.running.discard(event.key)
                        worker.pids.pop(event.key, None)
                    elif event.pid is not None:
                        worker.pids[event.key] = event.pid
                    events.append(event)
            except (EOFError, OSError):
                events += self._worker_died(worker)
                if self.stopping:
                    worker.running.clear()
                else:
                    self.workers[index] = self._spawn()
        return events

    def _worker_died(self, worker: _WorkerHandle) -> list[TaskEvent]:
        """A worker that died (or ended) takes its tries with it: their process groups are killed, so no
        try of theirs can still run when they are retried."""
        for pid in worker.pids.values():
            killpg(pid, signal.SIGKILL)
        events = [
            TaskEvent(key=key, kind=EventKind.FINISHED, reason="its worker process died") for key in worker.running
        ]
        worker.connection.close()
        worker.process.join(1)
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
