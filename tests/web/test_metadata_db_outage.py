"""The webserver during a metadata DB outage (issue 10, item 10): a real `flowctl webserver` on a
PostgreSQL server of the test's own, which the test stops and starts again. While it is down, pages
answer flowctl's error page with 503 (made without the DB), the API 503 with `{title, status, detail}`,
the health check says the metadatabase is unhealthy; once it is back, everything answers again without
a restart of the webserver."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.private_postgresql import PrivatePostgreSQL
from tests.scheduler.conftest import Deployment, wait_until
from tests.web.webserver_process import WebserverProcess

PASSWORD = "outage-test-password"
DAG = """
from flowctl import DAG
from flowctl.operators import EmptyOperator

with DAG("steady", schedule=None):
    EmptyOperator(task_id="only")
"""
PAGES = ["/", "/dags/steady/grid", "/dags/steady/graph", "/admin/connections"]
API_READS = ["/api/v1/dags", "/api/v1/dags/steady", "/api/v1/dags/steady/dagRuns", "/api/v1/importErrors"]


@dataclass
class Site:
    database: PrivatePostgreSQL
    webserver: WebserverProcess
    browser: requests.Session  # logged in through the login form, as a browser is

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self.browser.get(self.webserver.url + path, timeout=30, allow_redirects=False, **kwargs)

    def api(self, method: str, path: str, **kwargs: object) -> requests.Response:
        return requests.request(method, self.webserver.url + path, auth=("admin", PASSWORD), timeout=30, **kwargs)


def _log_in(url: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{url}/login", timeout=30).text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert token, "no CSRF token on the login page"
    answer = browser.post(
        f"{url}/login",
        data={"csrf_token": token.group(1), "username": "admin", "password": PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, f"login failed: {answer.status_code}"
    return browser


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """An installation on a private PostgreSQL server with one DAG, an Admin and a webserver (no
    scheduler: the web side is under test)."""
    from flowctl.db.engine import make_engine

    database = PrivatePostgreSQL()
    webserver: WebserverProcess | None = None
    try:
        database.start()
        url = database.create_database("flowctl")
        engine = make_engine(url)
        deployment = Deployment(tmp_path, db_url=url, engine=engine)
        deployment.write_dag("steady", DAG)
        deployment.prepare()
        deployment.flowctl("users", "create", "-u", "admin", "-r", "Admin", "-e", "a@example.com", "-p", PASSWORD)
        engine.dispose()
        webserver = WebserverProcess(deployment.home, deployment.env)
        wait_until(webserver.health, timeout=30, what="the webserver to answer /api/v1/health")
        yield Site(database, webserver, _log_in(webserver.url))
    except BaseException:
        print(f"--- webserver stderr\n{webserver.stderr() if webserver else ''}\n--- PostgreSQL log\n{database.log()}")
        raise
    finally:
        code = webserver.stop() if webserver else 0
        database.remove()
    assert code == 0, f"the webserver exited {code} on SIGTERM"


def _assert_unavailable_page(answer: requests.Response, path: str) -> None:
    assert answer.status_code == 503, f"{path}: {answer.status_code} {answer.text[:300]}"
    assert answer.headers["Content-Type"].startswith("text/html"), path
    assert "Retry-After" in answer.headers, path
    assert '<link rel="stylesheet" href="/static/flowctl.css">' in answer.text, f"{path}: not flowctl's error page"
    assert "metadata database" in answer.text and "Traceback" not in answer.text, path


def _assert_unavailable_json(answer: requests.Response, path: str) -> None:
    assert answer.status_code == 503, f"{path}: {answer.status_code} {answer.text[:300]}"
    body = answer.json()
    assert body["status"] == 503 and body["title"] == "Service Unavailable", (path, body)
    assert "metadata database" in body["detail"], (path, body)


def test_pages_and_api_answer_503_while_the_metadata_db_is_down_and_recover_after(site: Site) -> None:
    # Given: every page and API read answers while the database is up
    for path in PAGES:
        assert site.get(path).status_code == 200, path
    for path in API_READS:
        assert site.api("GET", path).status_code == 200, path

    # When: the database server goes down
    site.database.stop()

    # Then: pages answer flowctl's error page with 503, for a signed-in user and for a visitor
    for path in PAGES:
        _assert_unavailable_page(site.get(path), path)
    visitor = requests.Session()
    login_page = visitor.get(site.webserver.url + "/", timeout=30)  # redirected to the login page (no DB)
    assert login_page.status_code == 200 and login_page.url.endswith("/login?next=/"), login_page.url
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', login_page.text)
    assert token is not None
    form = {"csrf_token": token.group(1), "username": "admin", "password": PASSWORD}
    _assert_unavailable_page(visitor.post(site.webserver.url + "/login", data=form, timeout=30), "POST /login")

    # ...the API answers 503 in its JSON error shape, for reads and changes alike
    for path in API_READS:
        _assert_unavailable_json(site.api("GET", path), path)
    _assert_unavailable_json(site.api("PATCH", "/api/v1/dags/steady", json={"is_paused": False}), "PATCH dag")
    _assert_unavailable_json(site.api("POST", "/api/v1/dags/steady/dagRuns", json={}), "POST dagRuns")

    # ...and the health check answers, saying the metadatabase is unhealthy
    health = requests.get(site.webserver.url + "/api/v1/health", timeout=30)
    assert health.status_code == 200
    assert health.json()["metadatabase"] == {"status": "unhealthy"}

    # When: the database server is back
    site.database.start()

    # Then: the same webserver answers again, the browser still signed in
    wait_until(
        lambda: (site.webserver.health() or {}).get("metadatabase", {}).get("status") == "healthy",
        timeout=30,
        what="the health check to see the database again",
    )
    for path in PAGES:
        assert site.get(path).status_code == 200, path
    for path in API_READS:
        assert site.api("GET", path).status_code == 200, path
    assert "Traceback" not in site.webserver.stderr()  # the outage was logged in a line per request
