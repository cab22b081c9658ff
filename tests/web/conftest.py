"""Web fixtures: the Flask app on this backend's test DB (one user per role), test clients that log in
and send CSRF tokens like a browser, and seeding of DAGs and runs as the scheduler would leave them.

    def test_x(web, seed):
        dag_id = seed.dag(SOURCE)                       # parsed and stored, as the DAG processor does
        run_id = seed.run(dag_id, {"a": "success"})     # a running run with those task states
        client = web.client(Role.USER)                  # logged in as the User-role user
        page = client.get(f"/dags/{dag_id}/grid")
        client.post("/some/action", data={...})         # CSRF token added; csrf=False to leave it out
"""

from __future__ import annotations

import re
import secrets
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import generate_password_hash

from flowctl.config import Settings, settings_from_environment
from flowctl.roles import Role
from flowctl.services.actor import Actor

PASSWORD = "correct-horse-battery"
USERNAMES = {role: f"{role.value.lower()}-user" for role in Role}
_CHEAP_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture
def web_settings(home: Path, db_url: str) -> Settings:
    (home / "dags").mkdir(exist_ok=True)
    return settings_from_environment({"FLOWCTL_HOME": str(home), "FLOWCTL__CORE__SQL_ALCHEMY_CONN": db_url})


@pytest.fixture
def app(web_settings: Settings, engine: Engine, session_factory: sessionmaker[Session]) -> Flask:
    from flowctl.db.models import User
    from flowctl.db.queries.pools import ensure_default_pool
    from flowctl.web import create_app

    with session_factory.begin() as session:
        ensure_default_pool(session)
        # Rows written directly, with a one-round hash: the real one (scrypt) costs ~0.1 s per user and
        # per login, and every web test makes four users. Creating users through the service is tested
        # in tests/cli/test_users_cli.py and the admin pages.
        session.add_all(
            User(
                username=username,
                email=f"{username}@example.com",
                role=role.value,
                password_hash=_CHEAP_HASH,
                session_token=secrets.token_hex(16),
                active=True,
                created_at=datetime.now(UTC),
                failed_login_count=0,
            )
            for role, username in USERNAMES.items()
        )
    app = create_app(web_settings, session_factory)
    app.config.update(TESTING=True)
    return app


class WebClient:
    """A Flask test client with a cookie jar; `post`/`patch`/`delete` send the page's CSRF token."""

    def __init__(self, client: FlaskClient, secret_key: str) -> None:
        self.client = client
        self.secret_key = secret_key

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, **kwargs)

    def csrf_token(self) -> str:
        """A valid token for this client's session, made as Flask-WTF makes the one in each page."""
        with self.client.session_transaction() as session:
            raw = session.setdefault("csrf_token", secrets.token_hex(20))
        return URLSafeTimedSerializer(self.secret_key, salt="wtf-csrf-token").dumps(raw)

    def page_csrf_token(self, url: str) -> str:
        """The token a page carries in its <meta name="csrf-token">."""
        match = _CSRF_META.search(self.client.get(url).get_data(as_text=True))
        assert match, f"no CSRF token in {url}"
        return match.group(1)

    def post(self, url: str, *, data: dict[str, Any] | None = None, csrf: bool = True, **kwargs: Any) -> Any:
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf_token())
        return self.client.post(url, data=data, **kwargs)

    def api(self, method: str, url: str, *, json: Any = None, csrf: bool = True, **kwargs: Any) -> Any:
        """An API call on the browser session (CSRF header added for changes unless csrf=False)."""
        headers = dict(kwargs.pop("headers", {}))
        if csrf and method.upper() in ("POST", "PUT", "PATCH", "DELETE"):
            headers.setdefault("X-CSRFToken", self.csrf_token())
        return self.client.open(url, method=method.upper(), json=json, headers=headers, **kwargs)


class Web:
    def __init__(self, app: Flask) -> None:
        self.app = app

    def client(self, role: Role | None = None) -> WebClient:
        """A client logged in as the user of `role` (None: anonymous)."""
        client = WebClient(self.app.test_client(), self.app.secret_key)
        if role is not None:
            response = client.post(
                "/login", data={"username": USERNAMES[role], "password": PASSWORD}, follow_redirects=False
            )
            assert response.status_code == 302, f"login as {role} failed: {response.status_code}"
        return client

    def basic_auth(self, role: Role) -> dict[str, str]:
        """Headers for an API call with HTTP basic auth as the user of `role`."""
        import base64

        token = base64.b64encode(f"{USERNAMES[role]}:{PASSWORD}".encode()).decode()
        return {"Authorization": f"Basic {token}"}


@pytest.fixture
def web(app: Flask) -> Web:
    return Web(app)


class Seed:
    """DAGs and runs in the DB as the DAG processor and the scheduler would leave them."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        self.settings = settings
        self.factory = factory

    def dag(self, source: str, *, name: str | None = None) -> str:
        """Write a DAG file, parse it into the DB; returns the (first) dag_id it defines."""
        from flowctl.db.models import Dag
        from flowctl.parsing.processor import refresh

        source = textwrap.dedent(source)
        match = re.search(r"""DAG\(\s*(?:dag_id=)?["']([^"']+)["']""", source) or re.search(
            r"""dag_id=["']([^"']+)["']""", source
        )
        path = self.settings.core.dags_folder / f"{name or (match.group(1) if match else 'dag')}.py"
        path.write_text(source)
        refresh(self.settings, self.factory, now=datetime.now(UTC), force=True)
        with self.factory() as session:
            dag_ids = list(session.scalars(select(Dag.dag_id).where(Dag.fileloc == str(path))))
        assert dag_ids, f"{path.name} defined no DAG (an import error?)"
        return match.group(1) if match and match.group(1) in dag_ids else dag_ids[0]

    def run(
        self,
        dag_id: str,
        states: dict[str, str] | None = None,
        *,
        run_id: str | None = None,
        logical_date: datetime | None = None,
        conf: dict[str, Any] | None = None,
        run_state: str | None = None,
    ) -> str:
        """A started run (task instances created) with the given task states; returns its run_id."""
        from flowctl.db.models import DagRun, TaskInstance
        from flowctl.scheduler.runs import DagVersions, start_run
        from flowctl.services.runs import trigger_dag

        now = datetime.now(UTC)
        with self.factory.begin() as session:
            run = trigger_dag(
                session, dag_id, actor=Actor("test", now), run_id=run_id, logical_date=logical_date, conf=conf
            )
            start_run(session, run, DagVersions(), now=now)
            session.flush()
            for ti in session.scalars(select(TaskInstance).where(TaskInstance.run_id == run.run_id)):
                state = (states or {}).get(ti.task_id)
                if state:
                    ti.state = state
                    if state not in ("none", "scheduled"):
                        ti.try_number = 1
                        ti.start_date = now
                    if state in ("success", "failed", "skipped", "upstream_failed"):
                        ti.end_date = now
            if run_state:
                session.get(DagRun, run.id).state = run_state  # type: ignore[union-attr]
            return run.run_id


@pytest.fixture
def seed(web_settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[Seed]:
    yield Seed(web_settings, session_factory)
