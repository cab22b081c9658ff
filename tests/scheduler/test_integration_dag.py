"""Hooks and integration operators in a real run, on every backend: a DAG creates a table in the
backend's own database, pulls rows page by page from a local HTTP API (HttpOperator with pagination,
basic auth from a connection stored encrypted in the metadata DB), loads them with a hook, and queries
them back through XCom (SQLExecuteQueryOperator, connection from FLOWCTL_CONN_TARGET in the scheduler's
environment). The API password and the database password never appear in a task log or rendered field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from flowctl.connection import Connection
from flowctl.hooks.base import hook_for_connection
from tests.hooks.api_server import ApiServer
from tests.hooks.conftest import target_connection
from tests.scheduler.conftest import Deployment

API_PASSWORD = "api-pw-canary-e2e-5v1x"
DB_PASSWORD = "db-pw-canary-e2e-8k2m"  # PostgreSQL trusts 127.0.0.1 here, so any password is accepted
ITEMS = [{"id": n, "name": f"item-{n}", "score": n * 10} for n in range(1, 6)]

DAG_SOURCE = """
    import json
    import pathlib

    from flowctl import DAG
    from flowctl.hooks import BaseHook
    from flowctl.operators import HttpOperator, PythonOperator, SQLExecuteQueryOperator
    from flowctl.sensors import SqlSensor

    TABLE = "TABLE_NAME"


    def next_page(response):
        following = response.json()["next_page"]
        return {"data": {"page": following}} if following else None


    def every_item(pages):
        return [item for page in pages for item in page.json()["items"]]


    def load(ti):
        items = ti.xcom_pull(task_ids="fetch")
        hook = BaseHook.get_hook("target")
        rows = [(item["id"], item["name"], item["score"]) for item in items]
        loaded = hook.insert_rows(TABLE, rows, target_fields=["id", "name", "score"], commit_every=2)
        api = BaseHook.get_connection("api")
        print(f"loaded {loaded} rows; the API password is {api.password}")
        print(f"the target password is {BaseHook.get_connection('target').password}")
        return loaded


    def report(ti):
        rows = ti.xcom_pull(task_ids="query")
        pathlib.Path(OUT_DIR, "rows.json").write_text(json.dumps(rows))


    with DAG("http_to_sql", schedule=None, is_paused_upon_creation=False, params={"min_score": 20}):
        create = SQLExecuteQueryOperator(
            task_id="create",
            conn_id="target",
            sql=f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL, score INTEGER)",
        )
        fetch = HttpOperator(
            task_id="fetch",
            http_conn_id="api",
            method="GET",
            endpoint="items",
            data={"page": 1, "day": "{{ ds }}"},
            pagination_function=next_page,
            response_filter=every_item,
            log_response=True,
        )
        load_rows = PythonOperator(task_id="load", python_callable=load)
        query = SQLExecuteQueryOperator(
            task_id="query",
            conn_id="target",
            sql=(
                f"SELECT id, name, score FROM {TABLE} WHERE score >= {{{{ params.min_score }}}} ORDER BY id"
                " -- for {{ conn.api.login }}:{{ conn.api.password }}"
            ),
        )
        write_report = PythonOperator(task_id="report", python_callable=report)
        # Waits, next to fetch and load, for the last row that load writes.
        loaded = SqlSensor(
            task_id="wait_for_rows",
            conn_id="target",
            sql=f"SELECT COUNT(*) FROM {TABLE} WHERE id = 5",
            poke_interval=0.2,
            timeout=SENSOR_TIMEOUT,
        )
        create >> fetch >> load_rows >> query >> write_report
        create >> loaded >> query
"""


@pytest.fixture
def api() -> Iterator[ApiServer]:
    with ApiServer(items=ITEMS, page_size=2) as server:
        server.credentials = ("etl", API_PASSWORD)
        yield server


@pytest.fixture
def target(deployment: Deployment, unique: str) -> Iterator[tuple[Connection, str]]:
    """The backend's own database as the DAG's target, and a table name no other test uses."""
    conn = target_connection(deployment.db_url, deployment.out / "target.db")
    if conn.conn_type == "postgres":
        conn = Connection(**{**_fields(conn), "password": DB_PASSWORD})
    table = f"api_items_{unique}"
    yield conn, table
    hook_for_connection(conn).run(f"DROP TABLE IF EXISTS {table}")


def _fields(conn: Connection) -> dict[str, object]:
    return {name: getattr(conn, name) for name in Connection.__dataclass_fields__}


def test_rows_pulled_from_an_http_api_are_loaded_and_queried_back_with_secrets_masked(
    deployment: Deployment, api: ApiServer, target: tuple[Connection, str]
) -> None:
    # Given the API connection stored (encrypted) with the CLI, the target in the scheduler's environment
    conn, table = target
    deployment.write_dag("http_to_sql", DAG_SOURCE.replace("TABLE_NAME", table).replace("SENSOR_TIMEOUT", "60"))
    deployment.prepare()
    added = deployment.cli("connections", "add", "api", "--conn-uri", f"http://etl:{API_PASSWORD}@127.0.0.1:{api.port}")
    assert added.exit_code == 0, added.stderr
    deployment.start_scheduler(env={"FLOWCTL_CONN_TARGET": conn.get_uri()})

    # When
    run_id = deployment.trigger("http_to_sql")

    # Then the run succeeded and every page was fetched with the connection's credentials
    assert deployment.wait_for_run("http_to_sql", run_id, timeout=60) == "success", deployment.ti_states(run_id)
    pages = api.requests_to("/items")
    assert [request.query["page"] for request in pages] == [["1"], ["2"], ["3"]]
    assert all(request.headers["Authorization"].startswith("Basic ") for request in pages)

    # the rows went through XCom into the table and back out of it
    expected = [(item["id"], item["name"], item["score"]) for item in ITEMS if item["score"] >= 20]
    assert deployment.xcom(run_id, "fetch") == ITEMS
    assert deployment.xcom(run_id, "load") == 5
    assert deployment.xcom(run_id, "query") == expected
    assert json.loads((deployment.out / "rows.json").read_text()) == [list(row) for row in expected]
    assert hook_for_connection(conn).get_first(f"SELECT COUNT(*) FROM {table}") == (5,)

    # the SQL sensor was already poking before the rows it waited for were written
    sensor, load = deployment.ti(run_id, "wait_for_rows"), deployment.ti(run_id, "load")
    assert sensor.state == "success"
    assert sensor.start_date < load.end_date

    # and no secret reached a log or a rendered field
    logs = {path.parent.name: path.read_text() for path in deployment.task_logs()}
    assert set(logs) == {f"task_id={task}" for task in ("create", "fetch", "load", "query", "report", "wait_for_rows")}
    for text in logs.values():
        assert API_PASSWORD not in text and DB_PASSWORD not in text
    assert "the API password is ***" in logs["task_id=load"]
    if conn.password:
        assert "the target password is ***" in logs["task_id=load"]
    assert "Running statement: SELECT id, name, score" in logs["task_id=query"]
    assert '"name": "item-5"' in logs["task_id=fetch"]  # log_response
    rendered = _rendered_fields(deployment, run_id, "query")
    assert rendered["sql"].endswith("-- for etl:***")
    assert API_PASSWORD not in json.dumps(_rendered_fields(deployment, run_id, "fetch"))


def test_a_failing_api_fails_the_fetch_with_the_status_in_its_log(
    deployment: Deployment, api: ApiServer, target: tuple[Connection, str]
) -> None:
    # Given a connection whose password the API refuses
    conn, table = target
    # (and a sensor that gives up after a second: the rows it waits for never come)
    deployment.write_dag("http_to_sql", DAG_SOURCE.replace("TABLE_NAME", table).replace("SENSOR_TIMEOUT", "1"))
    deployment.prepare()
    uri = f"http://etl:wrong-{API_PASSWORD}@127.0.0.1:{api.port}"
    assert deployment.cli("connections", "add", "api", "--conn-uri", uri).exit_code == 0
    deployment.start_scheduler(env={"FLOWCTL_CONN_TARGET": conn.get_uri()})

    # When
    run_id = deployment.trigger("http_to_sql")

    # Then
    assert deployment.wait_for_run("http_to_sql", run_id, timeout=60) == "failed"
    assert deployment.ti_states(run_id)["fetch"] == "failed"
    assert deployment.ti_states(run_id)["wait_for_rows"] == "failed"
    log = deployment.read_log("http_to_sql", run_id, "fetch")
    assert "HTTP 401 Unauthorized from GET" in log
    assert API_PASSWORD not in log


def _rendered_fields(deployment: Deployment, run_id: str, task_id: str) -> dict[str, object]:
    value = deployment.tries(run_id, task_id)[-1].rendered_fields
    assert value is not None, f"{task_id} recorded no rendered fields"
    return value
