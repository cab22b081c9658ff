"""Secrets a task put in its XComs (issue 10, item 5): stored as the task gave them, for downstream tasks,
but masked (`***`) wherever an XCom value is shown or served — the task instance page and
`GET .../xcomEntries/{key}` — for every role, whether the secret came from the metadata DB (a sensitive
variable, a connection's password or secret extra) or from the webserver's environment
(FLOWCTL_VAR_* / FLOWCTL_CONN_*), whole or inside nested values. Tasks are run for real by
`flowctl tasks run`."""

from __future__ import annotations

import html
import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from flowctl.db.models import TaskInstance, XCom
from flowctl.roles import Role
from flowctl.services.actor import Actor
from flowctl.web.run_pages import XCOM_SHOWN_BYTES
from tests.web.conftest import Seed, Web

DB_PASSWORD = "xc-P4ssw0rd-canary"
DB_EXTRA_KEY = "xc-ExtraK3y-canary"
DB_VARIABLE = "xc-V4riable-canary"
ENV_VARIABLE = "xc-EnvV4r-canary"
ENV_PASSWORD = "xc-EnvP4ss-canary"
CANARIES = (DB_PASSWORD, DB_EXTRA_KEY, DB_VARIABLE, ENV_VARIABLE, ENV_PASSWORD)
ENVIRONMENT = {
    "FLOWCTL_VAR_DEPLOY_TOKEN": ENV_VARIABLE,
    "FLOWCTL_CONN_ENVDB": f"postgresql://etl:{ENV_PASSWORD}@db.example.com:5432/warehouse",
}

SOURCE = """
from datetime import datetime
from flowctl import DAG, Variable
from flowctl.hooks.base import BaseHook
from flowctl.operators.bash import BashOperator
from flowctl.operators.python import PythonOperator


def gather(**context):
    vault = context["conn"].vault
    # (pushed, not returned: the task's log line "Returned value was" would show it, as the task's masker
    # does not learn FLOWCTL_VAR_* values read through Variable.get)
    context["ti"].xcom_push(key="deploy", value={"deploy": Variable.get("deploy_token")})
    return {
        "rows": 42,
        "url": f"https://robot:{vault.password}@api.example.com/",
        "nested": {"values": [Variable.get("api_key"), vault.extra_dejson["api_key"]]},
        "env_db": "pw=" + BaseHook.get_connection("envdb").password,
        Variable.get("api_key"): "a secret used as a key",
    }


with DAG("xcom_secrets", schedule=None, start_date=datetime(2024, 1, 1), is_paused_upon_creation=False):
    BashOperator(task_id="echo", bash_command="echo {{ var.value.api_key }} {{ conn.vault.password }}")
    PythonOperator(task_id="gather", python_callable=gather)
"""
RUN_ID = "xcom-run"
API = f"/api/v1/dags/xcom_secrets/dagRuns/{RUN_ID}/taskInstances"


def leaks(text: str) -> list[str]:
    return [canary for canary in CANARIES if canary in text]


def store_db_secrets(web: Web, factory: sessionmaker[Session]) -> None:
    from datetime import UTC, datetime

    from flowctl.connection import Connection
    from flowctl.services.connections import add_connection
    from flowctl.services.variables import set_variable

    cipher = web.app.extensions["flowctl"].cipher
    actor = Actor("test", datetime.now(UTC))
    with factory.begin() as session:
        vault = Connection(
            conn_id="vault",
            conn_type="http",
            host="api.example.com",
            login="robot",
            password=DB_PASSWORD,
            extra=json.dumps({"api_key": DB_EXTRA_KEY, "timeout": 5}),
        )
        add_connection(session, cipher, vault, actor=actor)
        set_variable(session, cipher, "api_key", DB_VARIABLE, actor=actor)


@pytest.fixture
def ran(
    web: Web, seed: Seed, cli: Any, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both tasks run for real with the DB's and the environment's secrets; the webserver's environment
    then holds the same FLOWCTL_* variables as the tasks'."""
    store_db_secrets(web, session_factory)
    seed.dag(SOURCE)
    seed.run("xcom_secrets", run_id=RUN_ID)
    for task_id in ("echo", "gather"):
        result = cli("tasks", "run", "xcom_secrets", task_id, RUN_ID, env=ENVIRONMENT)
        assert result.exit_code == 0, result.stdout + result.stderr
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


def stored_xcoms(factory: sessionmaker[Session]) -> dict[tuple[str, str], Any]:
    with factory() as session:
        rows = session.execute(
            select(TaskInstance.task_id, XCom.key, XCom.value)
            .join(TaskInstance, XCom.task_instance_id == TaskInstance.id)
            .where(TaskInstance.run_id == RUN_ID)
        ).all()
    return {(task_id, key): json.loads(bytes(value)) for task_id, key, value in rows}


def test_xcoms_keep_the_real_secrets_for_downstream_tasks(ran: None, session_factory: sessionmaker[Session]) -> None:
    stored = stored_xcoms(session_factory)

    assert stored["echo", "return_value"] == f"{DB_VARIABLE} {DB_PASSWORD}"
    assert stored["gather", "return_value"]["nested"] == {"values": [DB_VARIABLE, DB_EXTRA_KEY]}
    assert stored["gather", "return_value"]["env_db"] == f"pw={ENV_PASSWORD}"
    assert stored["gather", "deploy"] == {"deploy": ENV_VARIABLE}


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OP])
def test_the_task_instance_page_masks_every_known_secret_in_xcom_values(web: Web, ran: None, role: Role) -> None:
    client = web.client(role)

    echo = client.get(f"/dags/xcom_secrets/runs/{RUN_ID}/tasks/echo").get_data(as_text=True)
    gather = client.get(f"/dags/xcom_secrets/runs/{RUN_ID}/tasks/gather").get_data(as_text=True)

    assert leaks(echo) == [] and leaks(gather) == []
    assert "*** ***" in echo
    assert "https://robot:***@api.example.com/" in gather and "pw=***" in gather
    assert '"deploy": "***"' in html.unescape(gather)
    assert "42" in gather  # what is not a secret stays readable


def test_the_api_serves_xcom_values_masked_as_text_and_as_data(web: Web, ran: None) -> None:
    api, headers = web.app.test_client(), web.basic_auth(Role.VIEWER)

    echo = api.get(f"{API}/echo/xcomEntries/return_value", headers=headers)
    as_text = api.get(f"{API}/gather/xcomEntries/return_value", headers=headers)
    as_data = api.get(f"{API}/gather/xcomEntries/return_value?stringify=false", headers=headers)
    pushed = api.get(f"{API}/gather/xcomEntries/deploy?stringify=false", headers=headers)
    listed = api.get(f"{API}/gather/xcomEntries", headers=headers)

    for response in (echo, as_text, as_data, pushed, listed):
        assert response.status_code == 200 and leaks(response.get_data(as_text=True)) == []
    assert echo.get_json()["value"] == "*** ***"
    assert pushed.get_json()["value"] == {"deploy": "***"}
    value = as_data.get_json()["value"]
    assert value["nested"] == {"values": ["***", "***"]}
    assert value["url"] == "https://robot:***@api.example.com/" and value["env_db"] == "pw=***"
    assert value["rows"] == 42 and value["***"] == "a secret used as a key"
    assert json.loads(as_text.get_json()["value"]) == value


def test_a_value_too_large_to_show_whole_hides_even_a_secret_cut_at_its_end(
    web: Web, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    # Given a large XCom holding the secret whole near its start and cut in two by where the page stops
    store_db_secrets(web, session_factory)
    seed.dag(SOURCE)
    seed.run("xcom_secrets", {"echo": "success"}, run_id=RUN_ID)
    head = json.dumps({"first": DB_PASSWORD, "pad": ""})[:-2]
    padding = "x" * (XCOM_SHOWN_BYTES - len(head) - 8)
    value = json.dumps({"first": DB_PASSWORD, "pad": padding + DB_PASSWORD + "y" * 1000})
    assert value.index(DB_PASSWORD, 20) < XCOM_SHOWN_BYTES < value.index(DB_PASSWORD, 20) + len(DB_PASSWORD)
    with session_factory.begin() as session:
        ti = session.scalar(select(TaskInstance).where(TaskInstance.run_id == RUN_ID, TaskInstance.task_id == "echo"))
        session.add(XCom(task_instance_id=ti.id, key="big", value=value.encode(), created_at=ti.start_date))

    # When a Viewer opens the task instance page
    page = html.unescape(
        web.client(Role.VIEWER).get(f"/dags/xcom_secrets/runs/{RUN_ID}/tasks/echo").get_data(as_text=True)
    )

    # Then the value is shown cut, without the secret or its first characters
    assert "cut: the value is" in page and '"first": "***"' in page
    assert DB_PASSWORD[:4] not in page
