"""The scheduler's wake-up socket: the CLI and the web poke it after a trigger, clear or unpause, so the
scheduler acts at once instead of at its next timer.

A Linux abstract-namespace datagram socket named after FLOWCTL_HOME: nothing on disk to clean up, and
a poke when no scheduler listens is simply lost.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
from pathlib import Path


def socket_name(home: Path) -> bytes:
    return b"\0flowctl-scheduler-" + hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:24].encode()


class WakeupSocket:
    """The listening side, owned by the scheduler; `fileno()` goes into its selector."""

    def __init__(self, home: Path) -> None:
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(socket_name(home))
        self._socket.setblocking(False)

    def fileno(self) -> int:
        return self._socket.fileno()

    def drain(self) -> int:
        """Read every pending poke; returns how many there were."""
        count = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                self._socket.recv(64)
                count += 1
        return count

    def close(self) -> None:
        self._socket.close()


def poke(home: Path) -> bool:
    """Wake the scheduler of this FLOWCTL_HOME if one is listening; never raises."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
            client.setblocking(False)
            client.sendto(b"wake", socket_name(home))
        return True
    except OSError:
        return False
