"""The webserver under API load while the scheduler is busy (issue 10, item 9), on SQLite.

    python bench/web_load.py [--runs 50] [--tasks 20] [--task-seconds 3] [--rate 20] [--duration 60] [--users 5]

Set-up: a temporary FLOWCTL_HOME on SQLite with one DAG of --tasks tasks of --task-seconds each
(BashOperator `sleep`, max_active_runs = --runs, max_active_tasks 32 = the default parallelism),
`flowctl db init`, `flowctl dags reserialize`, --users Viewer users; then real `flowctl scheduler`
and `flowctl webserver` processes (the webserver with its default threads). --runs runs are
triggered through the API, and the load starts at once.

Load: an open loop of --rate requests per second for --duration seconds, each sent on schedule
whether or not earlier ones have been answered (a slow server is not given a rest), cycling through
the users (HTTP basic, a fresh connection each time, as scripts do) and a mix of API GETs: the DAG
list, the DAG's runs, one run's task instances, one run, the health check. Printed: requests sent,
answers by status, HTTP 5xx and connection errors, latency p50 / p99 / max, and how many runs and
tasks the scheduler finished meanwhile.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

DAG_ID = "load"
WARM_UP_SECONDS = 5.0
PASSWORD = "load-password-1"
SOURCE = """
from flowctl import DAG
from flowctl.operators import BashOperator

with DAG("{dag_id}", schedule=None, is_paused_upon_creation=False, max_active_runs={runs}, max_active_tasks=32):
    for i in range({tasks}):
        BashOperator(task_id=f"t{{i:02d}}", bash_command="sleep {seconds}")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Installation:
    """A FLOWCTL_HOME with its scheduler and webserver processes."""

    def __init__(self, home: Path, *, runs: int, tasks: int, seconds: float, users: int) -> None:
        self.home = home
        self.flowctl = [sys.executable, "-m", "flowctl"]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWCTL_")}
        self.env.update(FLOWCTL_HOME=str(home), FLOWCTL__CORE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'flowctl.db'}")
        self.users = [f"reader{n}" for n in range(users)]
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        (home / "dags").mkdir(parents=True)
        source = SOURCE.format(dag_id=DAG_ID, runs=runs, tasks=tasks, seconds=seconds)
        (home / "dags" / f"{DAG_ID}.py").write_text(source)

    def run(self, *args: str) -> None:
        subprocess.run([*self.flowctl, *args], env=self.env, check=True, capture_output=True)

    def set_up(self) -> None:
        self.run("db", "init")
        self.run("dags", "reserialize")
        self.run("users", "create", "-u", "admin", "-r", "Admin", "-e", "admin@example.com", "-p", PASSWORD)
        for name in self.users:
            self.run("users", "create", "-u", name, "-r", "Viewer", "-e", f"{name}@example.com", "-p", PASSWORD)

    def start(self, name: str, *args: str) -> None:
        log = (self.home / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen([*self.flowctl, name, *args], env=self.env, stdout=log, stderr=log)

    def wait_for_webserver(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/api/v1/health", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise SystemExit(f"the webserver did not answer within {timeout}s; see {self.home / 'webserver.log'}")

    def api(self, method: str, path: str, **kwargs: object) -> requests.Response:
        """The admin's request, tried again after an error answer (what is measured is the load's answers)."""
        for _ in range(10):
            answer = requests.request(method, self.base + path, auth=("admin", PASSWORD), timeout=60, **kwargs)
            if answer.status_code < 500:
                break
            time.sleep(0.5)
        return answer

    def run_states(self) -> collections.Counter[str]:
        answer = self.api("GET", f"/api/v1/dags/{DAG_ID}/dagRuns?limit=1000").json()
        return collections.Counter(run["state"] for run in answer["dag_runs"])

    def task_states(self, run_ids: list[str]) -> collections.Counter[str]:
        found: collections.Counter[str] = collections.Counter()
        for run_id in run_ids:
            answer = self.api("GET", f"/api/v1/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()
            found.update(ti["state"] or "none" for ti in answer["task_instances"])
        return found

    def stop(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            process.wait(60)


def send_load(
    site: Installation, *, rate: float, duration: float, run_ids: list[str]
) -> list[tuple[int, float, float, str]]:
    """(status, seconds, when sent, path) of each request sent at `rate` per second for `duration`
    seconds; status 0 is a connection error or a client timeout."""
    paths = [
        "/api/v1/dags",
        f"/api/v1/dags/{DAG_ID}/dagRuns?limit=100",
        *(f"/api/v1/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances" for run_id in run_ids[:5]),
        f"/api/v1/dags/{DAG_ID}/dagRuns/{run_ids[0]}",
        "/api/v1/health",
    ]
    results: list[tuple[int, float, float, str]] = []
    lock = threading.Lock()

    def one(n: int) -> None:
        user, path = site.users[n % len(site.users)], paths[n % len(paths)]
        started = time.perf_counter()
        try:
            status = requests.get(site.base + path, auth=(user, PASSWORD), timeout=30).status_code
        except requests.RequestException:
            status = 0
        with lock:
            results.append((status, time.perf_counter() - started, started - begun, path))

    total = int(rate * duration)
    with concurrent.futures.ThreadPoolExecutor(max_workers=200) as pool:
        begun = time.perf_counter()
        for n in range(total):
            delay = begun + n / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, n)
    return results


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50, help="runs active during the load")
    parser.add_argument("--tasks", type=int, default=20, help="tasks per run")
    parser.add_argument("--task-seconds", type=float, default=3.0, help="how long each task sleeps")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--users", type=int, default=5, help="basic-auth users the requests cycle through")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="flowctl-bench-web-load-"))
    site = Installation(home, runs=args.runs, tasks=args.tasks, seconds=args.task_seconds, users=args.users)
    try:
        site.set_up()
        site.start("scheduler")
        site.start("webserver", "-H", "127.0.0.1", "-p", str(site.port))
        site.wait_for_webserver()
        run_ids = []
        for _ in range(args.runs):
            answer = site.api("POST", f"/api/v1/dags/{DAG_ID}/dagRuns", json={})
            answer.raise_for_status()
            run_ids.append(answer.json()["dag_run_id"])
        print(f"{args.runs} runs of {args.tasks} tasks triggered; load average {os.getloadavg()[0]:.2f}")

        results = send_load(site, rate=args.rate, duration=args.duration, run_ids=run_ids)
        states = site.run_states()
        tasks = site.task_states(run_ids)
    finally:
        site.stop()

    statuses = collections.Counter(status for status, *_ in results)
    latencies = [seconds for _, seconds, *_ in results]
    server_errors = sum(count for status, count in statuses.items() if status >= 500)
    print(f"command: python bench/web_load.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"requests sent: {len(results)} at {args.rate:g}/s for {args.duration:g}s, {args.users} users")
    print(f"answers by status: {dict(sorted(statuses.items()))}")
    print(f"HTTP 5xx: {server_errors}   connection errors/timeouts: {statuses.get(0, 0)}")
    print(
        f"latency p50 {statistics.median(latencies):.3f}s  p99 {percentile(latencies, 0.99):.3f}s  "
        f"max {max(latencies):.3f}s"
    )
    settled = [seconds for _, seconds, sent, _ in results if sent >= WARM_UP_SECONDS]
    print(
        f"after the first {WARM_UP_SECONDS:g}s (each user's password hashed once by then): "
        f"p50 {statistics.median(settled):.3f}s  p99 {percentile(settled, 0.99):.3f}s  max {max(settled):.3f}s"
    )
    print(f"after the load: runs {dict(states)}, tasks {dict(tasks)}; load average {os.getloadavg()[0]:.2f}")
    webserver_log = (home / "webserver.log").read_text(errors="replace").splitlines()
    queue_lines = sum("Task queue depth" in line or "waited for a free thread" in line for line in webserver_log)
    print(f"webserver log: {len(webserver_log)} lines, {queue_lines} about requests queueing for a thread")
    slowest = sorted(results, key=lambda result: -result[1])[:5]
    print("slowest: " + ", ".join(f"{path} {seconds:.2f}s at {sent:.0f}s" for _, seconds, sent, path in slowest))
    if server_errors or statuses.get(0, 0):
        print(f"logs kept in {home}")
    else:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
