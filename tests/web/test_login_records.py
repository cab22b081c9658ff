"""What a login writes (issue 10, item 9): a reading request records a login or a failed password in a
short write transaction of its own, and a user's login time at most once a minute."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from flowctl.db.models import User
from flowctl.roles import Role
from flowctl.web.auth import login_worth_recording
from flowctl.web.password_cache import CheckedPasswords
from tests.web.conftest import USERNAMES, Web

NOON = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def test_a_login_is_worth_recording_once_a_minute_or_after_failures() -> None:
    assert login_worth_recording(None, 0, now=NOON)
    assert not login_worth_recording(NOON - timedelta(seconds=59), 0, now=NOON)
    assert login_worth_recording(NOON - timedelta(seconds=60), 0, now=NOON)
    assert login_worth_recording(NOON - timedelta(seconds=1), 2, now=NOON)  # the failures are reset


def _user(factory: sessionmaker[Session], role: Role) -> User:
    with factory() as session:
        user = session.scalar(select(User).where(User.username == USERNAMES[role]))
        assert user is not None
        return user


def test_basic_auth_gets_record_failures_and_the_login(web: Web, session_factory: sessionmaker[Session]) -> None:
    # Given: a user with no login yet
    client = web.client()
    wrong = {"Authorization": "Basic " + base64.b64encode(f"{USERNAMES[Role.VIEWER]}:wrong".encode()).decode()}

    # When: two GETs with a wrong password, then one with the right one
    assert client.get("/api/v1/dags", headers=wrong).status_code == 401
    assert client.get("/api/v1/dags", headers=wrong).status_code == 401
    assert _user(session_factory, Role.VIEWER).failed_login_count == 2
    assert client.get("/api/v1/dags", headers=web.basic_auth(Role.VIEWER)).status_code == 200

    # Then: the login is recorded and the failures reset, though a GET's own transaction only reads
    user = _user(session_factory, Role.VIEWER)
    assert user.failed_login_count == 0
    assert user.last_login_at is not None
    recorded = user.last_login_at

    # ...and the next GETs (a new process would check the password again) leave the record alone
    web.app.extensions["flowctl_checked_passwords"] = CheckedPasswords()
    assert client.get("/api/v1/dags", headers=web.basic_auth(Role.VIEWER)).status_code == 200
    assert _user(session_factory, Role.VIEWER).last_login_at == recorded
