"""No N+1 queries in the REST API lists and the admin lists: each URL costs the same number of SQL
statements with a small data set as with a larger one (more DAGs, tasks, runs, XComs, connections,
variables, pools, import errors and users).

The other pages are counted the same way next to their own tests: Grid, grid.json, Graph, graph.json,
Gantt and Code in test_dag_views.py; the DAGs page and dags.json in test_dags_page.py; the run page,
its states.json and the task instance page in test_run_pages.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from flowctl.db.models import TaskInstance, User, XCom
from flowctl.db.queries.dags import add_import_error
from flowctl.roles import Role
from tests.web.conftest import Seed, Web, WebClient

# {dag}, {run} and {task} are the small DAG's in the first count, the larger DAG's in the second
URLS = (
    "/api/v1/dags",
    "/api/v1/dags/{dag}/tasks",
    "/api/v1/dags/{dag}/dagRuns",
    "/api/v1/dags/~/dagRuns",
    "/api/v1/dags/{dag}/dagRuns/{run}/taskInstances",
    "/api/v1/dags/~/dagRuns/~/taskInstances",
    "/api/v1/dags/{dag}/dagRuns/{run}/taskInstances/{task}/xcomEntries",
    "/api/v1/importErrors",
    "/api/v1/pools",
    "/api/v1/variables",
    "/api/v1/connections",
    "/admin/connections",
    "/admin/variables",
    "/admin/pools",
    "/admin/users",
)

DAGS = """
import pendulum
from flowctl import DAG
from flowctl.operators import EmptyOperator

for number in range({dags}):
    with DAG(f"{prefix}_{{number}}", schedule="@daily", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
             tags=[f"tag_{{number}}", "{prefix}"]):
        first = EmptyOperator(task_id="first")
        first >> [EmptyOperator(task_id=f"t{{n:02d}}") for n in range({tasks})]
"""


@contextmanager
def counted_statements(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def add_data(
    web: Web, seed: Seed, factory: sessionmaker[Session], prefix: str, *, dags: int, tasks: int, runs: int, items: int
) -> dict[str, str]:
    """`dags` DAGs of 1 + `tasks` tasks, `runs` runs of the first, `items` XComs on its first task and as many
    connections, variables, pools, import errors and users; returns the ids to put in the URLs."""
    dag_id = seed.dag(DAGS.format(prefix=prefix, dags=dags, tasks=tasks), name=prefix)
    states = {"first": "success", **{f"t{n:02d}": "failed" for n in range(0, tasks, 2)}}
    run_ids = [
        seed.run(
            dag_id, states, run_id=f"{prefix}_run_{n}", logical_date=datetime(2024, 3, 1, tzinfo=UTC) + timedelta(n)
        )
        for n in range(runs)
    ]
    admin = web.client(Role.ADMIN)
    for n in range(items):
        name = f"{prefix}_{n}"
        conn = {"connection_id": name, "conn_type": "http", "host": "example.com", "password": "secret"}
        for url, body in (
            ("/api/v1/connections", {**conn, "extra": json.dumps({"token": "t"})}),
            ("/api/v1/variables", {"key": name, "value": "v"}),
            ("/api/v1/pools", {"name": name, "slots": 2}),
        ):
            assert admin.api("POST", url, json=body).status_code == 200, url
    now = datetime.now(UTC)
    with factory.begin() as session:
        ti = session.scalar(
            select(TaskInstance).where(TaskInstance.run_id == run_ids[-1], TaskInstance.task_id == "first")
        )
        assert ti is not None
        for n in range(items):
            session.add(XCom(task_instance_id=ti.id, key=f"key_{n}", value=b"1", created_at=now))
            add_import_error(session, f"/dags/{prefix}_broken_{n}.py", "SyntaxError", at=now)
            session.add(
                User(
                    username=f"{prefix}_user_{n}",
                    email=f"{prefix}_{n}@example.com",
                    role=Role.VIEWER.value,
                    password_hash="-",
                    session_token=f"token-{prefix}-{n}",
                    created_at=now,
                )
            )
    return {"dag": dag_id, "run": run_ids[-1], "task": "first"}


def statement_counts(client: WebClient, engine: Engine, ids: dict[str, str]) -> dict[str, int]:
    counts = {}
    for template in URLS:
        url = template.format(**ids)
        assert client.get(url).status_code == 200, url  # anything cached per process is cached now
        with counted_statements(engine) as statements:
            assert client.get(url).status_code == 200, url
        counts[template] = len(statements)
    return counts


def test_api_and_admin_lists_cost_the_same_statements_with_more_rows(
    web: Web, seed: Seed, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    # Given a small installation, counted; then 14 more DAGs, a wide DAG with many runs and more of everything
    client = web.client(Role.ADMIN)
    small = add_data(web, seed, session_factory, "small", dags=1, tasks=2, runs=1, items=1)
    with_few = statement_counts(client, engine, small)
    large = add_data(web, seed, session_factory, "large", dags=14, tasks=40, runs=6, items=15)

    # When every list is read again, this time on the larger DAG and run
    with_many = statement_counts(client, engine, large)

    # Then no list costs a statement more
    assert with_many == with_few
    assert max(with_many.values()) <= 12, with_many
    # (and the second count did read the larger lists)
    assert client.get("/api/v1/dags").get_json()["total_entries"] == 15
    tis = client.get("/api/v1/dags/{dag}/dagRuns/{run}/taskInstances".format(**large)).get_json()
    xcoms = client.get("/api/v1/dags/{dag}/dagRuns/{run}/taskInstances/{task}/xcomEntries".format(**large)).get_json()
    assert len(tis["task_instances"]) == 41 and len(xcoms["xcom_entries"]) == 15
    assert len(client.get("/api/v1/connections").get_json()["connections"]) == 16
