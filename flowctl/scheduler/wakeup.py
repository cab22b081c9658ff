"""The scheduler's wake-up socket, the listening side (flowctl.services.wakeup pokes it)."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

from flowctl.services.wakeup import socket_name


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
