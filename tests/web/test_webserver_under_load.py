"""A real `flowctl webserver` (waitress) on SQLite under concurrent basic-auth API reads while a real
scheduler runs tasks (issue 10, item 9): no request may fail with "database is locked" (HTTP 500), and
the waitress queue must not build up into warnings (item 17).

SQLite only: the metadata DB's single-writer lock is what these requests used to trip on. bench/web_load.py
runs the same kind of load, bigger and longer, and its figures are in bench/RESULTS.md.
"""

from __future__ import annotations

import concurrent.futures
import secrets
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from flowctl.db.engine import make_engine
from flowctl.db.models import User
from tests.scheduler.conftest import Deployment, wait_until
from tests.web.webserver_process import WebserverProcess

PASSWORD = "load-test-password"
READERS = [f"reader{n:02d}" for n in range(30)]
RUNS = 10
LOAD_DAG = """
from flowctl import DAG
from flowctl.operators import BashOperator

with DAG("load", schedule=None, is_paused_upon_creation=False, max_active_runs=10, max_active_tasks=16):
    for i in range(20):
        BashOperator(task_id=f"t{i:02d}", bash_command="sleep 2")
"""


@dataclass
class BusySite:
    deployment: Deployment
    webserver: WebserverProcess
    run_ids: list[str]

    def get(self, path: str, username: str) -> tuple[int, float]:
        """(status, seconds) of one GET with HTTP basic auth on a new connection; status 0 when no answer."""
        started = time.perf_counter()
        try:
            status = requests.get(self.webserver.url + path, auth=(username, PASSWORD), timeout=30).status_code
        except requests.RequestException:
            status = 0
        return status, time.perf_counter() - started

    def api_paths(self) -> list[str]:
        runs = "/api/v1/dags/load/dagRuns"
        return [
            "/api/v1/dags",
            f"{runs}?limit=100",
            *(f"{runs}/{run_id}/taskInstances" for run_id in self.run_ids[:3]),
            f"{runs}/{self.run_ids[0]}",
        ]


def _add_users(deployment: Deployment) -> None:
    """An Admin and the READERS, written directly with a one-round hash (creating 31 users through the CLI
    would take half a minute; the password check costs the same per request either way once cached)."""
    cheap_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")
    with Session(deployment.engine) as session, session.begin():
        session.add_all(
            User(
                username=name,
                email=f"{name}@example.com",
                role="Admin" if name == "admin" else "Viewer",
                password_hash=cheap_hash,
                session_token=secrets.token_hex(16),
                active=True,
                created_at=datetime.now(UTC),
                failed_login_count=0,
            )
            for name in ["admin", *READERS]
        )


@pytest.fixture
def busy_site(tmp_path: Path) -> Iterator[BusySite]:
    """SQLite, a scheduler running RUNS runs of 20 half-second tasks, and a webserver with its default
    threads; both processes are stopped with SIGTERM at the end and must exit 0."""
    url = f"sqlite:///{tmp_path / 'flowctl.db'}"
    engine = make_engine(url)
    deployment = Deployment(tmp_path, db_url=url, engine=engine)
    deployment.write_dag("load", LOAD_DAG)
    webserver: WebserverProcess | None = None
    codes: dict[str, int] = {}
    try:
        deployment.prepare()
        _add_users(deployment)
        deployment.start_scheduler(shutdown_grace=2)
        webserver = WebserverProcess(deployment.home, deployment.env)
        wait_until(webserver.health, timeout=30, what="the webserver to answer /api/v1/health")
        run_ids = []
        for _ in range(RUNS):
            answer = requests.post(
                f"{webserver.url}/api/v1/dags/load/dagRuns", json={}, auth=("admin", PASSWORD), timeout=30
            )
            assert answer.status_code == 200, answer.text
            run_ids.append(answer.json()["dag_run_id"])
        yield BusySite(deployment, webserver, run_ids)
    except BaseException:
        print(deployment.describe(), f"\n--- webserver stderr\n{webserver.stderr() if webserver else ''}")
        raise
    finally:
        if webserver is not None:
            codes["webserver"] = webserver.stop()
        for process in deployment.schedulers:
            codes["scheduler"] = process.stop()
        engine.dispose()
    assert codes == {"webserver": 0, "scheduler": 0}, f"exit codes after SIGTERM: {codes}"


def _tasks_in(site: BusySite, state: str) -> int:
    return sum(found == state for run_id in site.run_ids for found in site.deployment.ti_states(run_id).values())


def test_basic_auth_api_reads_never_fail_while_the_scheduler_writes(busy_site: BusySite) -> None:
    site = busy_site
    paths = site.api_paths()
    wait_until(lambda: _tasks_in(site, "running") >= 8, timeout=30, what="the scheduler to run tasks of the runs")
    succeeded_before = _tasks_in(site, "success")

    # When: 30 users each send a first GET at the same moment (a fresh server: every password is checked
    # and every login recorded), then 20 requests a second for 10 s, sent on schedule, cycling the users
    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        burst = list(pool.map(lambda n: site.get(paths[n % len(paths)], READERS[n]), range(len(READERS))))
        began = time.perf_counter()
        futures = []
        for n in range(200):
            time.sleep(max(0.0, began + n / 20 - time.perf_counter()))
            futures.append(pool.submit(site.get, paths[n % len(paths)], READERS[n % len(READERS)]))
        steady = [future.result() for future in futures]
    running_after, succeeded_after = _tasks_in(site, "running"), _tasks_in(site, "success")

    # Then: every request was answered 200, while the scheduler kept starting and finishing tasks
    statuses = Counter(status for status, _ in burst + steady)
    assert statuses == {200: 230}, f"answers by status: {dict(statuses)}"
    assert running_after > 0 and succeeded_after >= succeeded_before + 16, (running_after, succeeded_after)
    latencies = sorted(seconds for _, seconds in steady)
    print(f"p50 {statistics.median(latencies):.3f}s p99 {latencies[int(0.99 * len(latencies))]:.3f}s")

    # ...every reader's login was recorded (once: within a minute a login is not written again)...
    with Session(site.deployment.engine) as session:
        query = select(User.username, User.last_login_at).where(User.username.in_(READERS))
        logins = {name: at for name, at in session.execute(query)}
    assert all(logins[name] is not None for name in READERS), logins

    # ...and the console got at most one line about requests waiting for a thread (the burst of 30 may
    # wait; waitress's own warning came once per queued request)
    log = site.webserver.stderr().splitlines()
    assert sum("Task queue depth" in line or "waited for a free thread" in line for line in log) <= 1, log
