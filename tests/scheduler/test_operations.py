"""Running flowctl in production (SPEC §5 `flowctl scheduler`, §8): `scheduler -D` daemonizes behind a
pid file and refuses a second start, two schedulers share one PostgreSQL/MySQL DB without running any
try twice, and a scheduler survives its PostgreSQL server going down and coming back."""

from __future__ import annotations

import collections
import os
import shutil
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flowctl.db.engine import make_engine
from flowctl.db.models import Job
from flowctl.services.wakeup import poke
from tests.private_postgresql import PrivatePostgreSQL
from tests.scheduler.conftest import Deployment, SchedulerProcess, pid_alive, read_ledger, tear_down, wait_until

ONE_TASK = """
from flowctl import DAG
from flowctl.operators import BashOperator

with DAG("DAG_ID", schedule=None, is_paused_upon_creation=False):
    BashOperator(task_id="only", bash_command="echo hello")
"""


def one_task_dag(dag_id: str) -> str:
    return ONE_TASK.replace("DAG_ID", dag_id)


# `-D` is about processes, not the DB: SQLite is enough.
def test_scheduler_daemon_runs_behind_its_pid_file_refuses_a_second_start_and_stops_on_sigterm(
    deployment: Deployment, sqlite_only: None
) -> None:
    # Given
    deployment.write_dag("daemonized", one_task_dag("daemonized"))
    deployment.prepare()
    pid_file = deployment.home / "scheduler.pid"
    daemon_log = deployment.home / "scheduler.log"

    # When
    started_at = time.monotonic()
    deployment.flowctl("scheduler", "-D", "--shutdown-grace", "3")

    # Then: the command returned at once, and the daemon wrote its pid file
    assert time.monotonic() - started_at < 15
    pid = wait_until(lambda: _live_pid(pid_file), timeout=15, what=f"a live pid in {pid_file}")
    try:
        # ...and runs what is triggered
        run_id = deployment.trigger("daemonized")
        assert deployment.wait_for_run("daemonized", run_id) == "success"

        # When: a second daemon is started
        second = deployment.flowctl("scheduler", "-D", check=False)

        # Then: it is refused with one clear line, and the first one carries on
        assert second.returncode == 1, second
        assert f"a scheduler is already running (pid {pid}, pid file {pid_file})" in second.stderr
        assert "Traceback" not in second.stderr
        assert _live_pid(pid_file) == pid
        again = deployment.trigger("daemonized")
        assert deployment.wait_for_run("daemonized", again) == "success"

        # When
        os.kill(pid, signal.SIGTERM)

        # Then: it stops and removes its pid file
        wait_until(lambda: not pid_alive(pid), timeout=20, what=f"daemon {pid} to exit after SIGTERM")
        assert not pid_file.exists()
        log = daemon_log.read_text()
        assert "scheduler stopping" in log and "Traceback" not in log
        result = deployment.cli("jobs", "check")
        assert result.exit_code == 1, result  # its job was ended cleanly
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        print(f"--- daemon log ({daemon_log})\n" + (daemon_log.read_text() if daemon_log.exists() else "(none)"))


def _live_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


MANY_TASKS = """
import json
import os
import pathlib
import time
from datetime import timedelta

from flowctl import DAG
from flowctl.operators import PythonOperator

LEDGER = pathlib.Path(OUT_DIR, "ledger.jsonl")


def parent_of(pid):
    return int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def work(ti):
    start = time.time()
    time.sleep(0.05)
    entry = {
        "task": ti.task_id,
        "try": ti.try_number,
        "pid": os.getpid(),
        "scheduler": parent_of(os.getppid()),  # task process <- worker <- scheduler
        "start": start,
        "end": time.time(),
    }
    with LEDGER.open("a") as ledger:
        ledger.write(json.dumps(entry) + "\\n")
    if ti.try_number == 1:
        raise RuntimeError("the first try fails, so that the retry is up for grabs")


with DAG(
    "crowd",
    schedule=None,
    is_paused_upon_creation=False,
    max_active_tasks=TASKS,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=1)},
):
    for i in range(TASKS):
        PythonOperator(task_id=f"t{i:03d}", python_callable=work)
"""
CROWD_SIZE = 120


def test_two_schedulers_on_one_database_run_every_try_exactly_once(deployment: Deployment, db_url: str) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("two schedulers need row locks (FOR UPDATE SKIP LOCKED), which SQLite lacks (SPEC §8)")

    # Given: two schedulers, as on two machines: their own homes, one DB and one dags folder; no limit
    # holds either back, and every task fails its first try, so that both find the retries due at once
    deployment.write_dag("crowd", MANY_TASKS.replace("TASKS", str(CROWD_SIZE)))
    deployment.env["FLOWCTL__CORE__PARALLELISM"] = str(CROWD_SIZE)
    first = deployment.start()
    second, second_home = _second_scheduler(deployment)
    wait_until(
        lambda: _live_scheduler_jobs(deployment) == 2,
        timeout=20,
        what=lambda: f"two scheduler jobs ({_live_scheduler_jobs(deployment)})",
    )

    # When: a run is triggered, and both schedulers are woken at once (the CLI wakes its own home's)
    run_id = deployment.trigger("crowd")
    assert poke(second_home)

    # Then: every task succeeded on its second try
    assert deployment.wait_for_run("crowd", run_id, timeout=120) == "success"
    second.check_running()
    task_ids = {f"t{i:03d}" for i in range(CROWD_SIZE)}
    assert deployment.ti_states(run_id) == dict.fromkeys(sorted(task_ids), "success")
    assert {ti.try_number for ti in deployment.task_instances(run_id)} == {2}

    # ...each try ran in exactly one task process, started by one of the two schedulers
    entries = read_ledger(deployment.out / "ledger.jsonl")
    executions = collections.Counter((e["task"], e["try"]) for e in entries)
    assert [key for key, count in executions.items() if count > 1] == []
    assert set(executions) == {(task_id, attempt) for task_id in task_ids for attempt in (1, 2)}
    retried_by = collections.Counter(e["scheduler"] for e in entries if e["try"] == 2)
    assert set(retried_by) == {first.pid, second.pid}, (retried_by, first.pid, second.pid)  # both took a share

    # ...and both stop cleanly
    assert [first.stop(), second.stop()] == [0, 0]


def _second_scheduler(deployment: Deployment) -> tuple[SchedulerProcess, Path]:
    """A scheduler with its own FLOWCTL_HOME (so its own pid file and wake-up socket) on the same DB,
    reading the same dags folder and sharing the first one's config (so its fernet key)."""
    home = deployment.home.parent / "second-home"
    home.mkdir()
    shutil.copy2(deployment.home / "flowctl.cfg", home / "flowctl.cfg")
    env = {
        **deployment.env,
        "FLOWCTL_HOME": str(home),
        "FLOWCTL__CORE__DAGS_FOLDER": str(deployment.dags),
        "FLOWCTL__LOGGING__BASE_LOG_FOLDER": str(deployment.home / "logs"),
    }
    process = SchedulerProcess(["--shutdown-grace", "3"], env=env, stderr_path=deployment.home / "scheduler.stderr")
    deployment.schedulers.append(process)
    return process, home


def _live_scheduler_jobs(deployment: Deployment) -> int:
    """Scheduler jobs started and not ended: each scheduler has one once it is ready to work."""
    query = select(func.count()).select_from(Job).where(Job.job_type == "scheduler", Job.end_date.is_(None))
    with Session(deployment.engine) as session:
        return session.scalar(query) or 0


SLOW_CHAIN = """
from flowctl import DAG, chain
from flowctl.operators import BashOperator

with DAG("steady", schedule=None, is_paused_upon_creation=False):
    chain(*[BashOperator(task_id=f"step{i}", bash_command="sleep 1") for i in range(4)])
"""


@pytest.fixture
def outage_deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Deployment, Any]]:
    """A deployment on a PostgreSQL server of the test's own, which it may stop and start (the shared one
    on 5432 is never touched)."""
    server = PrivatePostgreSQL()
    server.start()
    engine = make_engine(server.create_database("flowctl"))
    deployment = Deployment(tmp_path, db_url=engine.url.render_as_string(hide_password=False), engine=engine)
    try:
        yield deployment, server
    finally:
        try:
            if not server.running():
                server.start()
            tear_down(request, deployment)
        finally:
            engine.dispose()
            server.remove()


@pytest.mark.slow
def test_the_scheduler_survives_a_postgresql_outage_heartbeats_as_soon_as_it_ends_and_finishes_the_run(
    outage_deployment: tuple[Deployment, Any],
) -> None:
    deployment, server = outage_deployment

    # Given: a run of four 1 s tasks, one after the other, under way
    deployment.write_dag("steady", SLOW_CHAIN)
    scheduler = deployment.start()
    run_id = deployment.trigger("steady")
    wait_until(
        lambda: deployment.ti_states(run_id).get("step1") == "running",
        timeout=20,
        what=lambda: f"step1 to run ({deployment.ti_states(run_id)})",
    )
    stderr = deployment.home / "scheduler.stderr"

    # When: the PostgreSQL server goes down for a few seconds and comes back
    server.stop()  # a fast shutdown: the scheduler's connections are cut
    wait_until(
        lambda: "metadata DB error, retrying" in stderr.read_text(),
        timeout=20,
        what="the scheduler to report the DB outage",
    )
    time.sleep(15)  # the outage itself: long enough for an uncapped doubling backoff to reach 16 s
    assert scheduler.alive()
    server.start()
    back_at = datetime.now(UTC)
    deployment.engine.dispose()  # this test's pooled connections died with the server

    # Then: the scheduler's heartbeat is fresh within a few seconds (it probes the DB every 2 s at most)
    wait_until(
        lambda: (_latest_heartbeat(deployment) or back_at) > back_at,
        timeout=3.5,
        what="the scheduler to heartbeat after the outage",
    )
    # ...and it finished the run, the outage costing no try
    assert deployment.wait_for_run("steady", run_id, timeout=60) == "success"
    assert deployment.ti_states(run_id) == {f"step{i}": "success" for i in range(4)}
    for step in range(4):
        assert [t.state for t in deployment.tries(run_id, f"step{step}")] == ["success"]
    assert scheduler.alive()
    after = deployment.trigger("steady")
    assert deployment.wait_for_run("steady", after, timeout=30) == "success"


def _latest_heartbeat(deployment: Deployment) -> datetime | None:
    with Session(deployment.engine) as session:
        return session.scalar(select(func.max(Job.latest_heartbeat)).where(Job.job_type == "scheduler"))
