"""Cross-cutting security of the web app (issue 5): every state-changing route of `app.url_map` (UI and
/api/v1) by every role, CSRF on all of them, anonymous visitors (also with `[webserver] auth = none`), GETs
that never change anything, and redirects that never leave the site.

The tables below name every POST/PUT/PATCH/DELETE route with the least role it needs (SPEC §6: Viewer
reads; User triggers, clears, marks and pauses; Op edits connections, variables and pools and deletes DAGs;
Admin manages users), a valid request and how to tell that it took effect. A route missing from the tables
fails `test_every_state_changing_route_is_in_the_role_table`, so no new route goes untested. The whole
metadata DB is compared before and after each refused request: a refusal changes nothing at all.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from flowctl.config import Settings, settings_from_environment
from flowctl.db.models import (
    Base,
    Connection,
    Dag,
    DagRun,
    Pool,
    TaskInstance,
    TaskInstanceTry,
    User,
    XCom,
)
from flowctl.logs import task_log_path
from flowctl.roles import Role
from flowctl.services.actor import Actor
from tests.web.conftest import PASSWORD, USERNAMES, Seed, Web, WebClient

pytestmark = pytest.mark.sqlite_only  # what it checks does not depend on the metadata DB

DAG_ID, RUN_ID = "secure", "r1"
SECURE_DAG = """
from datetime import datetime
from flowctl import DAG
from flowctl.operators.empty import EmptyOperator

with DAG("secure", schedule="@daily", start_date=datetime(2024, 1, 1), catchup=False, is_paused_upon_creation=False):
    a = EmptyOperator(task_id="a", retries=1)
    b = EmptyOperator(task_id="b")
    m = EmptyOperator(task_id="m")
    a >> b
"""
BROKEN_DAG = 'from flowctl import DAG\nraise ValueError("this file is broken on purpose")\n'
TARGET = "target"  # the connection, variable and pool that edits and deletes act on
VICTIM = "victim"  # the user that user edits and deletes act on
LOGIN_BOOKKEEPING = {"user": {"last_login_at", "failed_login_count"}}  # what signing in itself writes


def actor() -> Actor:
    return Actor("test", datetime.now(UTC))


# --- the seeded installation ---------------------------------------------------------------------


@dataclass
class World:
    """A DAG with a run (a failed, b upstream_failed, mapped m[0..2]), a try with a log and an XCom, an
    import error, a connection, a variable, a pool and an extra user; helpers to read and reset them."""

    app: Flask
    seed: Seed
    factory: sessionmaker[Session]
    settings: Settings
    import_error_id: int = 0

    # reading

    def ti_state(self, task_id: str, map_index: int = -1, run_id: str = RUN_ID) -> str | None:
        with self.factory() as session:
            return session.scalar(
                select(TaskInstance.state).where(
                    TaskInstance.dag_id == DAG_ID,
                    TaskInstance.run_id == run_id,
                    TaskInstance.task_id == task_id,
                    TaskInstance.map_index == map_index,
                )
            )

    def exists(self, column: Any, value: str) -> bool:
        with self.factory() as session:
            return session.scalar(select(column).where(column == value)) is not None

    def scalar(self, statement: Any) -> Any:
        with self.factory() as session:
            return session.scalar(statement)

    def connection(self, conn_id: str) -> Any:
        from flowctl.services.connections import get_stored_connection

        with self.factory() as session:
            return get_stored_connection(session, self.app.extensions["flowctl"].cipher, conn_id)

    def variable(self, key: str) -> str | None:
        from flowctl.exceptions import NotFound
        from flowctl.services.variables import get_variable

        with self.factory() as session:
            try:
                return get_variable(session, self.app.extensions["flowctl"].cipher, key)
            except NotFound:
                return None

    # resetting

    def set_ti(self, task_id: str, state: str, map_index: int = -1) -> None:
        with self.factory.begin() as session:
            session.execute(
                update(TaskInstance)
                .where(
                    TaskInstance.dag_id == DAG_ID,
                    TaskInstance.run_id == RUN_ID,
                    TaskInstance.task_id == task_id,
                    TaskInstance.map_index == map_index,
                )
                .values(state=state)
            )

    def set_all_tis(self, state: str) -> None:
        with self.factory.begin() as session:
            session.execute(update(TaskInstance).where(TaskInstance.run_id == RUN_ID).values(state=state))

    def set_paused(self, paused: bool) -> None:
        with self.factory.begin() as session:
            session.execute(update(Dag).where(Dag.dag_id == DAG_ID).values(is_paused=paused))

    def ensure_dag(self) -> None:
        if not self.exists(Dag.dag_id, DAG_ID):
            self.seed.dag(SECURE_DAG)

    def ensure_connection(self, host: str = "db.example.com") -> None:
        from flowctl.connection import Connection as Conn
        from flowctl.db.queries.connections import get_connection_row
        from flowctl.services.connections import add_connection, update_connection

        with self.factory.begin() as session:
            conn = Conn(conn_id=TARGET, conn_type="postgres", host=host, login="etl", password="pw-123456", port=5432)
            store = update_connection if get_connection_row(session, TARGET) else add_connection
            store(session, self.app.extensions["flowctl"].cipher, conn, actor=actor())

    def ensure_variable(self, value: str = "value") -> None:
        from flowctl.services.variables import set_variable

        with self.factory.begin() as session:
            set_variable(session, self.app.extensions["flowctl"].cipher, TARGET, value, actor=actor())

    def ensure_pool(self, slots: int = 1) -> None:
        from flowctl.services.pools import set_pool

        with self.factory.begin() as session:
            set_pool(session, TARGET, slots, "a pool", actor=actor())

    def ensure_victim(self, role: Role = Role.VIEWER) -> None:
        from flowctl.services.users import create_user

        with self.factory.begin() as session:
            row = session.scalar(select(User).where(User.username == VICTIM))
            if row is None:
                create_user(
                    session,
                    username=VICTIM,
                    email="victim@example.com",
                    role=role.value,
                    password=PASSWORD,
                    first_name="Vic",
                    last_name="Tim",
                    actor=actor(),
                )
            else:
                row.role = role.value


def write_log(settings: Settings, task_id: str, text: str, *, run_id: str = RUN_ID, try_number: int = 1) -> Path:
    path = task_log_path(
        settings.logging.base_log_folder,
        dag_id=DAG_ID,
        run_id=run_id,
        task_id=task_id,
        map_index=-1,
        try_number=try_number,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def make_world(app: Flask, seed: Seed, factory: sessionmaker[Session], settings: Settings) -> World:
    from flowctl.parsing.processor import refresh

    world = World(app, seed, factory, settings)
    seed.dag(SECURE_DAG)
    seed.run(DAG_ID, {"a": "failed", "b": "upstream_failed"}, run_id=RUN_ID)
    now = datetime.now(UTC)
    with factory.begin() as session:
        a = session.scalar(select(TaskInstance).where(TaskInstance.run_id == RUN_ID, TaskInstance.task_id == "a"))
        assert a is not None
        a.try_number = 1
        session.add(
            TaskInstanceTry(
                task_instance_id=a.id,
                try_number=1,
                state="failed",
                hostname="worker-1",
                pid=4242,
                start_date=now,
                end_date=now,
                duration=1.0,
                error="RuntimeError: boom",
                rendered_fields={"bash_command": "echo hello"},
            )
        )
        session.add(XCom(task_instance_id=a.id, key="return_value", value=b'{"rows": 42}', created_at=now))
        session.add_all(
            TaskInstance(dag_id=DAG_ID, run_id=RUN_ID, task_id="m", map_index=index, state="success")
            for index in range(3)
        )
    write_log(settings, "a", "first try output\n")
    (settings.core.dags_folder / "broken.py").write_text(BROKEN_DAG)
    refresh(settings, factory, now=now, force=True)
    world.ensure_connection()
    world.ensure_variable()
    world.ensure_pool()
    world.ensure_victim()
    from flowctl.db.models import DagImportError

    world.import_error_id = world.scalar(select(DagImportError.id))
    assert world.import_error_id
    return world


@pytest.fixture
def world(app: Flask, seed: Seed, session_factory: sessionmaker[Session], web_settings: Settings) -> World:
    return make_world(app, seed, session_factory, web_settings)


# --- the whole DB, before and after --------------------------------------------------------------


def db_snapshot(factory: sessionmaker[Session], *, ignore: dict[str, set[str]] | None = None) -> dict[str, list[str]]:
    """Every row of every table, as sorted text (columns in `ignore` left out)."""
    ignore = ignore or {}
    snapshot = {}
    with factory() as session:
        for table in Base.metadata.sorted_tables:
            columns = [column for column in table.columns if column.name not in ignore.get(table.name, set())]
            rows = session.execute(select(*columns)).all()
            snapshot[table.name] = sorted(repr(tuple(row)) for row in rows)
    return snapshot


def changed_tables(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    return [name for name in before if before[name] != after[name]]


# --- the table of state-changing routes ----------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One state-changing route: the least role it needs, a valid request (`tag` makes created names unique
    per attempt), what to reset before each attempt, and how to see that it took effect."""

    endpoint: str
    method: str
    role: Role
    url: str | Callable[[str], str]
    data: dict[str, Any] | Callable[[str], dict[str, Any]] = field(default_factory=dict)
    prepare: Callable[[World], None] = lambda world: None
    done: Callable[[World, str], bool] = lambda world, tag: True

    @property
    def api(self) -> bool:
        return self.endpoint.startswith("api.")

    def url_for(self, tag: str) -> str:
        return self.url(tag) if callable(self.url) else self.url

    def body(self, tag: str) -> dict[str, Any]:
        return self.data(tag) if callable(self.data) else dict(self.data)

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint}"


RUN = f"/dags/{DAG_ID}/runs/{RUN_ID}"
API_TI = f"/api/v1/dags/{DAG_ID}/dagRuns/{RUN_ID}/taskInstances"
CONFIRMED = {"confirmed": "1"}

UI_CHANGES = [
    Change(
        "dags.pause",
        "POST",
        Role.USER,
        f"/dags/{DAG_ID}/pause",
        {"paused": "true", "next": "/"},
        prepare=lambda w: w.set_paused(False),
        done=lambda w, tag: w.scalar(select(Dag.is_paused).where(Dag.dag_id == DAG_ID)) is True,
    ),
    Change(
        "dags.trigger",
        "POST",
        Role.USER,
        f"/dags/{DAG_ID}/trigger",
        lambda tag: {"run_id": f"ui-{tag}", "conf": "{}"},
        done=lambda w, tag: w.exists(DagRun.run_id, f"ui-{tag}"),
    ),
    Change(
        "dags.delete",
        "POST",
        Role.OP,
        f"/dags/{DAG_ID}/delete",
        prepare=lambda w: w.ensure_dag(),
        done=lambda w, tag: not w.exists(Dag.dag_id, DAG_ID),
    ),
    Change(
        "run_actions.clear_task",
        "POST",
        Role.USER,
        f"{RUN}/tasks/a/clear",
        {"map_index": "-1", **CONFIRMED},
        prepare=lambda w: w.set_ti("a", "failed"),
        done=lambda w, tag: w.ti_state("a") == "none",
    ),
    Change(
        "run_actions.mark_task",
        "POST",
        Role.USER,
        f"{RUN}/tasks/a/mark/success",
        {"map_index": "-1", **CONFIRMED},
        prepare=lambda w: w.set_ti("a", "failed"),
        done=lambda w, tag: w.ti_state("a") == "success",
    ),
    Change(
        "run_actions.clear_run",
        "POST",
        Role.USER,
        f"{RUN}/clear",
        {"only_failed": "1", **CONFIRMED},
        prepare=lambda w: w.set_ti("a", "failed"),
        done=lambda w, tag: w.ti_state("a") == "none",
    ),
    Change(
        "run_actions.mark_run",
        "POST",
        Role.USER,
        f"{RUN}/mark/failed",
        CONFIRMED,
        prepare=lambda w: w.set_all_tis("success"),
        done=lambda w, tag: (w.ti_state("a"), w.ti_state("b")) == ("failed", "failed"),
    ),
    Change(
        "admin.connection_new",
        "POST",
        Role.OP,
        "/admin/connections/new?conn_type=generic",
        lambda tag: {"conn_id": f"new-{tag}", "host": "h.example.com"},
        done=lambda w, tag: w.exists(Connection.conn_id, f"new-{tag}"),
    ),
    Change(
        "admin.connection_edit",
        "POST",
        Role.OP,
        f"/admin/connections/edit?conn_id={TARGET}",
        lambda tag: {"conn_id": TARGET, "host": f"edited-{tag}.example.com", "login": "etl", "port": "5432"},
        prepare=lambda w: w.ensure_connection(),
        done=lambda w, tag: w.connection(TARGET).host == f"edited-{tag}.example.com",
    ),
    Change(
        "admin.connection_delete",
        "POST",
        Role.OP,
        "/admin/connections/delete",
        {"conn_id": TARGET},
        prepare=lambda w: w.ensure_connection(),
        done=lambda w, tag: not w.exists(Connection.conn_id, TARGET),
    ),
    Change(
        "admin.variable_new",
        "POST",
        Role.OP,
        "/admin/variables/new",
        lambda tag: {"key": f"new-{tag}", "value": "v"},
        done=lambda w, tag: w.variable(f"new-{tag}") == "v",
    ),
    Change(
        "admin.variable_edit",
        "POST",
        Role.OP,
        f"/admin/variables/edit?key={TARGET}",
        lambda tag: {"key": TARGET, "value": f"edited-{tag}"},
        prepare=lambda w: w.ensure_variable(),
        done=lambda w, tag: w.variable(TARGET) == f"edited-{tag}",
    ),
    Change(
        "admin.variable_delete",
        "POST",
        Role.OP,
        "/admin/variables/delete",
        {"key": TARGET},
        prepare=lambda w: w.ensure_variable(),
        done=lambda w, tag: w.variable(TARGET) is None,
    ),
    Change(
        "admin.pool_new",
        "POST",
        Role.OP,
        "/admin/pools/new",
        lambda tag: {"name": f"new-{tag}", "slots": "3"},
        done=lambda w, tag: w.exists(Pool.pool, f"new-{tag}"),
    ),
    Change(
        "admin.pool_edit",
        "POST",
        Role.OP,
        f"/admin/pools/edit?pool={TARGET}",
        {"name": TARGET, "slots": "7", "description": "edited"},
        prepare=lambda w: w.ensure_pool(1),
        done=lambda w, tag: w.scalar(select(Pool.slots).where(Pool.pool == TARGET)) == 7,
    ),
    Change(
        "admin.pool_delete",
        "POST",
        Role.OP,
        "/admin/pools/delete",
        {"pool": TARGET},
        prepare=lambda w: w.ensure_pool(),
        done=lambda w, tag: not w.exists(Pool.pool, TARGET),
    ),
    Change(
        "admin.user_new",
        "POST",
        Role.ADMIN,
        "/admin/users/new",
        lambda tag: {
            "username": f"new-{tag}",
            "email": f"new-{tag}@example.com",
            "role": "Viewer",
            "password": "a-long-password-1",
        },
        done=lambda w, tag: w.exists(User.username, f"new-{tag}"),
    ),
    Change(
        "admin.user_edit",
        "POST",
        Role.ADMIN,
        f"/admin/users/edit?username={VICTIM}",
        {"role": "User"},
        prepare=lambda w: w.ensure_victim(Role.VIEWER),
        done=lambda w, tag: w.scalar(select(User.role).where(User.username == VICTIM)) == "User",
    ),
    Change(
        "admin.user_delete",
        "POST",
        Role.ADMIN,
        "/admin/users/delete",
        {"username": VICTIM},
        prepare=lambda w: w.ensure_victim(),
        done=lambda w, tag: not w.exists(User.username, VICTIM),
    ),
]

API_CHANGES = [
    Change(
        "api.patch_dag",
        "PATCH",
        Role.USER,
        f"/api/v1/dags/{DAG_ID}",
        {"is_paused": True},
        prepare=lambda w: w.set_paused(False),
        done=lambda w, tag: w.scalar(select(Dag.is_paused).where(Dag.dag_id == DAG_ID)) is True,
    ),
    Change(
        "api.post_dag_run",
        "POST",
        Role.USER,
        f"/api/v1/dags/{DAG_ID}/dagRuns",
        lambda tag: {"dag_run_id": f"api-{tag}", "conf": {}},
        done=lambda w, tag: w.exists(DagRun.run_id, f"api-{tag}"),
    ),
    Change(
        "api.post_clear_task_instances",
        "POST",
        Role.USER,
        f"/api/v1/dags/{DAG_ID}/clearTaskInstances",
        {"dag_run_id": RUN_ID, "task_ids": ["a"], "dry_run": False, "only_failed": True},
        prepare=lambda w: w.set_ti("a", "failed"),
        done=lambda w, tag: w.ti_state("a") == "none",
    ),
    Change(
        "api.patch_task_instance",
        "PATCH",
        Role.USER,
        f"{API_TI}/a",
        {"new_state": "success"},
        prepare=lambda w: w.set_ti("a", "failed"),
        done=lambda w, tag: w.ti_state("a") == "success",
    ),
    Change(
        "api.patch_mapped_task_instance",
        "PATCH",
        Role.USER,
        f"{API_TI}/m/1",
        {"new_state": "failed"},
        prepare=lambda w: w.set_ti("m", "success", map_index=1),
        done=lambda w, tag: (w.ti_state("m", 1), w.ti_state("m", 0)) == ("failed", "success"),
    ),
    Change(
        "api.post_connection",
        "POST",
        Role.OP,
        "/api/v1/connections",
        lambda tag: {"connection_id": f"api-{tag}", "conn_type": "http", "host": "api.example.com"},
        done=lambda w, tag: w.exists(Connection.conn_id, f"api-{tag}"),
    ),
    Change(
        "api.patch_connection",
        "PATCH",
        Role.OP,
        f"/api/v1/connections/{TARGET}",
        lambda tag: {"connection_id": TARGET, "conn_type": "postgres", "host": f"edited-{tag}.example.com"},
        prepare=lambda w: w.ensure_connection(),
        done=lambda w, tag: w.connection(TARGET).host == f"edited-{tag}.example.com",
    ),
    Change(
        "api.delete_connection",
        "DELETE",
        Role.OP,
        f"/api/v1/connections/{TARGET}",
        prepare=lambda w: w.ensure_connection(),
        done=lambda w, tag: not w.exists(Connection.conn_id, TARGET),
    ),
    Change(
        "api.post_variables",
        "POST",
        Role.OP,
        "/api/v1/variables",
        lambda tag: {"key": f"api-{tag}", "value": "v"},
        done=lambda w, tag: w.variable(f"api-{tag}") == "v",
    ),
    Change(
        "api.patch_variable",
        "PATCH",
        Role.OP,
        f"/api/v1/variables/{TARGET}",
        lambda tag: {"key": TARGET, "value": f"edited-{tag}"},
        prepare=lambda w: w.ensure_variable(),
        done=lambda w, tag: w.variable(TARGET) == f"edited-{tag}",
    ),
    Change(
        "api.delete_variable",
        "DELETE",
        Role.OP,
        f"/api/v1/variables/{TARGET}",
        prepare=lambda w: w.ensure_variable(),
        done=lambda w, tag: w.variable(TARGET) is None,
    ),
    Change(
        "api.post_pool",
        "POST",
        Role.OP,
        "/api/v1/pools",
        lambda tag: {"name": f"api-{tag}", "slots": 2},
        done=lambda w, tag: w.exists(Pool.pool, f"api-{tag}"),
    ),
    Change(
        "api.patch_pool",
        "PATCH",
        Role.OP,
        f"/api/v1/pools/{TARGET}",
        {"name": TARGET, "slots": 9},
        prepare=lambda w: w.ensure_pool(1),
        done=lambda w, tag: w.scalar(select(Pool.slots).where(Pool.pool == TARGET)) == 9,
    ),
    Change(
        "api.delete_pool",
        "DELETE",
        Role.OP,
        f"/api/v1/pools/{TARGET}",
        prepare=lambda w: w.ensure_pool(),
        done=lambda w, tag: not w.exists(Pool.pool, TARGET),
    ),
]

CHANGES = UI_CHANGES + API_CHANGES
# Signing in and out need no role (anyone may try to log in; logging out ends one's own session only):
# tested by test_login_and_logout_change_nothing_but_the_session and in test_auth.py.
SESSION_ROUTES = {("auth.login", "POST"), ("auth.logout", "POST")}
CHANGING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def state_changing_routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method in CHANGING_METHODS
    }


def send(web: Web, change: Change, role: Role | None, tag: str) -> Any:
    """The request as a browser (UI, with the CSRF token) or an API client (HTTP basic) would send it."""
    if change.api:
        headers = web.basic_auth(role) if role is not None else {}
        return web.app.test_client().open(
            change.url_for(tag), method=change.method, json=change.body(tag) or None, headers=headers
        )
    return web.client(role).post(change.url_for(tag), data=change.body(tag))


def test_every_state_changing_route_is_in_the_role_table(app: Flask) -> None:
    tabled = {(change.endpoint, change.method) for change in CHANGES}

    assert len(tabled) == len(CHANGES), "a route is in the table twice"
    assert state_changing_routes(app) - SESSION_ROUTES == tabled, (
        "add the new state-changing route to UI_CHANGES / API_CHANGES with the role it needs"
    )


@pytest.mark.parametrize("change", CHANGES, ids=str)
def test_each_role_below_the_route_s_role_is_refused_and_changes_nothing_the_others_succeed(
    web: Web, world: World, session_factory: sessionmaker[Session], change: Change
) -> None:
    # Anonymous first: sent to the login page (UI) or 401 (API), nothing changed
    change.prepare(world)
    before = db_snapshot(session_factory)
    anonymous = send(web, change, None, "anonymous")
    if change.api:
        assert anonymous.status_code == 401, anonymous.get_data(as_text=True)
        assert anonymous.mimetype == "application/json"
    else:
        assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login?next="), anonymous
    assert changed_tables(before, db_snapshot(session_factory)) == []

    for role in Role:
        change.prepare(world)
        tag = role.value.lower()
        before = db_snapshot(session_factory, ignore=LOGIN_BOOKKEEPING)
        response = send(web, change, role, tag)
        after = db_snapshot(session_factory, ignore=LOGIN_BOOKKEEPING)
        if role.can(change.role):
            assert 200 <= response.status_code < 400, (role, response.status_code, response.get_data(as_text=True))
            assert change.done(world, tag), f"{change} as {role}: answered {response.status_code} but changed nothing"
        else:
            assert response.status_code == 403, (role, response.status_code)
            assert changed_tables(before, after) == [], f"{change} as {role} was refused yet changed the DB"
            if change.api:
                assert response.get_json()["status"] == 403


def test_login_and_logout_change_nothing_but_the_session(web: Web, session_factory: sessionmaker[Session]) -> None:
    before = db_snapshot(session_factory, ignore=LOGIN_BOOKKEEPING)
    client = web.client()

    login = client.post("/login", data={"username": USERNAMES[Role.VIEWER], "password": PASSWORD})
    logout = client.post("/logout")

    assert (login.status_code, logout.status_code) == (302, 302)
    assert changed_tables(before, db_snapshot(session_factory, ignore=LOGIN_BOOKKEEPING)) == []
    assert client.get("/").status_code == 302


def test_post_only_routes_answer_a_get_with_405_and_change_nothing(
    web: Web, world: World, session_factory: sessionmaker[Session]
) -> None:
    client = web.client(Role.ADMIN)
    get_too = {rule.endpoint for rule in web.app.url_map.iter_rules() if "GET" in (rule.methods or ())}
    before = db_snapshot(session_factory)

    for change in UI_CHANGES:
        if change.endpoint not in get_too:
            assert client.get(change.url_for("get")).status_code == 405, change
    for change in API_CHANGES:
        if change.method != "PATCH":  # PATCH routes share their path with a GET
            continue
        assert client.api("PUT", change.url_for("put"), json=change.body("put")).status_code == 405, change

    assert changed_tables(before, db_snapshot(session_factory)) == []


# --- CSRF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("change", UI_CHANGES, ids=str)
def test_a_ui_change_without_its_csrf_token_or_with_a_wrong_one_is_refused_and_changes_nothing(
    web: Web, world: World, session_factory: sessionmaker[Session], change: Change
) -> None:
    change.prepare(world)
    client = web.client(Role.ADMIN)
    other = web.client(Role.ADMIN)  # a token from another session is as wrong as garbage
    before = db_snapshot(session_factory)

    missing = client.post(change.url_for("csrf"), data=change.body("csrf"), csrf=False)
    garbage = client.post(change.url_for("csrf"), data={**change.body("csrf"), "csrf_token": "not-a-token"})
    foreign = client.post(change.url_for("csrf"), data={**change.body("csrf"), "csrf_token": other.csrf_token()})
    in_header = client.client.post(  # Flask-WTF also reads the X-CSRFToken header: a wrong one there too
        change.url_for("csrf"), data=change.body("csrf"), headers={"X-CSRFToken": other.csrf_token()}
    )

    assert [missing.status_code, garbage.status_code, foreign.status_code, in_header.status_code] == [400] * 4
    assert "CSRF" in missing.get_data(as_text=True)
    assert changed_tables(before, db_snapshot(session_factory)) == []
    # and with the right token it works (so the refusals above were the CSRF check's)
    assert client.post(change.url_for("csrf"), data=change.body("csrf")).status_code < 400
    assert change.done(world, "csrf")


def test_the_login_form_needs_its_csrf_token(web: Web) -> None:
    data = {"username": USERNAMES[Role.ADMIN], "password": PASSWORD}

    assert web.client().post("/login", data=data, csrf=False).status_code == 400
    assert web.client().post("/login", data={**data, "csrf_token": "x"}).status_code == 400
    assert web.client(Role.VIEWER).post("/logout", data={"csrf_token": "x"}).status_code == 400


@pytest.mark.parametrize("change", API_CHANGES, ids=str)
def test_an_api_change_on_the_browser_session_needs_the_csrf_header_but_basic_auth_does_not(
    web: Web, world: World, session_factory: sessionmaker[Session], change: Change
) -> None:
    change.prepare(world)
    client = web.client(Role.ADMIN)
    other = web.client(Role.ADMIN)
    before = db_snapshot(session_factory)

    missing = client.api(change.method, change.url_for("csrf"), json=change.body("csrf") or None, csrf=False)
    wrong = client.api(
        change.method,
        change.url_for("csrf"),
        json=change.body("csrf") or None,
        headers={"X-CSRFToken": other.csrf_token()},
    )

    for response in (missing, wrong):
        assert response.status_code == 400 and response.mimetype == "application/json"
        assert "CSRF" in response.get_json()["detail"]
    assert changed_tables(before, db_snapshot(session_factory)) == []
    # The same request with HTTP basic needs no token: no cookie is involved
    plain = web.app.test_client()
    basic = plain.open(
        change.url_for("basic"),
        method=change.method,
        json=change.body("basic") or None,
        headers=web.basic_auth(Role.ADMIN),
    )
    assert 200 <= basic.status_code < 300, basic.get_data(as_text=True)
    assert change.done(world, "basic")


def test_basic_auth_with_a_wrong_password_is_401_even_next_to_a_valid_session(web: Web, world: World) -> None:
    import base64

    client = web.client(Role.ADMIN)
    wrong = base64.b64encode(f"{USERNAMES[Role.ADMIN]}:wrong-password".encode()).decode()

    response = client.api(
        "PATCH", f"/api/v1/dags/{DAG_ID}", json={"is_paused": True}, headers={"Authorization": f"Basic {wrong}"}
    )

    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Basic")


# --- reading: the API shows variables and connections to the roles the UI shows them to -----------

# Each admin page with the API reads that serve the same data
SAME_DATA = {
    "/admin/connections": ["/api/v1/connections", f"/api/v1/connections/{TARGET}"],
    f"/admin/connections/edit?conn_id={TARGET}": [f"/api/v1/connections/{TARGET}"],
    "/admin/variables": ["/api/v1/variables", f"/api/v1/variables/{TARGET}"],
    f"/admin/variables/edit?key={TARGET}": [f"/api/v1/variables/{TARGET}"],
}


def test_the_api_reads_variables_and_connections_for_exactly_the_roles_the_ui_shows_them_to(
    web: Web, world: World
) -> None:
    answers = {}
    for role in Role:
        browser, api = web.client(role), web.app.test_client()
        for page, reads in SAME_DATA.items():
            answers[role, page] = browser.get(page).status_code
            for url in reads:
                answers[role, url] = api.get(url, headers=web.basic_auth(role)).status_code

    for role in Role:
        expected = 200 if role.can(Role.OP) else 403  # the admin pages' role (as in Airflow)
        for page, reads in SAME_DATA.items():
            assert [answers[role, page], *(answers[role, url] for url in reads)] == [expected] * (1 + len(reads)), (
                role,
                page,
            )
    document = web.client().get("/api/v1/openapi.json").get_json()
    for path in ("/connections", "/connections/{connection_id}", "/variables", "/variables/{variable_key}"):
        assert document["paths"][path]["get"]["x-flowctl-role"] == "Op", path


# --- anonymous visitors with [webserver] auth = none ---------------------------------------------


@pytest.fixture
def open_app(web_settings: Settings, session_factory: sessionmaker[Session], app: Flask, db_url: str) -> Flask:
    """A second app on the same DB with `[webserver] auth = none` (anonymous visitors may read)."""
    from flowctl.web import create_app

    settings = settings_from_environment(
        {
            "FLOWCTL_HOME": str(web_settings.home),
            "FLOWCTL__CORE__SQL_ALCHEMY_CONN": db_url,
            "FLOWCTL__WEBSERVER__AUTH": "none",
        }
    )
    assert settings.webserver.auth == "none"
    opened = create_app(settings, session_factory)
    opened.config.update(TESTING=True)
    return opened


def test_with_auth_none_anonymous_visitors_read_pages_but_every_change_needs_a_login(
    open_app: Flask, world: World, session_factory: sessionmaker[Session]
) -> None:
    web = Web(open_app)
    anonymous = web.client()

    for url in ("/", f"/dags/{DAG_ID}/grid", f"/dags/{DAG_ID}/graph", f"/dags/{DAG_ID}/code", RUN, f"{RUN}/tasks/a"):
        assert anonymous.get(url).status_code == 200, url
    for url in ("/api/v1/dags", f"/api/v1/dags/{DAG_ID}/dagRuns", "/dags.json?dag_ids=secure"):
        response = anonymous.get(url)
        assert response.status_code == 200 and response.mimetype == "application/json", url
    for url in ("/admin/connections", "/admin/variables", "/admin/users", f"/dags/{DAG_ID}/trigger"):
        response = anonymous.get(url)  # more than reading: a login first
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next="), url
    for url in (
        "/api/v1/connections",
        f"/api/v1/connections/{TARGET}",
        "/api/v1/variables",
        f"/api/v1/variables/{TARGET}",
    ):
        assert anonymous.get(url).status_code == 401, url  # the API's "log in first"
    assert anonymous.get("/login").status_code == 200

    for change in CHANGES:
        change.prepare(world)
        before = db_snapshot(session_factory)
        if change.api:
            response = anonymous.api(change.method, change.url_for("anon"), json=change.body("anon") or None)
            assert response.status_code == 401, change
        else:
            response = anonymous.post(change.url_for("anon"), data=change.body("anon"))
            assert response.status_code == 302 and response.headers["Location"].startswith("/login"), change
        assert changed_tables(before, db_snapshot(session_factory)) == [], change


# --- GET never changes state ---------------------------------------------------------------------

# What fills each path parameter of a GET route (per endpoint where the default would miss), and the
# query strings each page is also visited with. A parameter not named here fails the crawl.
PATH_VALUES: dict[str, str] = {
    "dag_id": DAG_ID,
    "run_id": RUN_ID,
    "dag_run_id": RUN_ID,
    "task_id": "a",
    "map_index": "1",
    "task_try_number": "1",
    "xcom_key": "return_value",
    "connection_id": TARGET,
    "variable_key": TARGET,
    "pool_name": TARGET,
    "filename": "flowctl.css",
}
ENDPOINT_PATH_VALUES: dict[str, dict[str, str]] = {"api.get_mapped_task_instance": {"task_id": "m"}}
EXTRA_QUERIES: dict[str, list[str]] = {
    "dags.index": ["?status=paused", "?search=sec&tags=x&stale=1", "?page=2"],
    "dags.states": ["?dag_ids=secure&dag_ids=missing"],
    "admin.connection_new": ["?conn_type=postgres"],
    "admin.connection_edit": [f"?conn_id={TARGET}"],
    "admin.variable_edit": [f"?key={TARGET}"],
    "admin.pool_edit": [f"?pool={TARGET}"],
    "admin.user_edit": [f"?username={VICTIM}"],
    "dag_views.grid": ["?num_runs=5", "?before=2030-01-01T00:00:00+00:00"],
    "dag_views.graph": [f"?run_id={RUN_ID}"],
    "dag_views.gantt": [f"?run_id={RUN_ID}"],
    "dag_views.code": [f"?run_id={RUN_ID}"],
    "runs.task_instance": ["?try_number=1", "?map_index=-1"],
    "runs.task_log": ["?try_number=1&offset=0"],
    "runs.task_log_text": ["?try_number=1"],
    "api.get_dag_runs": ["?limit=1&offset=0"],
    "api.get_log": ["?full_content=true"],
    "api.get_xcom_entry": ["?stringify=false"],
}
# Edit pages name their object in the query string: without it, 404
NAMED_IN_QUERY = ["/admin/connections/edit", "/admin/pools/edit", "/admin/users/edit", "/admin/variables/edit"]
LINK = re.compile(r"""(?:href|src)=["']([^"']+)["']""")


def get_urls(
    app: Flask,
    world: World,
    *,
    values: dict[str, str] | None = None,
    per_endpoint: dict[str, dict[str, str]] | None = None,
    queries: dict[str, list[str]] | None = None,
) -> list[str]:
    """Every GET route of the app with its parameters filled from the seeded installation (`values`,
    `per_endpoint` overrides) and visited again with each of its `queries`."""
    values = {**(PATH_VALUES if values is None else values), "import_error_id": str(world.import_error_id)}
    per_endpoint = ENDPOINT_PATH_VALUES if per_endpoint is None else per_endpoint
    queries = EXTRA_QUERIES if queries is None else queries
    urls = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in (rule.methods or ()):
            continue
        filled = {**values, **per_endpoint.get(rule.endpoint, {})}
        missing = rule.arguments - set(filled)
        assert not missing, f"{rule.rule}: say in PATH_VALUES what fills {sorted(missing)}"
        path = re.sub(r"<(?:[^<>]*:)?(\w+)>", lambda m, given=filled: quote(given[m.group(1)], safe=""), rule.rule)
        urls.append(path)
        urls += [path + query for query in queries.get(rule.endpoint, [])]
    return urls


def crawl(client: WebClient, start: list[str], *, limit: int = 400) -> dict[str, Any]:
    """GET `start` and every same-site link (href/src) of the HTML pages met, breadth first."""
    seen: dict[str, Any] = {}
    queue = list(dict.fromkeys(start))
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        response = client.get(url)
        seen[url] = response
        if response.mimetype != "text/html":
            continue
        for raw in LINK.findall(response.get_data(as_text=True)):
            link = html.unescape(raw).split("#", 1)[0]
            if link.startswith("/") and not link.startswith("//") and link not in seen:
                queue.append(link)
    return seen


def test_no_get_changes_anything_nor_fails(web: Web, world: World, session_factory: sessionmaker[Session]) -> None:
    client = web.client(Role.ADMIN)
    urls = get_urls(web.app, world)
    before = db_snapshot(session_factory)

    responses = crawl(client, urls)

    assert changed_tables(before, db_snapshot(session_factory)) == []
    failures = {url: r.status_code for url, r in responses.items() if r.status_code >= 500}
    assert failures == {}
    not_ok = {url: r.status_code for url, r in responses.items() if url in urls and r.status_code not in (200, 302)}
    assert not_ok == dict.fromkeys(NAMED_IN_QUERY, 404), "every GET route answers for the seeded installation"
    assert len(responses) > len(urls)  # links were followed too
    # the API's GETs as an API client would send them change nothing either (no login bookkeeping aside)
    api = web.app.test_client()
    before = db_snapshot(session_factory, ignore=LOGIN_BOOKKEEPING)
    for url in urls:
        if url.startswith("/api/"):
            assert api.get(url, headers=web.basic_auth(Role.ADMIN)).status_code < 500, url
    assert changed_tables(before, db_snapshot(session_factory, ignore=LOGIN_BOOKKEEPING)) == []


def test_head_and_options_change_nothing_either(web: Web, world: World, session_factory: sessionmaker[Session]) -> None:
    client = web.client(Role.ADMIN)
    before = db_snapshot(session_factory)

    for url in get_urls(web.app, world) + [change.url_for("head") for change in CHANGES]:
        for method in ("HEAD", "OPTIONS"):
            response = client.client.open(url, method=method)
            assert response.status_code < 500, (url, method)
            if method == "HEAD" and url in get_urls(web.app, world) and url not in NAMED_IN_QUERY:
                assert response.status_code in (200, 302), (url, response.status_code)

    assert changed_tables(before, db_snapshot(session_factory)) == []


# --- redirects stay on the site ------------------------------------------------------------------

HOSTILE_TARGETS = [
    "https://evil.example/",
    "http:evil.example",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/%2F%2Fevil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    " //evil.example",
    "evil.example",
]


def lands_on_this_site(location: str) -> bool:
    """Where a browser would go for this Location (it drops tabs and newlines and reads \\ as /)."""
    cleaned = re.sub(r"[\t\r\n]", "", location).replace("\\", "/").strip()
    target = urlsplit(urljoin("http://localhost/dags/x", cleaned))
    return target.scheme == "http" and target.netloc == "localhost"


@pytest.mark.parametrize("hostile", HOSTILE_TARGETS)
def test_no_next_parameter_redirects_off_the_site(web: Web, world: World, hostile: str) -> None:
    data = {"username": USERNAMES[Role.USER], "password": PASSWORD}

    fresh = web.client()
    login = fresh.post(f"/login?next={quote(hostile, safe='')}", data=data)
    already = fresh.get(f"/login?next={quote(hostile, safe='')}")  # signed in: straight to next
    pause = fresh.post(f"/dags/{DAG_ID}/pause", data={"paused": "false", "next": hostile})

    for response in (login, already, pause):
        assert response.status_code == 302
        assert lands_on_this_site(response.headers["Location"]), (hostile, response.headers["Location"])


def test_a_local_next_is_followed(web: Web, world: World) -> None:
    client = web.client(Role.USER)

    pause = client.post(f"/dags/{DAG_ID}/pause", data={"paused": "true", "next": f"/dags/{DAG_ID}/grid?x=1"})

    assert pause.headers["Location"] == f"/dags/{DAG_ID}/grid?x=1"


def test_the_login_redirect_keeps_where_the_visitor_wanted_to_go_on_this_site(web: Web, world: World) -> None:
    anonymous = web.client()

    response = anonymous.get(f"/dags/{DAG_ID}/grid?num_runs=5")

    assert response.status_code == 302 and lands_on_this_site(response.headers["Location"])
    target = dict(part.split("=", 1) for part in urlsplit(response.headers["Location"]).query.split("&"))
    assert unquote(target["next"]) == f"/dags/{DAG_ID}/grid?num_runs=5"
