"""Who is asking: the browser session (Flask-Login, login page), HTTP basic for the API, roles, and a
throttle on failed logins.

A session names the user *and* the user's session token, which changes with the password: changing a
password logs out every browser that used the old one. With `[webserver] auth = none` an anonymous
visitor may read as a Viewer; every action still needs a login.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, url_for
from flask_login import AnonymousUserMixin, LoginManager, login_user, logout_user
from flask_login import current_user as session_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from flowctl.roles import Role
from flowctl.web import db
from flowctl.web.password_cache import CheckedPasswords
from flowctl.web.security import here, safe_next

F = TypeVar("F", bound=Callable[..., Any])

csrf = CSRFProtect()
bp = Blueprint("auth", __name__)

MAX_FAILURES = 5  # failed logins per user name and address within FAILURE_WINDOW_SECONDS
MAX_FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW_SECONDS = 300.0
LOGIN_RECORD_INTERVAL = timedelta(minutes=1)  # a user's last_login_at is rewritten at most this often


@dataclass(frozen=True)
class WebUser:
    """The signed-in user, as Flask-Login sees it."""

    id: int
    username: str
    role: Role
    session_token: str
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def can(self, needed: Role) -> bool:
        return self.role.can(needed)


class AnonymousUser(AnonymousUserMixin):
    username = "anonymous"

    def can(self, needed: Role) -> bool:
        return needed is Role.VIEWER and db.settings().webserver.auth == "none"


class LoginThrottle:
    """Failed logins remembered per (address, user name) and per address; too many in the window and
    further attempts are refused until the oldest failure leaves it. Per process, in memory."""

    def __init__(self, *, window: float = FAILURE_WINDOW_SECONDS) -> None:
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, address: str, username: str, *, now: float) -> bool:
        with self._lock:
            return (
                self._count((address, username.lower()), now) >= MAX_FAILURES
                or self._count((address, ""), now) >= MAX_FAILURES_PER_ADDRESS
            )

    def failed(self, address: str, username: str, *, now: float) -> None:
        with self._lock:
            for key in ((address, username.lower()), (address, "")):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, address: str, username: str) -> None:
        with self._lock:
            self._failures.pop((address, username.lower()), None)

    def _count(self, key: tuple[str, str], now: float) -> int:
        failures = self._failures.get(key)
        if not failures:
            return 0
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return len(failures)


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def init_app(app: Flask) -> None:
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.anonymous_user = AnonymousUser
    manager.user_loader(_load_user)
    csrf.init_app(app)
    app.extensions["flowctl_login_throttle"] = LoginThrottle()
    app.extensions["flowctl_checked_passwords"] = CheckedPasswords()
    app.register_blueprint(bp)


def _load_user(user_id: str) -> WebUser | None:
    from flowctl.db.models import User

    raw_id, _, token = user_id.partition(":")
    if not raw_id.isdigit() or not token:
        return None
    row = db.session().get(User, int(raw_id))
    if row is None or not row.active or row.session_token != token:
        return None  # deleted, disabled, or the password changed since this session began
    return _web_user(row)


def _web_user(row: Any) -> WebUser:
    return WebUser(id=row.id, username=row.username, role=Role(row.role), session_token=row.session_token)


def actor_name() -> str:
    return getattr(current_user(), "username", "anonymous")


def current_user() -> Any:
    """The API's basic-auth user if there is one, else the browser session's (maybe anonymous)."""
    return g.get("api_user") or session_user._get_current_object()


def require_role(role: Role) -> Callable[[F], F]:
    """A page for `role` and above: anonymous visitors go to the login page, others get 403."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if not user.can(role):
                if not user.is_authenticated:
                    return redirect(url_for("auth.login", next=here()))
                abort(403, description=f"this needs the {role} role; you are {user.role}")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def check_password(username: str, password: str, *, address: str) -> WebUser | None:
    """The user if the password is right; None if not (or if this address is throttled, see
    `throttled`). Counts failures and records the login (at most once a LOGIN_RECORD_INTERVAL)."""
    from flowctl.db.queries.users import count_failed_login, get_user, record_login
    from flowctl.services.users import password_matches

    throttle: LoginThrottle = _extension("flowctl_login_throttle")
    row = get_user(db.session(), username)
    if row is None or not row.active or not password_matches(row, password):
        throttle.failed(address, username, now=time.monotonic())
        if row is not None:
            user_id = row.id
            db.write(lambda session: count_failed_login(session, user_id))
        return None
    throttle.succeeded(address, username)
    now = datetime.now(UTC)
    if login_worth_recording(row.last_login_at, row.failed_login_count, now=now):
        user_id = row.id
        db.write(lambda session: record_login(session, user_id, at=now))
    return _web_user(row)


def login_worth_recording(last_login_at: datetime | None, failed_login_count: int | None, *, now: datetime) -> bool:
    """Whether a successful login changes what is stored: API clients log in with every request, and
    writing each time would only contend with the scheduler for the database."""
    if failed_login_count or last_login_at is None:
        return True
    return now - last_login_at >= LOGIN_RECORD_INTERVAL


def throttled(username: str, *, address: str) -> bool:
    throttle: LoginThrottle = _extension("flowctl_login_throttle")
    return throttle.blocked(address, username, now=time.monotonic())


def basic_auth_user() -> WebUser | None:
    """The user named by an `Authorization: Basic` header, or None when there is none or it is wrong.
    A right password is trusted for a minute (see password_cache); the user row is read every time."""
    from flowctl.db.queries.users import get_user

    credentials = request.authorization
    if credentials is None or credentials.type != "basic" or not credentials.username:
        return None
    username, password = credentials.username, credentials.password or ""
    address = request.remote_addr or ""
    if throttled(username, address=address):
        abort(429, description="too many failed logins; try again later")
    checked: CheckedPasswords = _extension("flowctl_checked_passwords")
    digest = hashlib.sha256(f"{db.settings().webserver.secret_key}\0{username}\0{password}".encode()).hexdigest()
    with checked.checking(digest):
        token = checked.token(digest, now=time.monotonic())
        if token is not None:
            row = get_user(db.session(), username)
            if row is not None and row.active and row.session_token == token:
                return _web_user(row)
        user = check_password(username, password, address=address)
        if user is not None:
            checked.remember(digest, user.session_token, now=time.monotonic())
        return user


def _extension(name: str) -> Any:
    from flask import current_app

    return current_app.extensions[name]


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    target = safe_next(request.args.get("next"))
    if current_user().is_authenticated:
        return redirect(target)
    status = 200
    if form.validate_on_submit():
        address = request.remote_addr or ""
        if throttled(form.username.data, address=address):
            flash("Too many failed logins. Try again in a few minutes.", "error")
            status = 429
        else:
            user = check_password(form.username.data, form.password.data, address=address)
            if user is not None:
                login_user(user)
                return redirect(target)
            flash("Wrong username or password.", "error")
            status = 401
    return render_template("login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    logout_user()
    return redirect(url_for("auth.login"))
