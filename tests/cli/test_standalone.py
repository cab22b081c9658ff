"""`flowctl standalone` as a user runs it: one command that prepares the DB, prints the admin password
once, serves the web UI and runs the scheduler, and stops both on Ctrl-C (SPEC §1)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.scheduler.conftest import pid_alive, wait_until


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, *, auth: tuple[str, str] | None = None) -> tuple[int, bytes]:
    import base64

    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def sqlite_home(tmp_path: Path, db_url: str) -> Path:
    if not db_url.startswith("sqlite"):
        pytest.skip("standalone is the SQLite try-out")
    return tmp_path / "home"


def test_standalone_serves_the_ui_runs_the_scheduler_and_stops_both_on_ctrl_c(sqlite_home: Path) -> None:
    # Given a fresh home and a free port
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWCTL_")}
    env.update(FLOWCTL_HOME=str(sqlite_home), FLOWCTL__WEBSERVER__WEB_SERVER_PORT=str(port))
    output = sqlite_home.parent / "standalone.out"

    # When
    with output.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowctl", "standalone"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        printed = wait_until(
            lambda: "Web UI:" in output.read_text() and output.read_text(), timeout=60, what="the Web UI line"
        )

        # Then: the password is printed once and kept 0600; the UI, the API and the scheduler answer
        password = re.search(r"password '([^']+)'", printed).group(1)  # type: ignore[union-attr]
        password_file = sqlite_home / "standalone_admin_password.txt"
        assert password_file.read_text().strip() == password
        assert password_file.stat().st_mode & 0o777 == 0o600
        assert _get(f"http://127.0.0.1:{port}/login")[0] == 200
        wait_until(
            lambda: json.loads(_get(f"http://127.0.0.1:{port}/api/v1/health")[1])["scheduler"]["status"] == "healthy",
            timeout=30,
            what="a healthy scheduler in /api/v1/health",
        )
        webserver_pid = int((sqlite_home / "webserver.pid").read_text())
        scheduler_pid = int((sqlite_home / "scheduler.pid").read_text())
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        code = process.wait(60)

    assert code == 0, output.read_text()
    assert not pid_alive(webserver_pid) and not pid_alive(scheduler_pid)
    assert not (sqlite_home / "webserver.pid").exists()
    assert "Traceback" not in output.read_text()


def test_standalone_fails_with_one_line_when_the_port_is_taken(sqlite_home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWCTL_")}
        env.update(FLOWCTL_HOME=str(sqlite_home), FLOWCTL__WEBSERVER__WEB_SERVER_PORT=str(port))

        result = subprocess.run(
            [sys.executable, "-m", "flowctl", "standalone"], env=env, capture_output=True, text=True, timeout=60
        )

    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
