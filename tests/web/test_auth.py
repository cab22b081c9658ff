"""Logging in and out, sessions bound to the password, throttled failures, safe redirects, headers."""

from __future__ import annotations

import pytest

from flowctl.roles import Role
from tests.web.conftest import PASSWORD, USERNAMES, Web

pytestmark = pytest.mark.sqlite_only  # what it checks does not depend on the metadata DB


def test_anonymous_visitors_are_sent_to_the_login_page_with_where_they_wanted_to_go(web: Web) -> None:
    response = web.client().get("/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_login_with_the_right_password_redirects_to_a_local_next_but_never_to_another_host(web: Web) -> None:
    client = web.client()
    data = {"username": USERNAMES[Role.VIEWER], "password": PASSWORD}

    local = client.post("/login?next=/dags/x/grid", data=data)
    assert (local.status_code, local.headers["Location"]) == (302, "/dags/x/grid")
    for hostile in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"):
        fresh = web.client()
        response = fresh.post(f"/login?next={hostile}", data=data)
        assert (response.status_code, response.headers["Location"]) == (302, "/"), hostile


def test_a_wrong_password_is_refused_and_after_five_failures_even_the_right_one_waits(web: Web) -> None:
    client = web.client()
    wrong = {"username": USERNAMES[Role.ADMIN], "password": "nope-nope"}

    statuses = [client.post("/login", data=wrong).status_code for _ in range(5)]
    right = client.post("/login", data={"username": USERNAMES[Role.ADMIN], "password": PASSWORD})

    assert statuses == [401] * 5
    assert right.status_code == 429
    assert client.get("/").status_code == 302  # still not logged in


def test_a_login_form_without_its_csrf_token_is_refused(web: Web) -> None:
    response = web.client().post("/login", data={"username": USERNAMES[Role.ADMIN], "password": PASSWORD}, csrf=False)

    assert response.status_code == 400


def test_changing_the_password_ends_the_sessions_that_used_the_old_one(web: Web, session_factory) -> None:
    from datetime import UTC, datetime

    from flowctl.services.actor import Actor
    from flowctl.services.users import set_password

    client = web.client(Role.USER)
    assert client.get("/").status_code == 200
    with session_factory.begin() as session:
        set_password(session, USERNAMES[Role.USER], "a-new-password-1", actor=Actor("test", datetime.now(UTC)))

    assert client.get("/").status_code == 302


def test_logout_is_a_post_with_csrf_and_ends_the_session(web: Web) -> None:
    client = web.client(Role.VIEWER)

    assert client.get("/logout").status_code == 405
    assert client.post("/logout", csrf=False).status_code == 400
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_pages_forbid_framing_and_inline_scripts_and_session_cookies_are_httponly_lax(web: Web) -> None:
    client = web.client()
    response = client.post("/login", data={"username": USERNAMES[Role.VIEWER], "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    page = client.get("/")

    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_health_is_open_and_other_api_calls_need_credentials(web: Web) -> None:
    client = web.client()

    health = client.get("/api/v1/health")
    assert health.status_code == 200
    assert health.get_json()["metadatabase"]["status"] == "healthy"
    assert health.get_json()["scheduler"]["status"] == "unhealthy"  # no scheduler heartbeats in this test
