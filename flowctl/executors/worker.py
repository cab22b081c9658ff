"""A warm worker: keeps flowctl and DAG modules imported, forks one child per task try and watches it.

The worker receives commands from its executor over a pipe and sends events back. Each child runs in
its own process group (so timeouts and terminations kill its whole tree), dies with the worker
(parent-death signal), and reports its outcome through a pipe; the worker sees its exit at once
through a pidfd and records an exit code or signal in the try's log when there is no outcome.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import selectors
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from flowctl.config import Settings
from flowctl.executors.base import EventKind, TaskCommand, TaskEvent, TaskOutcome
from flowctl.executors.dag_loading import DagLoader, LoadLimits
from flowctl.executors.process_tree import ProcessGroupIdentity, close_inherited_fds, set_parent_death_signal
from flowctl.executors.spool import group_record
from flowctl.logs import append_line
from flowctl.parsing.processor import dag_folders, defaults_from

KILL_GRACE_SECONDS = 5.0
# A spare task process is kept forked while tries keep coming, and dropped after this long without one
# (an idle worker holds no extra process).
SPARE_IDLE_SECONDS = 5.0


@dataclass(slots=True)
class _Child:
    command: TaskCommand
    pid: int
    pidfd: int
    outcome_fd: int
    deadline: float | None
    output: bytearray = field(default_factory=bytearray)
    kill_reason: str | None = None
    killed_at: float | None = None
    reported: bool = False  # its FINISHED event was sent when its outcome arrived, before it exited


@dataclass(slots=True)
class _Spare:
    """A task process forked ahead of time, its output captured, waiting on `command_fd` for its try:
    a try then starts without paying for the fork. It holds the DAGs the worker had when it forked
    (`generation`), so it is only used while the worker has loaded nothing since."""

    pid: int
    pidfd: int
    command_fd: int
    outcome_fd: int
    generation: int


class Worker:
    def __init__(self, connection: Connection, settings: Settings) -> None:
        self.connection = connection
        self.settings = settings
        self.selector = selectors.DefaultSelector()
        self.children: dict[int, _Child] = {}
        self.callbacks: dict[int, int] = {}  # pidfd -> pid of callback children
        self.loader = DagLoader(
            self.selector,
            defaults=defaults_from(settings),
            folders=dag_folders(settings),
            limits=LoadLimits(
                timeout=settings.core.dagbag_import_timeout,
                memory_limit_mb=settings.scheduler.parsing_memory_limit_mb,
            ),
        )
        self.spare: _Spare | None = None
        self.last_start = 0.0
        self.hostname = socket.gethostname()
        self.engine: Any = None
        self.stopping = False

    # main loop

    def warm_up(self) -> None:
        """Import here, once, everything a task process needs, so each forked child starts at once."""
        import cryptography.fernet  # noqa: F401
        import jinja2.ext
        import jinja2.nativetypes  # noqa: F401
        import jsonschema  # noqa: F401

        import flowctl.executors.process_tree
        import flowctl.executors.spool
        import flowctl.executors.task_runner
        import flowctl.logs
        import flowctl.notify
        import flowctl.operators
        import flowctl.sensors
        import flowctl.services.connections
        import flowctl.services.variables
        import flowctl.templating
        import flowctl.variable
        from flowctl.executors.process import warm_engine
        from flowctl.parsing.processor import put_on_import_path

        put_on_import_path(self.loader.folders)  # DAG files import modules next to them, as when parsed
        self.engine = warm_engine(self.settings)
        flowctl.executors.process_tree.boot_id()  # read once here: every task process records it
        gc.freeze()  # keep what is imported now out of the collector: forked children share its pages

    def serve(self, parent_pid: int) -> None:
        signal.signal(signal.SIGTERM, self._on_parent_gone)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the scheduler, which stops us
        set_parent_death_signal(signal.SIGTERM)
        if os.getppid() != parent_pid:  # it died before the signal was asked for: it will never come
            os._exit(0)
        self.warm_up()
        self.selector.register(self.connection, selectors.EVENT_READ, ("command", None))
        while not (self.stopping and not self.children and not self.loader.probes):
            for key, _ in self.selector.select(self._select_timeout()):
                kind, pid = key.data
                if kind == "command":
                    self._receive()
                elif kind == "probe":
                    self._probe_ended(pid)
                elif kind == "callback":
                    self.selector.unregister(pid)
                    os.waitpid(self.callbacks.pop(pid), 0)
                    os.close(pid)
                elif kind == "spare":
                    if self.spare and self.spare.pid == pid:  # it died while waiting: the next try forks anew
                        self._drop_spare()
                elif pid not in self.children:
                    continue  # reaped earlier in this batch
                elif kind == "output":
                    self._read_output(self.children[pid])
                elif kind == "exit":
                    self._reap(self.children[pid])
            self._enforce_deadlines()
            if self.spare and (self.stopping or time.monotonic() - self.last_start >= SPARE_IDLE_SECONDS):
                self._drop_spare()
        self._drop_spare()
        os._exit(0)

    def _select_timeout(self) -> float | None:
        deadlines = [c.deadline for c in self.children.values() if c.deadline is not None]
        if (probe_deadline := self.loader.next_deadline()) is not None:
            deadlines.append(probe_deadline)
        deadlines += [c.killed_at + KILL_GRACE_SECONDS for c in self.children.values() if c.killed_at]
        if self.spare:
            deadlines.append(self.last_start + SPARE_IDLE_SECONDS)
        return max(min(deadlines) - time.monotonic(), 0) if deadlines else None

    def _receive(self) -> None:
        try:
            message, payload = self.connection.recv()
        except (EOFError, OSError):  # the executor is gone: stop everything
            self._on_parent_gone(signal.SIGTERM, None)
            return
        if message == "run":
            if self.loader.ready(payload.fileloc, ("run", payload)):
                self._start(payload)
        elif message == "callback":
            if self.loader.ready(payload.fileloc, ("callback", payload)):
                self._start_callback(payload)
        elif message == "terminate":
            for child in self.children.values():
                if child.command.key == payload:
                    self._kill(child, "terminated by the scheduler")
            for probe in self.loader.probes.values():
                for waiting in [m for m in probe.waiting if m[0] == "run" and m[1].key == payload]:
                    probe.waiting.remove(waiting)
                    self._refuse(waiting[1], "terminated by the scheduler before its DAG file was loaded")
        elif message == "stop":
            self.stopping = True  # finish the running tries; "terminate" messages may still follow

    # children

    def _probe_ended(self, path: str) -> None:
        """A DAG file's probe import ended: start what waited for it, or fail it with the reason."""
        messages, error = self.loader.probe_ended(path)
        for kind, payload in messages:
            if error is not None:
                self._refuse(payload, f"cannot load the DAG from {path}: {error}")
            elif kind == "run":
                self._start(payload)
            else:
                self._start_callback(payload)

    def _refuse(self, payload: Any, reason: str) -> None:
        """A try (or a DAG callback) that cannot run: the reason goes to its log, the try fails."""
        try:
            append_line(payload.log_path, f"[flowctl] {reason}")
        except OSError as exc:
            print(f"cannot write {payload.log_path}: {exc}", file=sys.stderr)
        if isinstance(payload, TaskCommand):
            self._send(TaskEvent(key=payload.key, kind=EventKind.STARTED, hostname=self.hostname, at=_now()))
            self._send(
                TaskEvent(
                    key=payload.key,
                    kind=EventKind.FINISHED,
                    hostname=self.hostname,
                    outcome=TaskOutcome(state="failed", error=reason),
                    exit_code=1,
                    at=_now(),
                )
            )

    def _start(self, command: TaskCommand) -> None:
        generation = self.loader.generation
        spare = self.spare if self.spare and self.spare.generation == generation else None
        if spare is None:
            self._drop_spare()
            spare = self._fork_spare()
        self.spare = None
        payload = pickle.dumps(command)
        # Far below the pipe's buffer, so it never blocks. If the spare died just now, its exit is
        # reported as this try's end.
        with contextlib.suppress(OSError):
            os.write(spare.command_fd, payload)
        os.close(spare.command_fd)
        self.last_start = time.monotonic()
        deadline = self.last_start + command.execution_timeout if command.execution_timeout else None
        child = _Child(
            command=command, pid=spare.pid, pidfd=spare.pidfd, outcome_fd=spare.outcome_fd, deadline=deadline
        )
        self.children[spare.pid] = child
        self.selector.modify(spare.pidfd, selectors.EVENT_READ, ("exit", spare.pid))
        self.selector.register(spare.outcome_fd, selectors.EVENT_READ, ("output", spare.pid))
        self._send(TaskEvent(key=command.key, kind=EventKind.STARTED, pid=spare.pid, hostname=self.hostname, at=_now()))
        if not self.stopping:
            self.spare = self._fork_spare()  # for the next try, while this one runs

    def _fork_spare(self) -> _Spare:
        command_read, command_write = os.pipe()
        outcome_read, outcome_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the task process, until its try arrives
            os.close(command_write)
            os.close(outcome_read)
            code = 1
            try:
                code = self._child_main(command_read, outcome_write)
            finally:
                os._exit(code)
        os.close(command_read)
        os.close(outcome_write)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # as the child does: its group exists before we may signal it
        pidfd = os.pidfd_open(pid)
        self.selector.register(pidfd, selectors.EVENT_READ, ("spare", pid))
        return _Spare(pid, pidfd, command_write, outcome_read, self.loader.generation)

    def _drop_spare(self) -> None:
        spare, self.spare = self.spare, None
        if spare is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(spare.pid, signal.SIGKILL)  # not killpg: it may not have made its group yet
        self.selector.unregister(spare.pidfd)
        os.waitpid(spare.pid, 0)
        for fd in (spare.pidfd, spare.command_fd, spare.outcome_fd):
            os.close(fd)

    def _start_callback(self, request: Any) -> None:
        """A child that calls the DAG's run callback; nothing reports back (a failure is in its log)."""
        from flowctl.executors.process import run_dag_callback

        dag = (self.loader.dags(request.fileloc) or {}).get(request.run.dag_id)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                gc.disable()
                os.setpgid(0, 0)
                set_parent_death_signal(signal.SIGKILL)
                self.connection.close()
                code = run_dag_callback(request, dag, settings=self.settings)
            finally:
                os._exit(code)
        pidfd = os.pidfd_open(pid)
        self.callbacks[pidfd] = pid
        self.selector.register(pidfd, selectors.EVENT_READ, ("callback", pidfd))

    def _child_main(self, command_fd: int, outcome_fd: int) -> int:
        from flowctl.executors.process import capture_output, run_in_child

        gc.disable()  # a short-lived child: collection would only copy the worker's shared pages
        os.setpgid(0, 0)
        set_parent_death_signal(signal.SIGKILL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        self.connection.close()
        # Everything that does not depend on the try is done before it arrives.
        self.engine.dispose(close=False)  # the worker's pool (empty) is not ours; keep the compiled-SQL cache
        masker = capture_output()
        group = group_record(ProcessGroupIdentity.of_this_process())
        with os.fdopen(command_fd, "rb") as pipe:
            try:
                command = pickle.load(pipe)
            except EOFError:  # dropped before it got a try
                return 0
        # as the worker had it when this process forked
        dag = (self.loader.dags(command.fileloc) or {}).get(command.key.dag_id)
        return run_in_child(
            command,
            dag,
            settings=self.settings,
            engine=self.engine,
            outcome_fd=outcome_fd,
            masker=masker,
            group=group,
        )

    def _read_output(self, child: _Child) -> None:
        data = os.read(child.outcome_fd, 1 << 16)
        if data:
            child.output += data
            return
        self.selector.unregister(child.outcome_fd)
        outcome = None if child.kill_reason else TaskOutcome.from_json(child.output)
        # A success is reported now: the process only has to exit, which takes a while. Anything else may
        # be followed by another try of the same task, so it waits until the process and its group are gone.
        if outcome is not None and outcome.state in ("success", "skipped"):
            child.reported = True
            self._send_finished(child, outcome=outcome, exit_code=outcome.exit_code, reason=None)

    def _reap(self, child: _Child) -> None:
        _, status = os.waitpid(child.pid, 0)
        self.selector.unregister(child.pidfd)
        os.close(child.pidfd)
        if child.outcome_fd in self.selector.get_map():
            self.selector.unregister(child.outcome_fd)
        while data := _read_rest(child.outcome_fd):
            child.output += data
        os.close(child.outcome_fd)
        del self.children[child.pid]
        killpg(child.pid, signal.SIGKILL)  # whatever the task left running in its group
        if child.reported:
            return
        outcome = TaskOutcome.from_json(child.output)
        code = os.waitstatus_to_exitcode(status)
        reason = child.kill_reason or _exit_reason(code)
        if outcome is None or child.kill_reason:
            outcome = None
            try:
                append_line(child.command.log_path, f"[flowctl] task process {child.pid} ended: {reason}")
            except OSError as exc:  # the event still records the reason
                print(f"cannot write {child.command.log_path}: {exc}", file=sys.stderr)
        self._send_finished(child, outcome=outcome, exit_code=code, reason=None if outcome else reason)

    def _send_finished(self, child: _Child, *, outcome: TaskOutcome | None, exit_code: int, reason: str | None) -> None:
        self._send(
            TaskEvent(
                key=child.command.key,
                kind=EventKind.FINISHED,
                pid=child.pid,
                hostname=self.hostname,
                outcome=outcome,
                exit_code=exit_code,
                reason=reason,
                at=_now(),
            )
        )

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        self.loader.enforce_deadlines(now)
        for child in list(self.children.values()):
            if child.killed_at is None and child.deadline is not None and now >= child.deadline:
                self._kill(child, f"execution_timeout of {child.command.execution_timeout:g}s exceeded")
            elif child.killed_at is not None and now >= child.killed_at + KILL_GRACE_SECONDS:
                killpg(child.pid, signal.SIGKILL)

    def _kill(self, child: _Child, reason: str) -> None:
        """SIGTERM to the task's whole process group, SIGKILL after a grace period."""
        child.kill_reason = child.kill_reason or reason
        child.killed_at = time.monotonic()
        killpg(child.pid, signal.SIGTERM)

    def _on_parent_gone(self, signum: int, _frame: Any) -> None:
        for child in self.children.values():
            killpg(child.pid, signal.SIGKILL)
        self.loader.kill_probes()
        if self.spare:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.spare.pid, signal.SIGKILL)
        os._exit(0)

    def _send(self, event: TaskEvent) -> None:
        try:
            self.connection.send(event)
        except OSError:
            self._on_parent_gone(signal.SIGTERM, None)


def killpg(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _read_rest(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 16)
    except BlockingIOError:
        return b""


def _exit_reason(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exited with code {code} without reporting an outcome"


def worker_main(connection: Connection, settings: Settings, parent_pid: int) -> None:
    close_inherited_fds(keep={connection.fileno()})
    Worker(connection, settings).serve(parent_pid)


def _now() -> datetime:
    return datetime.now(UTC)
