"""Pid files and `-D` daemon mode for the long-running commands (scheduler, webserver)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from flowctl.exceptions import FlowctlError


def running_pid(pid_file: Path) -> int | None:
    """The pid in the file if that process is alive."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def refuse_if_running(pid_file: Path, *, what: str) -> None:
    """Raise when another live process holds the pid file. `-D` calls it before daemonizing too: after
    the fork the error would only reach the daemon's log while the command exited 0."""
    other = running_pid(pid_file)
    if other is not None and other != os.getpid():
        raise FlowctlError(f"a {what} is already running (pid {other}, pid file {pid_file})")


@contextlib.contextmanager
def pid_file_held(pid_file: Path, *, what: str) -> Iterator[None]:
    """Write this process's pid for the duration; refuse to start when another live process holds it."""
    refuse_if_running(pid_file, what=what)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{os.getpid()}\n")
    try:
        yield
    finally:
        if running_pid(pid_file) in (os.getpid(), None):
            with contextlib.suppress(OSError):
                pid_file.unlink()


def daemonize(log_file: Path) -> None:
    """Detach from the terminal (double fork); output goes to `log_file`. Returns in the daemon only."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    out = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    sys.stdout.flush()
