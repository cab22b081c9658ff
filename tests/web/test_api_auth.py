"""Who may call what: no credentials is 401 everywhere but health and the document, each change needs its
role (403 below it), a browser session's change needs its CSRF token, and reads never change state."""

from __future__ import annotations

import re
from typing import Any

import pytest

from flowctl.roles import Role
from tests.web.conftest import PASSWORD, USERNAMES, Seed, Web

pytestmark = pytest.mark.sqlite_only  # what it checks does not depend on the metadata DB

DAG = """
import pendulum
from flowctl import DAG
from flowctl.operators import EmptyOperator

with DAG("guarded", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    EmptyOperator(task_id="a")
"""
OPEN = {"/health", "/openapi.json"}
CHANGES = ("post", "patch", "delete")


def _operations() -> list[tuple[str, str, str | None]]:
    from flowctl.web.api.openapi import document

    return [
        (path, method, operation.get("x-flowctl-role"))
        for path, item in document()["paths"].items()
        for method, operation in item.items()
    ]


def _url(path: str) -> str:
    values = {"map_index": "0", "task_try_number": "1", "import_error_id": "1"}
    return "/api/v1" + re.sub(r"{(\w+)}", lambda m: values.get(m.group(1), "guarded"), path)


def test_every_endpoint_but_health_and_the_document_needs_credentials(web: Web) -> None:
    client = web.app.test_client()

    for path, method, _ in _operations():
        if path in OPEN:
            continue
        response = client.open(_url(path), method=method.upper(), json={})
        assert response.status_code == 401, (path, method)
        assert response.headers["WWW-Authenticate"].startswith("Basic"), (path, method)
        assert response.get_json()["status"] == 401


def test_health_and_the_document_need_no_credentials(web: Web) -> None:
    client = web.app.test_client()

    assert client.get("/api/v1/health").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_each_change_needs_its_role_and_roles_below_get_403(web: Web, seed: Seed) -> None:
    seed.dag(DAG)
    client = web.app.test_client()
    changes = [(path, method, Role(role)) for path, method, role in _operations() if method in CHANGES]

    assert len(changes) >= 14
    for path, method, needed in changes:
        for user_role in Role:
            response = client.open(_url(path), method=method.upper(), json={}, headers=web.basic_auth(user_role))
            if user_role.can(needed):
                assert response.status_code not in (401, 403), (path, method, user_role)
            else:
                assert response.status_code == 403, (path, method, user_role)
                assert response.get_json()["title"] == "Forbidden"


def test_each_read_needs_the_role_the_document_names_and_roles_below_get_403(web: Web, seed: Seed) -> None:
    seed.dag(DAG)
    client = web.app.test_client()
    reads = [(path, Role(role)) for path, method, role in _operations() if method == "get" and path not in OPEN]

    assert {role for _, role in reads} == {Role.VIEWER, Role.OP}  # Op: variables and connections
    for path, needed in reads:
        for user_role in Role:
            response = client.get(_url(path), headers=web.basic_auth(user_role))
            if user_role.can(needed):
                assert response.status_code not in (401, 403), (path, user_role)
            else:
                assert response.status_code == 403, (path, user_role)


def test_a_session_change_needs_the_csrf_header_and_a_basic_one_does_not(web: Web, seed: Seed) -> None:
    seed.dag(DAG)
    browser = web.client(Role.USER)

    refused = browser.api("PATCH", "/api/v1/dags/guarded", json={"is_paused": False}, csrf=False)
    forged = browser.api("PATCH", "/api/v1/dags/guarded", json={"is_paused": False}, headers={"X-CSRFToken": "x"})
    accepted = browser.api("PATCH", "/api/v1/dags/guarded", json={"is_paused": False})
    read = browser.get("/api/v1/dags/guarded")

    assert refused.status_code == 400 and "CSRF" in refused.get_json()["detail"]
    assert forged.status_code == 400
    assert accepted.status_code == 200 and read.get_json()["is_paused"] is False
    basic = web.app.test_client().patch(
        "/api/v1/dags/guarded", json={"is_paused": True}, headers=web.basic_auth(Role.USER)
    )
    assert basic.status_code == 200


def test_a_viewer_session_cannot_change_anything_even_with_csrf(web: Web, seed: Seed) -> None:
    seed.dag(DAG)

    response = web.client(Role.VIEWER).api("POST", "/api/v1/dags/guarded/dagRuns", json={})

    assert response.status_code == 403


def test_reads_never_change_state(web: Web, seed: Seed, session_factory) -> None:
    from sqlalchemy import select

    from flowctl.db.models import Dag, DagRun, LogEvent, TaskInstance

    seed.dag(DAG)
    seed.run("guarded", {"a": "failed"}, run_id="r1")

    def snapshot() -> list[Any]:
        with session_factory() as session:
            return [
                session.execute(select(model)).scalars().all().__len__()
                for model in (Dag, DagRun, TaskInstance, LogEvent)
            ] + [session.scalar(select(TaskInstance.state)), session.scalar(select(Dag.is_paused))]

    before = snapshot()
    client, auth = web.app.test_client(), web.basic_auth(Role.ADMIN)
    for path, method, _ in _operations():
        if method == "get":
            client.get(_url(path).replace("/guarded/dagRuns/guarded", "/guarded/dagRuns/r1"), headers=auth)

    assert snapshot() == before


def test_anonymous_visitors_may_read_but_not_change_when_auth_is_none(
    home, db_url, session_factory, seed: Seed
) -> None:
    from flowctl.config import settings_from_environment
    from flowctl.web import create_app

    seed.dag(DAG)
    settings = settings_from_environment(
        {"FLOWCTL_HOME": str(home), "FLOWCTL__CORE__SQL_ALCHEMY_CONN": db_url, "FLOWCTL__WEBSERVER__AUTH": "none"}
    )
    client = create_app(settings, session_factory).test_client()

    assert client.get("/api/v1/dags/guarded").status_code == 200
    assert client.patch("/api/v1/dags/guarded", json={"is_paused": False}).status_code == 401


def test_a_wrong_password_for_a_real_user_is_401(web: Web) -> None:
    import base64

    token = base64.b64encode(f"{USERNAMES[Role.ADMIN]}:{PASSWORD}x".encode()).decode()

    response = web.app.test_client().get("/api/v1/dags", headers={"Authorization": f"Basic {token}"})

    assert response.status_code == 401
