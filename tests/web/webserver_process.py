"""A real `flowctl webserver` process (waitress) on a free 127.0.0.1 port, for the tests where threads,
connections or processes matter: the browser tests, the load test, the outage tests."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.scheduler.conftest import FLOWCTL


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WebserverProcess:
    """`flowctl webserver -p PORT` on 127.0.0.1 in `home`; its stderr goes to a file shown when something
    fails."""

    def __init__(self, home: Path, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stderr_path = home / "webserver.stderr"
        with self.stderr_path.open("ab") as stderr:
            self.popen = subprocess.Popen(
                [*FLOWCTL, "webserver", "-H", "127.0.0.1", "-p", str(self.port), *args],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    def health(self) -> dict[str, Any] | None:
        """The /api/v1/health answer, or None while the server does not answer."""
        code = self.popen.poll()
        if code is not None:
            raise AssertionError(f"the webserver exited with code {code}:\n{self.stderr()}")
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=2) as response:
                return json.load(response)
        except (OSError, urllib.error.URLError, ValueError):
            return None

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-10_000:] if self.stderr_path.exists() else ""

    def stop(self, timeout: float = 20.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise AssertionError(f"the webserver did not exit within {timeout}s of SIGTERM") from None
