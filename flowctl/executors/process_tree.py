"""Finding and killing what is left of a task try's process group, by the identity its leader recorded.

A try runs in its own process group, led by its task process. When that process dies with its worker
(parent-death signal), the processes it started live on in the group. Whoever recovers the try — the
executor that saw its worker die, or a scheduler taking over from a dead one — kills that group and waits
until no member runs before it lets the try be retried. Linux only (/proc); elsewhere nothing is found.

A group id is the leader's pid, and Linux does not hand out a pid again while a group of that number
exists; the recorded boot id and the leader's start time tell our group from a later one with the same
number once ours is gone.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import stat
import time
from dataclasses import asdict, dataclass
from typing import Any

_PROC = "/proc"
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class ProcessGroupIdentity:
    """Who led a try's process group: enough to find its survivors later, and to refuse a stranger's."""

    pgid: int
    hostname: str
    boot_id: str
    leader_started: int  # the leader's start time, in clock ticks after boot (/proc/PID/stat field 22)

    @classmethod
    def of_this_process(cls) -> ProcessGroupIdentity:
        pid = os.getpid()
        return cls(pgid=os.getpgid(0), hostname=socket.gethostname(), boot_id=boot_id(), leader_started=_started(pid))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcessGroupIdentity:
        return cls(
            pgid=int(data["pgid"]),
            hostname=str(data["hostname"]),
            boot_id=str(data["boot_id"]),
            leader_started=int(data["leader_started"]),
        )

    def is_local(self) -> bool:
        return self.hostname == socket.gethostname() and self.boot_id == boot_id()


@functools.cache
def boot_id() -> str:
    try:
        with open(f"{_PROC}/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def survivors(identity: ProcessGroupIdentity) -> list[int]:
    """Pids of the live (not zombie) processes of that try's group on this machine; [] when the group is
    gone, belongs to another boot, or has been taken by a stranger."""
    if not identity.is_local():
        return []  # another machine, or before a reboot: nothing of it can run here
    members = {pid: started for pid, started in _group_members(identity.pgid)}
    leader_started = members.get(identity.pgid)
    if leader_started is not None and leader_started != identity.leader_started:
        return []  # the number leads someone else's group now: ours ended before it was reused
    # Everything of ours started after our leader did; a member that did not is someone else's.
    return [pid for pid, started in members.items() if started >= identity.leader_started]


def kill_group(identity: ProcessGroupIdentity, *, timeout: float = 10.0) -> bool:
    """SIGKILL whatever is left of the group and wait until none of it runs; returns whether it is gone."""
    deadline = time.monotonic() + timeout
    while pids := survivors(identity):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True


def _group_members(pgid: int) -> list[tuple[int, int]]:
    """(pid, start time) of every live process whose group is `pgid`."""
    members = []
    try:
        names = os.listdir(_PROC)
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        stat = _stat_fields(int(name))
        # fields after the command name: state, ppid, pgrp, ... starttime is the 20th of them
        if stat is not None and stat[0] != "Z" and int(stat[2]) == pgid:
            members.append((int(name), int(stat[19])))
    return members


def _started(pid: int) -> int:
    stat = _stat_fields(pid)
    return int(stat[19]) if stat is not None else 0


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    return raw[raw.rfind(b")") + 2 :].decode("ascii", "replace").split()


def set_parent_death_signal(signum: int) -> None:
    """Ask Linux to send `signum` to this process when its parent dies (no-op elsewhere). A caller must
    then check that its parent is still the one it expects: one that died just before is never signalled."""
    with contextlib.suppress(OSError, AttributeError):
        _libc().prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)


@functools.cache
def _libc() -> Any:
    import ctypes

    return ctypes.CDLL("libc.so.6", use_errno=True)  # loaded once in a worker: its children inherit it


def close_inherited_fds(keep: set[int]) -> None:
    """Close the pipes and sockets this (just forked) process got from its parent, but stdin/stdout/stderr
    and `keep`: a pipe the parent holds must read as closed once the parent dies, and a socket it listens
    on must be free for its successor. Regular files stay open: SQLite keeps per-process books of the
    descriptors of its database files, and would lose its locks if one closed behind its back. The Python
    objects that wrapped what is closed stay unused in this process."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in fds:
        if fd <= 2 or fd in keep:
            continue
        with contextlib.suppress(OSError):
            mode = os.fstat(fd).st_mode
            if stat.S_ISSOCK(mode) or stat.S_ISFIFO(mode):
                os.close(fd)
