"""A worker's imported DAG files: each new version of a file is first imported in a probe child (process
group of its own, memory cap, dagbag_import_timeout), and only if that succeeds imported in the worker
itself, whose forked task processes then start with it loaded (ARCHITECTURE decision 14).

A file that hangs, exits the interpreter or crashes at import therefore costs a probe, never the worker
or the other tries it runs; the tries waiting for that file fail with the reason in their logs. A file
counts as changed when it, or a module it imported from the dags folders, changed.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowctl.dag_definition import DagDefaults
from flowctl.exceptions import FlowctlError
from flowctl.executors.process_tree import close_inherited_fds, set_parent_death_signal
from flowctl.parsing.importer import forget_local_modules, load_dags, local_imports, user_traceback

Stamp = tuple[tuple[str, int, int], ...]
# The end of a long traceback is what matters, and the probe's whole answer must fit the pipe's buffer.
MAX_ERROR_CHARS = 16_000


@dataclass(frozen=True, slots=True)
class LoadLimits:
    timeout: float
    memory_limit_mb: int  # 0: no limit


@dataclass(slots=True)
class _Cached:
    stamp: Stamp
    modules: list[str]  # local modules the file imported (part of its stamp)
    dags: dict[str, Any] | None  # None: the probe succeeded but the worker's own import did not


@dataclass(slots=True)
class _Probe:
    pid: int
    pidfd: int
    result_fd: int
    deadline: float
    output: bytearray = field(default_factory=bytearray)
    killed_for: str | None = None
    waiting: list[Any] = field(default_factory=list)


class DagLoader:
    """The worker asks `ready(path, message)`; a message for a file not loaded yet waits for its probe,
    and comes back from `probe_ended` with the error that stops it (None when the file is loaded)."""

    def __init__(
        self, selector: selectors.BaseSelector, *, defaults: DagDefaults, folders: list[Path], limits: LoadLimits
    ) -> None:
        self.selector = selector
        self.defaults = defaults
        self.folders = folders
        self.limits = limits
        self.cache: dict[str, _Cached] = {}
        self.probes: dict[str, _Probe] = {}
        self.generation = 0  # bumped whenever the cache changes (a spare task process has what it forked with)

    def dags(self, path: str) -> dict[str, Any] | None:
        cached = self.cache.get(path)
        return cached.dags if cached else None

    def ready(self, path: str, message: Any) -> bool:
        """True when `path` is loaded and current: handle `message` now. Otherwise it waits for the file's
        probe (started here if none runs), and is handed back by probe_ended."""
        cached = self.cache.get(path)
        if cached is not None and _stamp(path, cached.modules) == cached.stamp:
            return True
        probe = self.probes.get(path) or self._start_probe(path)
        probe.waiting.append(message)
        return False

    def probe_ended(self, path: str) -> tuple[list[Any], str | None]:
        """The probe of `path` exited: on success import the file here; returns the messages that waited
        and the reason they cannot go on (None when they can)."""
        probe = self.probes.pop(path)
        self.selector.unregister(probe.pidfd)
        while chunk := _read_some(probe.result_fd):
            probe.output += chunk
        os.close(probe.result_fd)
        _, status = os.waitpid(probe.pid, 0)
        os.close(probe.pidfd)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(probe.pid, signal.SIGKILL)  # whatever the file started while it was imported
        error = probe.killed_for or _probe_error(probe.output, os.waitstatus_to_exitcode(status))
        if error is None:
            self._import_here(path, json.loads(probe.output)["modules"])
        return probe.waiting, error

    def next_deadline(self) -> float | None:
        return min((probe.deadline for probe in self.probes.values()), default=None)

    def enforce_deadlines(self, now: float) -> None:
        """Kill probes that ran out of time; their exit comes through the selector as usual."""
        for probe in self.probes.values():
            if probe.killed_for is None and now >= probe.deadline:
                probe.killed_for = f"DAG file import timed out after {self.limits.timeout:g}s (dagbag_import_timeout)"
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(probe.pid, signal.SIGKILL)

    def kill_probes(self) -> None:
        for probe in self.probes.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(probe.pid, signal.SIGKILL)

    # inside

    def _start_probe(self, path: str) -> _Probe:
        result_read, result_write = os.pipe()
        worker_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                # It dies with the worker, and holds none of the worker's pipes: a dead worker must read as
                # closed to its executor even while a probe of it still hangs in a DAG file.
                set_parent_death_signal(signal.SIGKILL)
                if os.getppid() == worker_pid:
                    close_inherited_fds(keep={result_write})
                    self._probe_main(path, result_write)
            finally:
                os._exit(0)
        os.close(result_write)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # as the child does: its group exists before we may kill it
        os.set_blocking(result_read, False)
        pidfd = os.pidfd_open(pid)
        self.selector.register(pidfd, selectors.EVENT_READ, ("probe", path))
        probe = _Probe(pid=pid, pidfd=pidfd, result_fd=result_read, deadline=time.monotonic() + self.limits.timeout)
        self.probes[path] = probe
        return probe

    def _probe_main(self, path: str, result_fd: int) -> None:
        """In the probe child: import the file as the worker would, write what happened, exit."""
        os.setpgid(0, 0)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        if self.limits.memory_limit_mb:
            import resource

            limit = self.limits.memory_limit_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        forget_local_modules(self.folders)
        try:
            with local_imports(self.folders) as imported:
                load_dags(path, self.defaults)
            result = {"modules": sorted(set(imported) - {path})}
        except FlowctlError as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
        except BaseException:  # a DAG file may raise anything, even SystemExit
            result = {"error": user_traceback(path)[-MAX_ERROR_CHARS:]}
        view = memoryview(json.dumps(result).encode())
        while view:
            view = view[os.write(result_fd, view) :]

    def _import_here(self, path: str, modules: list[str]) -> None:
        """Import the file in the worker, under the same timeout (the probe showed it imports; a file that
        behaves differently the second time leaves its tries to import it themselves)."""
        stamp = _stamp(path, modules)
        for name, module in list(sys.modules.items()):
            if getattr(module, "__file__", None) in modules:
                del sys.modules[name]  # a helper that changed is read again
        try:
            with import_time_limit(self.limits.timeout):
                dags: dict[str, Any] | None = load_dags(path, self.defaults)
        except BaseException:  # the task process imports it again and logs why it fails
            dags = None
        if stamp is not None:
            self.cache[path] = _Cached(stamp=stamp, modules=modules, dags=dags)
            self.generation += 1


def _probe_error(output: bytes | bytearray, exit_code: int) -> str | None:
    try:
        result = json.loads(output)
    except ValueError:
        if exit_code < 0:
            name = signal.Signals(-exit_code).name
            hint = " (out of memory?)" if name == "SIGKILL" else ""
            return f"the process importing the DAG file was killed by {name}{hint}"
        return f"the process importing the DAG file exited with code {exit_code} before finishing (os._exit?)"
    return result.get("error")


def _stamp(path: str, modules: list[str]) -> Stamp | None:
    """(path, mtime, size) of the file and of each local module it imported; None if the file is gone."""
    stamps = []
    for name in (path, *modules):
        try:
            stat = os.stat(name)
        except OSError:
            if name == path:
                return None
            stamps.append((name, 0, -1))  # a helper that vanished: the file must be imported again
            continue
        stamps.append((name, stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


def _read_some(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 16)
    except BlockingIOError:
        return b""


class ImportTimeout(Exception):
    pass


@contextlib.contextmanager
def import_time_limit(seconds: float) -> Iterator[None]:
    """Raise ImportTimeout if the block runs longer than `seconds` (only in the main thread, where Python
    delivers signals; elsewhere the block runs without a limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(_signum: int, _frame: Any) -> None:
        raise ImportTimeout(f"import took longer than {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
