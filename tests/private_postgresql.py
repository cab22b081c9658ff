"""A PostgreSQL server of the test's own (initdb into a temporary folder, on a free port), which a test may
stop and start again to make a metadata DB outage: the shared server on 5432 is never touched.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user. Skips the
test, saying why, when the PostgreSQL server binaries are not installed.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.web.webserver_process import free_port


def _bin_folder() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)")
    return Path(found[-1]).parent


class PrivatePostgreSQL:
    """initdb'd at construction; `start()`, `stop()`, `remove()`; `url(database)` to connect."""

    def __init__(self) -> None:
        self.bin = _bin_folder()
        self.port = free_port()
        self.run_as: list[str] = []
        self.root = Path(tempfile.mkdtemp(prefix="flowctl-private-pg-"))
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no `postgres` user to run a PostgreSQL server as")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self.data = self.root / "data"
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")

    def stop(self) -> None:
        """A fast shutdown: connections are cut, as in a crash of the database server or its host."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        command = [*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.data), "status"]
        result = subprocess.run(command, capture_output=True, check=False)
        return result.returncode == 0

    def create_database(self, name: str) -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-5_000:] if path.exists() else ""

    def remove(self) -> None:
        if self.data.exists() and self.running():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            [*self.run_as, str(self.bin / program), *args], capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, f"{program} {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
