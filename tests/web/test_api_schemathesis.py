"""The OpenAPI document against a live `flowctl webserver` (SQLite): schemathesis sends generated requests
to every operation, as an admin over HTTP basic, half of them with ids that exist, and checks that no
answer is a server error and that each answer's status, content type and body are the documented ones."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tests.conftest import Cli

pytest.importorskip("schemathesis")

ADMIN = ("api-admin", "correct-horse-battery")
DEMO = """
import pendulum
from flowctl import DAG, Param
from flowctl.operators import EmptyOperator

with DAG("api_demo", schedule="@daily", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), tags=["demo"],
         params={"n": Param(1, type="integer")}):
    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
"""
KNOWN = {
    "dag_id": "api_demo",
    "dag_run_id": "demo_run",
    "task_id": "a",
    "map_index": -1,
    "task_try_number": 1,
    "xcom_key": "return_value",
    "import_error_id": 1,
    "connection_id": "demo_conn",
    "variable_key": "demo_var",
    "pool_name": "default_pool",
}
EXAMPLES_PER_OPERATION = 15


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _prepare_home(home: Path) -> None:
    """A DB with an admin, a parsed DAG with a run and a log, an import error, a connection and a variable."""
    cli = Cli(home, None)
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "api_demo.py").write_text(DEMO)
    (home / "dags" / "broken.py").write_text("from flowctl import DAG\nimport nothing_here\n")
    for args in (
        ("db", "init"),
        (
            "users",
            "create",
            "--username",
            ADMIN[0],
            "--role",
            "Admin",
            "--email",
            "a@example.com",
            "--password",
            ADMIN[1],
        ),
        ("dags", "reserialize"),
        ("dags", "trigger", "api_demo", "--run-id", "demo_run", "--logical-date", "2024-02-01T00:00:00+00:00"),
        ("connections", "add", "demo_conn", "--conn-uri", "postgresql://u:secret-pw@db:5432/x"),
        ("variables", "set", "demo_var", "hello"),
    ):
        result = cli(*args)
        assert result.exit_code == 0, (args, result)
    log = home / "logs" / "dag_id=api_demo" / "run_id=demo_run" / "task_id=a" / "attempt=1.log"
    log.parent.mkdir(parents=True)
    log.write_text("hello from the log\n")
    _start_the_run(home)


def _start_the_run(home: Path) -> None:
    from flowctl.config import settings_from_environment
    from flowctl.db.engine import make_engine, make_session_factory
    from flowctl.db.queries.runs import get_run
    from flowctl.db.queries.task_instances import get
    from flowctl.scheduler.runs import DagVersions, start_run

    settings = settings_from_environment({"FLOWCTL_HOME": str(home)})
    engine = make_engine(settings.core.sql_alchemy_conn)
    with make_session_factory(engine).begin() as session:
        run = get_run(session, "api_demo", "demo_run")
        start_run(session, run, DagVersions(), now=datetime.now(UTC))
        session.flush()
        ti = get(session, "api_demo", "demo_run", "a")
        ti.state, ti.try_number = "success", 1
    engine.dispose()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    home = tmp_path / "home"
    _prepare_home(home)
    port = _free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("FLOWCTL")}
    env["FLOWCTL_HOME"] = str(home)
    command = [sys.executable, "-m", "flowctl", "webserver", "-H", "127.0.0.1", "-p", str(port), "-w", "4"]
    log = tmp_path / "webserver.log"
    with log.open("wb") as output:
        server = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield _wait_for(server, f"http://127.0.0.1:{port}", log)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_for(server: subprocess.Popen, base: str, log: Path) -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                return base
        except requests.ConnectionError:
            pass
        assert server.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the webserver did not answer within 30 s"
        time.sleep(0.1)


def test_every_operation_answers_as_the_document_says(live_server: str) -> None:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    schema = schemathesis.openapi.from_url(f"{live_server}/api/v1/openapi.json")
    checks = [
        getattr(schemathesis.checks, name)
        for name in (
            "not_a_server_error",
            "status_code_conformance",
            "content_type_conformance",
            "response_headers_conformance",
            "response_schema_conformance",
        )
    ]
    session = requests.Session()
    session.auth = ADMIN
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30

    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), known=st.booleans())
        def check(case, known: bool) -> None:
            if known and case.path_parameters:
                case.path_parameters = {name: KNOWN.get(name, value) for name, value in case.path_parameters.items()}
            case.call_and_validate(session=session, checks=checks)

        check()
