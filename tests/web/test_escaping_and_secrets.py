"""What DAG authors, tasks and users wrote comes back escaped on every page, and secrets never come back
at all (issue 5).

XSS: hostile markup is planted in every place a page shows text from a DAG file, a run, a task, a log, an
XCom, the import errors, the admin objects and the users; then every GET route and every link of the
pages met is crawled, and no HTML or SVG answer may hold the markup unescaped. JSON and plain-text answers
carry it as data, so they must say so (application/json, text/plain) and forbid sniffing.

Secrets: a connection password, a secret `extra` value and a sensitive variable are used by a real task
(run by `flowctl tasks run`, which masks them in its log, rendered fields and error); then every page and
API answer is crawled as each role, and the webserver's own log is captured: none may hold a canary value.
flowctl's one deliberate exception, as in Airflow's API: `GET /api/v1/variables/{key}` gives an Op or an
Admin (who may edit the variable anyway) its value; Viewers and Users may not read variables at all (403,
as on the admin pages), and no page shows a sensitive value to anyone.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from flowctl.config import Settings
from flowctl.db.models import LogEvent, TaskInstance, TaskInstanceTry, XCom
from flowctl.logs import task_log_path
from flowctl.roles import Role
from flowctl.services.actor import Actor
from tests.web.conftest import PASSWORD, Seed, Web
from tests.web.test_security_matrix import (
    PATH_VALUES,
    World,
    crawl,
    get_urls,
    make_world,
)

pytestmark = pytest.mark.sqlite_only  # what it checks does not depend on the metadata DB

# One payload for each way out of a context: a text node, a double- or single-quoted attribute, a
# <textarea>, plus a bare event-handler attribute. XSS_ID leaves out "/" for ids that name files.
XSS = (
    '<script>alert(1)</script>"><img src=x onerror=alert(2)></textarea><svg onload=alert(3)>'
    '\'><svg onload=alert(4)>" autofocus onfocus="alert(5)'
)
XSS_TAG = '<script>alert(1)</script>"><img src=x onerror=alert(2)><svg onload=alert(3)>'  # tags: 100 at most
XSS_ID = "\"><img src=x onerror=alert(2)><svg onload=alert(3)>' autofocus onfocus='alert(5)"
# Found in a page only if the markup above got there unescaped (a quote needs no escaping in a text node,
# so attribute breakouts are looked for by parsing the page: see ActiveContent).
MARKERS = ("<script>alert", "<img src=x onerror", "<svg onload", "</textarea><svg")
MARKUP_TYPES = {"text/html", "image/svg+xml"}
DATA_TYPES = {"application/json", "text/plain", "text/css", "text/javascript", "application/javascript"}
ICON_TYPES = {"image/vnd.microsoft.icon", "image/x-icon"}  # the favicon: bytes no browser runs
HOSTILE_DAG = "hostile"

HOSTILE_SOURCE = f"""
from datetime import datetime
from flowctl import DAG, Label, Param
from flowctl.operators.empty import EmptyOperator

XSS = {XSS!r}
XSS_TAG = {XSS_TAG!r}

with DAG(
    "hostile",
    description=XSS,
    doc_md=XSS,
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=[XSS_TAG, "javascript:alert(1)"],
    default_args={{"owner": XSS}},
    params={{
        "text": Param(XSS, type="string", description=XSS, title=XSS),
        "choice": Param("plain", enum=[XSS, "plain"], description=XSS),
        "nested": Param({{"k": XSS}}, type="object", description=XSS),
        "number": Param(3, type="integer", description=XSS),
    }},
    is_paused_upon_creation=False,
):
    a = EmptyOperator(task_id="a", doc_md=XSS, owner=XSS)
    b = EmptyOperator(task_id="b")
    a >> Label(XSS) >> b
"""


def actor() -> Actor:
    return Actor("test", datetime.now(UTC))


class ActiveContent(HTMLParser):
    """What in a page could run script: flowctl's pages have none but <script src="/static/...">."""

    URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href", "data", "poster"})
    FOREIGN_TAGS = frozenset({"iframe", "object", "embed", "base", "frame", "applet"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "script" and not values.get("src", "").startswith("/static/"):
            self.found.append(f"<script {values}>")
        if tag in self.FOREIGN_TAGS or (tag == "meta" and "http-equiv" in values):
            self.found.append(f"<{tag}>")
        for name, value in values.items():
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            scheme = "".join(value.split()).lower()
            if name in self.URL_ATTRIBUTES and scheme.startswith(("javascript:", "vbscript:", "data:text")):
                self.found.append(f"<{tag} {name}={value[:40]!r}>")

    handle_startendtag = handle_starttag


def markers_in(text: str) -> list[str]:
    """Hostile markup a browser would act on: the payload's literal tags, or any script-capable element."""
    parser = ActiveContent()
    parser.feed(text)
    parser.close()
    return [marker for marker in MARKERS if marker in text] + parser.found


def strings_of(data: Any) -> list[str]:
    """Every string of JSON data, keys included."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [text for key, value in data.items() for text in [key, *strings_of(value)]]
    if isinstance(data, list):
        return [text for item in data for text in strings_of(item)]
    return []


def escaped(text: str) -> bool:
    """Whether a page shows some of the payload, escaped (so a test that finds no marker is not vacuous)."""
    return "&lt;svg onload=alert(3)&gt;" in text or "&lt;img src=x onerror=alert(2)&gt;" in text


def check_answers(responses: dict[str, Any]) -> None:
    """No 5xx; markup answers hold no payload unescaped; other answers say what they are and forbid sniffing."""
    failures = {url: r.status_code for url, r in responses.items() if r.status_code >= 500}
    assert failures == {}
    for url, response in responses.items():
        if 300 <= response.status_code < 400 or response.mimetype in ICON_TYPES:
            continue
        body = response.get_data(as_text=True)
        assert response.headers.get("X-Content-Type-Options") == "nosniff", url
        if response.mimetype in MARKUP_TYPES:
            assert markers_in(body) == [], f"{url} shows hostile markup unescaped: {markers_in(body)}"
        else:
            assert response.mimetype in DATA_TYPES, (url, response.mimetype)
            if url.startswith("/api/") or url.split("?")[0].endswith(".json"):
                assert response.mimetype == "application/json" or url.split("?")[0].endswith(("/logs/1", "log.txt"))


# --- the hostile installation --------------------------------------------------------------------


@pytest.fixture
def hostile(
    app: Flask, seed: Seed, session_factory: sessionmaker[Session], web_settings: Settings
) -> tuple[World, str]:
    """The usual world plus everything a hostile author or user could write; returns it and the run id."""
    from flowctl.connection import Connection
    from flowctl.parsing.processor import refresh
    from flowctl.services.connections import add_connection
    from flowctl.services.pools import set_pool
    from flowctl.services.users import create_user
    from flowctl.services.variables import set_variable_entry

    world = make_world(app, seed, session_factory, web_settings)
    dag_id = seed.dag(HOSTILE_SOURCE, name=f"{XSS_ID}hostile")
    assert dag_id == HOSTILE_DAG
    run_id = seed.run(HOSTILE_DAG, {"a": "failed", "b": "upstream_failed"}, run_id=XSS_ID, conf={"note": XSS, XSS: 1})
    seed.run(HOSTILE_DAG, {"a": "running"}, run_id="plain-run", logical_date=datetime(2024, 3, 1, tzinfo=UTC))
    now = datetime.now(UTC)
    with session_factory.begin() as session:
        a = session.scalar(select(TaskInstance).where(TaskInstance.run_id == run_id, TaskInstance.task_id == "a"))
        assert a is not None
        a.try_number = 1
        a.hostname = XSS
        session.add(
            TaskInstanceTry(
                task_instance_id=a.id,
                try_number=1,
                state="failed",
                hostname=XSS,
                start_date=now,
                end_date=now,
                duration=2.0,
                error=f"RuntimeError: {XSS}",
                rendered_fields={"bash_command": XSS, XSS: [XSS, {"k": XSS}]},
            )
        )
        session.add(XCom(task_instance_id=a.id, key=XSS_ID, value=json.dumps({XSS: XSS}).encode(), created_at=now))
        session.add(XCom(task_instance_id=a.id, key="return_value", value=json.dumps(XSS).encode(), created_at=now))
        cipher = app.extensions["flowctl"].cipher
        add_connection(
            session,
            cipher,
            Connection(
                conn_id=XSS,
                conn_type="postgres",
                description=XSS,
                host=XSS[:200],
                schema=XSS[:200],
                login=XSS,
                port=5432,
                extra=json.dumps({XSS: XSS, "note": XSS}),
            ),
            actor=actor(),
        )
        set_variable_entry(session, cipher, XSS, XSS, description=XSS, actor=actor())
        set_pool(session, XSS_ID, 3, XSS, actor=actor())
        create_user(
            session,
            username=XSS,
            email=f"{XSS_ID.replace(' ', '')}@example.com",
            role="Viewer",
            password="a-long-password-1",
            first_name=XSS,
            last_name=XSS,
            actor=actor(),
        )
    log = task_log_path(
        web_settings.logging.base_log_folder, dag_id=HOSTILE_DAG, run_id=run_id, task_id="a", map_index=-1, try_number=1
    )
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"[2024-01-01 00:00:00] INFO - printed {XSS}\n{XSS}\n", encoding="utf-8")
    (web_settings.core.dags_folder / f"{XSS_ID}broken.py").write_text(
        f"from flowctl import DAG\nraise ValueError({XSS!r})\n"
    )
    refresh(web_settings, session_factory, now=now, force=True)
    return world, run_id


def hostile_urls(app: Flask, world: World, run_id: str) -> list[str]:
    values = {
        **PATH_VALUES,
        "dag_id": HOSTILE_DAG,
        "run_id": run_id,
        "dag_run_id": run_id,
        "connection_id": XSS,
        "variable_key": XSS,
        "pool_name": XSS_ID,
        "xcom_key": XSS_ID,
    }
    q = quote
    queries = {
        "dags.index": [
            f"?search={q(XSS)}",
            f"?tags={q(XSS)}",
            f"?tags={q('javascript:alert(1)')}",
            f"?status={q(XSS)}",
        ],
        "dags.states": [f"?dag_ids={HOSTILE_DAG}", f"?dag_ids={q(XSS)}"],
        "admin.connection_new": [f"?conn_type={q(XSS)}"],
        "admin.connection_edit": [f"?conn_id={q(XSS)}", f"?conn_id={q(XSS)}&conn_type={q(XSS)}"],
        "admin.variable_edit": [f"?key={q(XSS)}"],
        "admin.pool_edit": [f"?pool={q(XSS_ID)}", f"?pool={q(XSS)}"],
        "admin.user_edit": [f"?username={q(XSS)}"],
        "dag_views.grid": [f"?num_runs={q(XSS)}", f"?before={q(XSS)}", f"?run_id={q(XSS)}"],
        "dag_views.graph": [f"?run_id={q(run_id)}", f"?run_id={q(XSS)}"],
        "dag_views.gantt": [f"?run_id={q(run_id)}"],
        "dag_views.gantt_image": [f"?run_id={q(run_id)}"],
        "dag_views.code": [f"?run_id={q(run_id)}"],
        "runs.task_instance": ["?try_number=1", f"?try_number={q(XSS)}", f"?map_index={q(XSS)}"],
        "runs.task_log": ["?try_number=1&offset=0", f"?offset={q(XSS)}"],
        "runs.task_log_text": ["?try_number=1"],
        "auth.login": [f"?next={q(XSS)}"],
        "api.get_xcom_entry": ["?stringify=true"],
        "api.get_dags": [f"?tags={q(XSS)}", f"?dag_id_pattern={q(XSS)}", f"?limit={q(XSS)}"],
    }
    reflected = [  # ids nothing has: the error pages name them
        f"/dags/{q(XSS_ID, safe='')}/grid",
        f"/dags/{HOSTILE_DAG}/runs/{q(XSS_ID + 'x', safe='')}",
        f"/dags/{HOSTILE_DAG}/runs/{q(run_id, safe='')}/tasks/{q(XSS_ID, safe='')}",
        f"/api/v1/dags/{q(XSS_ID, safe='')}",
        f"/api/v1/dags/{q(XSS_ID, safe='')}/dagRuns/{q(XSS_ID, safe='')}/taskInstances/a/logs/1",
        f"/{q(XSS_ID, safe='')}",
    ]
    return get_urls(app, world, values=values, per_endpoint={}, queries=queries) + reflected


def test_hostile_text_comes_back_escaped_on_every_page(web: Web, hostile: tuple[World, str]) -> None:
    world, run_id = hostile
    client = web.client(Role.ADMIN)
    start = hostile_urls(web.app, world, run_id) + get_urls(web.app, world)

    responses = crawl(client, start, limit=600)

    check_answers(responses)
    pages = {url: r.get_data(as_text=True) for url, r in responses.items() if r.mimetype == "text/html"}
    run_url = f"/dags/{HOSTILE_DAG}/runs/{quote(run_id, safe='')}"
    shown = {
        "DAGs page: description, owner, tags, import error": "/",
        "trigger form: params": f"/dags/{HOSTILE_DAG}/trigger",
        "graph: edge label": f"/dags/{HOSTILE_DAG}/graph",
        "run: run id, conf": run_url,
        "task instance: log, error, rendered fields, XComs, doc": f"{run_url}/tasks/a",
        "connections": "/admin/connections",
        "variables": "/admin/variables",
        "pools": "/admin/pools",
        "users": "/admin/users",
    }
    for what, url in shown.items():
        assert url in pages and escaped(pages[url]), f"{what}: {url} does not show the payload escaped"
    assert pages[f"{run_url}/tasks/a"].count("&lt;svg onload=alert(3)&gt;") >= 6
    assert len(responses) > len(start)


def test_the_json_the_pages_poll_is_json_and_holds_the_payload_as_data(web: Web, hostile: tuple[World, str]) -> None:
    _world, run_id = hostile
    client = web.client(Role.VIEWER)
    run = f"/dags/{HOSTILE_DAG}/runs/{quote(run_id, safe='')}"
    polled = {
        "/dags.json?dag_ids=hostile": None,
        f"/dags/{HOSTILE_DAG}/grid.json": None,
        f"/dags/{HOSTILE_DAG}/graph.json?run_id={quote(run_id)}": run_id,
        f"{run}/states.json": None,
        f"{run}/tasks/a/state.json": None,
        f"{run}/tasks/a/log.json?try_number=1": XSS,
        f"/api/v1/dags/{HOSTILE_DAG}": XSS,
        f"/api/v1/dags/{HOSTILE_DAG}/dagRuns/{quote(run_id, safe='')}": XSS,
        f"/api/v1/dags/{HOSTILE_DAG}/tasks": XSS,
        "/api/v1/importErrors": XSS,
    }

    for url, payload in polled.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == "application/json", url
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        body = response.get_json()  # parses: valid JSON
        if payload is not None:
            assert any(payload in text for text in strings_of(body)), url


def test_what_a_form_or_a_flash_message_echoes_is_escaped(web: Web, hostile: tuple[World, str]) -> None:
    _world, run_id = hostile
    op, admin = web.client(Role.OP), web.client(Role.ADMIN)
    run = f"/dags/{HOSTILE_DAG}/runs/{quote(run_id, safe='')}"

    answers = [
        # forms sent back with the problem named
        admin.post(f"/dags/{HOSTILE_DAG}/trigger", data={"run_id": XSS, "conf": XSS, "logical_date": XSS}),
        admin.post(f"/dags/{HOSTILE_DAG}/trigger", data={"run_id": XSS_ID + "2", "conf": json.dumps({XSS: XSS})}),
        op.post("/admin/connections/new", data={"conn_id": XSS + "2", "extra": "{" + XSS, "port": XSS}),
        op.post("/admin/variables/new", data={"key": XSS, "value": "dup"}),  # exists already
        op.post("/admin/pools/new", data={"name": XSS_ID, "slots": "1"}),  # exists already
        admin.post("/admin/users/new", data={"username": XSS, "email": "x@example.com", "password": "long-pass-12"}),
        admin.post(f"/admin/users/edit?username={quote(XSS)}", data={"role": XSS}),
        # confirmation pages naming the run and its task instances
        admin.post(f"{run}/clear", data={}),
        admin.post(f"{run}/tasks/a/clear", data={"map_index": "-1", "downstream": "1"}),
        admin.post(f"{run}/mark/success", data={}),
        # changes whose flash message names what changed, followed to the page that shows it
        op.post("/admin/variables/new", data={"key": XSS + "3", "value": XSS}, follow_redirects=True),
        op.post("/admin/variables/delete", data={"key": XSS + "3"}, follow_redirects=True),
        op.post("/admin/connections/delete", data={"conn_id": XSS + "nothing"}, follow_redirects=True),
        op.post("/admin/pools/new", data={"name": XSS_ID + "4", "slots": "2"}, follow_redirects=True),
        op.post("/admin/pools/delete", data={"pool": XSS_ID + "4"}, follow_redirects=True),
        admin.post("/admin/users/delete", data={"username": XSS}, follow_redirects=True),
        admin.post(f"/dags/{HOSTILE_DAG}/trigger", data={"run_id": XSS_ID + "5"}, follow_redirects=True),
        admin.post(f"{run}/tasks/a/clear", data={"map_index": "-1", "confirmed": "1"}, follow_redirects=True),
    ]

    for number, response in enumerate(answers):
        assert response.status_code < 500, number
        assert response.mimetype == "text/html", number
        assert markers_in(response.get_data(as_text=True)) == [], f"answer {number}"
    assert sum(escaped(r.get_data(as_text=True)) for r in answers) >= len(answers) - 2


# --- secrets -------------------------------------------------------------------------------------

CANARY_PASSWORD = "canary-P4ssw0rd-zz"
CANARY_KEY = "canary-K3y-zz"
CANARY_VARIABLE = "canary-V4r-zz"
CANARIES = (CANARY_PASSWORD, CANARY_KEY, CANARY_VARIABLE)
SECRET_VARIABLE = "secret_token"

LEAKY_SOURCE = """
from datetime import datetime
from flowctl import DAG, Variable
from flowctl.operators.bash import BashOperator
from flowctl.operators.python import PythonOperator


def use_secrets(**context):
    conn = context["conn"].canary_conn
    print("connecting with", conn.password, "and", Variable.get("secret_token"))
    raise RuntimeError(f"login refused for password {conn.password} and token {Variable.get('secret_token')}")


with DAG("leaky", schedule=None, start_date=datetime(2024, 1, 1), is_paused_upon_creation=False):
    templated = BashOperator(
        task_id="templated",
        bash_command="echo {{ conn.canary_conn.password }} {{ var.value.secret_token }}",
        do_xcom_push=False,  # an XCom is the task's data, stored as the task gave it (as in Airflow)
    )
    python = PythonOperator(task_id="python", python_callable=use_secrets)
    templated >> python
"""


def leaks(text: str) -> list[str]:
    return [canary for canary in CANARIES if canary in text]


@pytest.fixture
def canaries(web: Web, seed: Seed, cli: Any, session_factory: sessionmaker[Session], web_settings: Settings) -> World:
    """Secrets stored through the UI, the API and the services, and used by two real task runs."""
    from flowctl.services.variables import set_variable

    world = make_world(web.app, seed, session_factory, web_settings)
    api = web.app.test_client()
    created = api.post(
        "/api/v1/connections",
        json={
            "connection_id": "canary_conn",
            "conn_type": "http",
            "host": "api.example.com",
            "login": "robot",
            "password": CANARY_PASSWORD,
            "extra": json.dumps({"api_key": CANARY_KEY, "timeout": 5}),
        },
        headers=web.basic_auth(Role.OP),
    )
    assert created.status_code == 200 and leaks(created.get_data(as_text=True)) == []
    op = web.client(Role.OP)
    form = op.post(
        "/admin/connections/new?conn_type=http",
        data={
            "conn_id": "canary_ui",
            "host": "h",
            "password": CANARY_PASSWORD,
            "extra": json.dumps({"api_key": CANARY_KEY}),
        },
        follow_redirects=True,
    )
    assert form.status_code == 200 and "canary_ui" in form.get_data(as_text=True)
    assert leaks(form.get_data(as_text=True)) == []
    with session_factory.begin() as session:
        set_variable(session, web.app.extensions["flowctl"].cipher, SECRET_VARIABLE, CANARY_VARIABLE, actor=actor())
    seed.dag(LEAKY_SOURCE)
    seed.run("leaky", run_id="leak-run")
    assert cli("tasks", "run", "leaky", "templated", "leak-run").exit_code == 0
    assert cli("tasks", "run", "leaky", "python", "leak-run").exit_code == 1  # it fails, naming the secrets
    return world


def test_the_task_run_used_the_secrets_and_masked_them_where_it_wrote(
    canaries: World, session_factory: sessionmaker[Session], web_settings: Settings
) -> None:
    logs = "".join(p.read_text() for p in web_settings.logging.base_log_folder.rglob("dag_id=leaky/**/*.log"))
    with session_factory() as session:
        tries = session.scalars(select(TaskInstanceTry).join(TaskInstance).where(TaskInstance.dag_id == "leaky")).all()
        stored = json.dumps([(t.rendered_fields, t.error) for t in tries])

    assert "connecting with *** and ***" in logs and "login refused for password *** and token ***" in logs
    assert "echo *** ***" in stored and "login refused for password *** and token ***" in stored
    assert leaks(logs) == [] and leaks(stored) == []


def test_no_page_api_answer_or_webserver_log_holds_a_secret(
    web: Web, canaries: World, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    world = canaries
    caplog.set_level(logging.DEBUG)
    values = {**PATH_VALUES, "dag_id": "leaky", "run_id": "leak-run", "dag_run_id": "leak-run", "task_id": "python"}
    urls = [
        *get_urls(web.app, world, values=values, per_endpoint={}, queries={}),
        "/api/v1/connections/canary_conn",
        "/api/v1/connections/canary_ui",
        f"/api/v1/variables/{SECRET_VARIABLE}",
        "/admin/connections/edit?conn_id=canary_conn",
        "/admin/connections/edit?conn_id=canary_ui&conn_type=http",
        f"/admin/variables/edit?key={SECRET_VARIABLE}",
        "/dags/leaky/runs/leak-run/tasks/templated",
        "/dags/leaky/runs/leak-run/tasks/templated/log.json?try_number=1",
        "/dags/leaky/runs/leak-run/tasks/python/log.txt?try_number=1",
        "/api/v1/dags/leaky/dagRuns/leak-run/taskInstances/python/logs/1?full_content=true",
        "/api/v1/dags/leaky/dagRuns/leak-run/taskInstances/templated",
        "/api/v1/dags/~/dagRuns/~/taskInstances",
        "/api/v1/variables?limit=100",
        "/api/v1/connections?limit=100",
    ]
    crawled: dict[Role, dict[str, Any]] = {}
    for role in Role:
        crawled[role] = crawl(web.client(role), urls, limit=500)
    plain_text_log = web.app.test_client().get(  # the log as text, over basic auth
        "/api/v1/dags/leaky/dagRuns/leak-run/taskInstances/python/logs/1",
        headers={**web.basic_auth(Role.VIEWER), "Accept": "text/plain"},
    )

    variable_url = f"/api/v1/variables/{SECRET_VARIABLE}"
    for role, responses in crawled.items():
        assert [url for url, r in responses.items() if r.status_code >= 500] == []
        found = {url: leaks(r.get_data(as_text=True)) for url, r in responses.items() if r.mimetype not in ICON_TYPES}
        found = {url: what for url, what in found.items() if what}
        if role.can(Role.OP):  # the API gives an Op the variable's value, as Airflow's does
            assert found == {variable_url: [CANARY_VARIABLE]}, role
        else:  # who may not read variables and connections in the UI may not in the API either
            assert found == {}, role
            assert responses[variable_url].status_code == 403
    ti_page = crawled[Role.VIEWER]["/dags/leaky/runs/leak-run/tasks/python"].get_data(as_text=True)
    assert "login refused for password *** and token ***" in ti_page  # the error is shown, masked
    assert plain_text_log.mimetype == "text/plain" and "connecting with *** and ***" in plain_text_log.get_data(
        as_text=True
    )
    assert leaks(plain_text_log.get_data(as_text=True)) == []
    captured = capsys.readouterr()
    assert leaks(caplog.text) == [] and leaks(captured.out + captured.err) == []


def test_changing_a_connection_never_echoes_its_secrets(
    web: Web, canaries: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api, headers = web.app.test_client(), web.basic_auth(Role.ADMIN)
    admin = web.client(Role.ADMIN)

    answers = [
        api.patch("/api/v1/connections/canary_conn", json={"host": "other.example.com"}, headers=headers),
        api.patch(
            "/api/v1/connections/canary_conn",
            json={"connection_id": "canary_conn", "conn_type": "http", "password": CANARY_PASSWORD + "-2"},
            headers=headers,
        ),
        api.post(
            "/api/v1/connections",
            json={"connection_id": "canary_conn", "conn_type": "http", "password": CANARY_PASSWORD},
            headers=headers,
        ),  # exists: 409
        api.post(  # a wrong body: 400, naming the problem but not the password
            "/api/v1/connections",
            json={"connection_id": "bad", "conn_type": "http", "password": CANARY_PASSWORD, "port": "not-a-port"},
            headers=headers,
        ),
        admin.post(  # the form comes back with the problem; the password field is left empty
            "/admin/connections/edit?conn_id=canary_conn",
            data={"conn_id": "canary_conn", "password": CANARY_PASSWORD + "-3", "extra": "{not json"},
        ),
        admin.post(  # exists: the form comes back; the password is not put back in it
            "/admin/connections/new?conn_type=http",
            data={"conn_id": "canary_conn", "password": CANARY_PASSWORD, "extra": "{}"},
        ),
    ]
    retyped = admin.post(  # what the user just typed in extra comes back for them to fix, the password not
        "/admin/connections/new?conn_type=http",
        data={"conn_id": "again", "password": CANARY_PASSWORD, "extra": '{"api_key": "' + CANARY_KEY + '", "x": }'},
    )

    assert [r.status_code for r in answers[:4]] == [200, 200, 409, 400]
    for number, response in enumerate(answers):
        assert leaks(response.get_data(as_text=True)) == [], f"answer {number}"
    assert leaks(retyped.get_data(as_text=True)) == [CANARY_KEY] and "is not valid JSON" in retyped.get_data(
        as_text=True
    )
    assert canaries.connection("canary_conn").password == CANARY_PASSWORD + "-2"  # the PATCH took it
    assert leaks(caplog.text) == []


def test_the_audit_trail_names_changes_but_never_their_secrets(
    canaries: World, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        events = session.execute(select(LogEvent.event, LogEvent.extra)).all()

    assert {"connection.add", "variable.set"} <= {event for event, _ in events}
    assert leaks(repr(events)) == []


def test_a_secret_extra_value_is_masked_for_every_role_that_reads_connections(web: Web, canaries: World) -> None:
    for role in (Role.OP, Role.ADMIN):
        answer = web.app.test_client().get("/api/v1/connections/canary_conn", headers=web.basic_auth(role))
        extra = json.loads(answer.get_json()["extra"])
        assert answer.status_code == 200 and "password" not in answer.get_json()
        assert extra == {"api_key": "***", "timeout": 5}, role


# --- links back to the page ----------------------------------------------------------------------


def test_links_back_to_a_page_keep_an_odd_run_id_encoded(web: Web, seed: Seed, app: Flask) -> None:
    # Given a run whose id holds characters that mean something in a URL
    from tests.web.test_security_matrix import DAG_ID, SECURE_DAG

    seed.dag(SECURE_DAG)
    run_id = "odd#run?x=%41 & 'q'"
    seed.run(DAG_ID, {"a": "failed"}, run_id=run_id)
    page = f"/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/tasks/a"
    client = web.client(Role.USER)

    text = client.get(page).get_data(as_text=True)
    anonymous = web.client().get(page)
    login = web.client().post(anonymous.headers["Location"], data={"username": "user-user", "password": PASSWORD})

    assert f'<a href="{quote(f"/dags/{DAG_ID}/runs/{run_id}/tasks/a")}" class="active"' in text  # the tab
    assert f'name="next" value="{quote(f"/dags/{DAG_ID}/runs/{run_id}/tasks/a")}"' in text  # the pause form
    assert client.get(quote(f"/dags/{DAG_ID}/runs/{run_id}/tasks/a")).status_code == 200
    assert login.status_code == 302 and client.get(login.headers["Location"]).status_code == 200
