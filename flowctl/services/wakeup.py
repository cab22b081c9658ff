"""Poking the scheduler's wake-up socket after a trigger, clear or unpause, so it acts at once instead of
at its next timer (the CLI, the web UI and the API all do; flowctl.scheduler.wakeup listens).

A Linux abstract-namespace datagram socket named after FLOWCTL_HOME: nothing on disk to clean up, and
a poke when no scheduler listens is simply lost.
"""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path


def socket_name(home: Path) -> bytes:
    return b"\0flowctl-scheduler-" + hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:24].encode()


def poke(home: Path) -> bool:
    """Wake the scheduler of this FLOWCTL_HOME if one is listening; never raises."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
            client.setblocking(False)
            client.sendto(b"wake", socket_name(home))
        return True
    except OSError:
        return False
