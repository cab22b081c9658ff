"""Benchmarks of the web server (P7, P8 web side) against a real `flowctl webserver` process on SQLite.

    python bench/web.py [--runs 5]

Set-up (no scheduler): 200 DAG files in a temporary FLOWCTL_HOME -- one of 1 000 tasks in 20 layers of
50 (each task waits for two of the layer before), 199 of 5 tasks -- `flowctl db init`, `flowctl dags
reserialize`, `flowctl users create`; then 25 runs of the big DAG and 2 of each small one are started
through the trigger service and the scheduler's start_run (as tests/web/conftest.py seeds them), and
their task states varied with one UPDATE per run.

Workloads, each the median of --runs samples, timed from the client (HTTP on 127.0.0.1, logged in):
the server is started --runs times; each start gives one sample of the time to its first HTTP 200
(GET /api/v1/health), of the first graph page (the version deserialized and laid out then), and of the
idle RSS once a few pages were served; the warm figures are --runs requests each to the last server.
Server CPU per request (summed over its threads, from /proc) is printed alongside: the machine is shared.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from timing import report

BIG_DAG = "big_1000"
SMALL_DAGS = 199
BIG_RUNS = 25
SMALL_RUNS = 2
USER, PASSWORD = "bench", "bench-password-1"

BIG_SOURCE = f"""
import pendulum
from flowctl import DAG
from flowctl.operators import EmptyOperator

with DAG("{BIG_DAG}", schedule="@hourly", start_date=pendulum.datetime(2024, 1, 1), catchup=False, tags=["big"]):
    layers = [[EmptyOperator(task_id=f"l{{layer:02d}}_t{{n:02d}}") for n in range(50)] for layer in range(20)]
    for above, below in zip(layers, layers[1:]):
        for n, task in enumerate(below):
            [above[n], above[(n * 7 + 3) % 50]] >> task
"""

SMALL_SOURCE = """
import pendulum
from flowctl import DAG
from flowctl.operators import BashOperator, EmptyOperator

with DAG("small_{n:03d}", schedule="*/15 * * * *", start_date=pendulum.datetime(2024, 1, 1), catchup=False,
         tags=["team_{team}", "small"]):
    start = EmptyOperator(task_id="start")
    work = [BashOperator(task_id=f"work_{{i}}", bash_command="echo {{{{ ds }}}}") for i in range(3)]
    start >> work >> EmptyOperator(task_id="end")
"""

# task states by (task instance id % 10): mostly success, some of everything the grid colours
FINISHED_MIX = ["success"] * 6 + ["failed", "upstream_failed", "skipped", "up_for_retry"]
RUNNING_MIX = ["success"] * 4 + ["running", "queued", "scheduled", "none", "failed", "up_for_retry"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree(pid: int) -> list[int]:
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid, *[p for child in children for p in tree(int(child))]]


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """On-CPU time of the process's live threads (ns resolution, unlike the clock ticks of /proc/pid/stat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a thread that just ended
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def set_up(home: Path, flowctl: list[str]) -> None:
    dags = home / "dags"
    dags.mkdir(parents=True)
    (dags / f"{BIG_DAG}.py").write_text(BIG_SOURCE)
    for n in range(SMALL_DAGS):
        (dags / f"small_{n:03d}.py").write_text(SMALL_SOURCE.format(n=n, team=n % 7))
    for command in (
        ["db", "init"],
        ["dags", "reserialize"],
        ["users", "create", "-u", USER, "-r", "Viewer", "-e", "bench@example.com", "-p", PASSWORD],
    ):
        subprocess.run([*flowctl, *command], check=True, capture_output=True)
    add_runs()


def add_runs() -> None:
    from sqlalchemy import case, update

    from flowctl.config import settings_from_environment
    from flowctl.db.engine import make_engine, make_session_factory, session_scope
    from flowctl.db.models import DagRun, TaskInstance
    from flowctl.scheduler.runs import DagVersions, start_run
    from flowctl.services.actor import Actor
    from flowctl.services.runs import trigger_dag

    engine = make_engine(settings_from_environment().core.sql_alchemy_conn)
    versions = DagVersions()
    first = datetime(2026, 11, 1, tzinfo=UTC)
    wanted = [(BIG_DAG, n) for n in range(BIG_RUNS)]
    wanted += [(f"small_{d:03d}", n) for d in range(SMALL_DAGS) for n in range(SMALL_RUNS)]
    with session_scope(make_session_factory(engine)) as session:
        for dag_id, n in wanted:
            logical_date = first + timedelta(hours=n)
            started = logical_date + timedelta(minutes=1)
            newest = n == (BIG_RUNS if dag_id == BIG_DAG else SMALL_RUNS) - 1
            run = trigger_dag(session, dag_id, actor=Actor("bench", started), logical_date=logical_date)
            start_run(session, run, versions, now=started)
            session.flush()
            mix = RUNNING_MIX if newest else FINISHED_MIX
            ended = started + timedelta(minutes=5 + n % 7)
            session.execute(
                update(TaskInstance)
                .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
                .values(
                    state=case(*((TaskInstance.id % 10 == i, state) for i, state in enumerate(mix))),
                    try_number=1,
                    start_date=started,
                    end_date=ended,
                    duration=(ended - started).total_seconds(),
                )
            )
            if not newest:
                session.execute(
                    update(DagRun)
                    .where(DagRun.id == run.id)
                    .values(state="failed" if n % 5 == 4 else "success", end_date=ended)
                )
    engine.dispose()


class Server:
    """A `flowctl webserver` subprocess on a free port."""

    def __init__(self, flowctl: list[str], log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log.open("a")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [*flowctl, "webserver", "-p", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT
        )

    def first_ok(self, timeout: float = 60.0) -> float:
        """Seconds from process start to the first 200 from /api/v1/health."""
        while time.perf_counter() - self.started < timeout:
            if self.process.poll() is not None:
                raise SystemExit(f"the webserver exited with {self.process.returncode}; see {self.log.name}")
            try:
                if requests.get(f"{self.base}/api/v1/health", timeout=5).status_code == 200:
                    return time.perf_counter() - self.started
            except requests.ConnectionError:
                pass
            time.sleep(0.01)
        raise SystemExit(f"no answer from the webserver within {timeout}s")

    def log_in(self) -> requests.Session:
        client = requests.Session()
        page = client.get(f"{self.base}/login").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'<meta name="csrf-token" content="([^"]+)"', page
        )
        assert token, "no CSRF token on the login page"
        answer = client.post(
            f"{self.base}/login",
            data={"csrf_token": token.group(1), "username": USER, "password": PASSWORD},
            allow_redirects=False,
        )
        assert answer.status_code == 302, f"login failed: {answer.status_code}"
        return client

    def timed_get(self, client: requests.Session, path: str) -> tuple[float, float, requests.Response]:
        """(wall seconds, server CPU seconds, response) of one GET."""
        cpu = cpu_seconds(self.process.pid)
        started = time.perf_counter()
        response = client.get(self.base + path)
        wall = time.perf_counter() - started
        assert response.status_code == 200, (path, response.status_code)
        return wall, cpu_seconds(self.process.pid) - cpu, response

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        self.log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="flowctl-bench-web-"))
    os.environ["FLOWCTL_HOME"] = str(home)
    flowctl = [sys.executable, "-m", "flowctl"]
    started = time.perf_counter()
    set_up(home, flowctl)
    print(f"set-up: 200 DAGs, {BIG_RUNS + SMALL_DAGS * SMALL_RUNS} runs in {time.perf_counter() - started:.1f}s")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    graph = f"/dags/{BIG_DAG}/graph"
    grid_json = f"/dags/{BIG_DAG}/grid.json"
    cold: dict[str, list[float]] = {"start": [], "graph": [], "graph cpu": [], "rss": []}
    for n in range(args.runs):
        server = Server(flowctl, home / "webserver.log")
        try:
            cold["start"].append(server.first_ok())
            client = server.log_in()
            wall, cpu, response = server.timed_get(client, graph)
            assert response.text.count('<g class="node') >= 1000, "the graph does not draw the 1 000 tasks"
            cold["graph"].append(wall)
            cold["graph cpu"].append(cpu)
            for path in ("/", grid_json, f"/dags/{BIG_DAG}/grid", graph, "/api/v1/dags?limit=100"):
                server.timed_get(client, path)
            time.sleep(2)  # idle
            cold["rss"].append(rss_mib(tree(server.process.pid)))
        finally:
            if n < args.runs - 1:
                server.stop()

    try:  # warm figures, on the last server
        warm: dict[str, tuple[list[float], list[float]]] = {}
        for name, path in (("grid.json", grid_json), ("dags page", "/"), ("graph", graph)):
            walls, cpus = [], []
            for _ in range(args.runs):
                wall, cpu, response = server.timed_get(client, path)
                walls.append(wall)
                cpus.append(cpu)
            warm[name] = (walls, cpus)
            if name == "grid.json":
                data = response.json()
                assert len(data["tasks"]) == 1000 and len(data["runs"]) == BIG_RUNS, "grid.json is not 1 000 x 25"
            if name == "dags page":
                assert "small_048" in response.text and "200" in response.text, "the DAGs page misses DAGs"
    finally:
        server.stop()

    def cpu_note(samples: list[float]) -> None:
        print(f"{'':<44} server CPU median {statistics.median(samples):.3f}s")

    report("P7 grid.json, 1 000 tasks x 25 runs (warm)", warm["grid.json"][0], 0.3)
    cpu_note(warm["grid.json"][1])
    report("P7 DAGs page /, 200 DAGs (warm)", warm["dags page"][0], 0.3)
    cpu_note(warm["dags page"][1])
    report("P7 graph page, 1 000 tasks, first request", cold["graph"], 1.0)
    cpu_note(cold["graph cpu"])
    report("P7 graph page, 1 000 tasks (warm)", warm["graph"][0], 1.0)
    cpu_note(warm["graph"][1])
    report("P8 webserver start -> first HTTP 200", cold["start"], 2.0)
    rss = cold["rss"]
    print(
        f"{'P8 webserver RSS, idle after a few pages':<44} median {statistics.median(rss):.0f} MiB  "
        f"min {min(rss):.0f}  max {max(rss):.0f}  (n={len(rss)}, target <= 150 MB: "
        f"{'ok' if statistics.median(rss) * 1.048576 <= 150 else 'OVER TARGET'})"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    shutil.rmtree(home, ignore_errors=True)  # kept, with the server's log, when something failed


if __name__ == "__main__":
    main()
