"""The Flask web UI and REST API; never imports DAG files, the scheduler or executors.

`create_app(settings)` builds one app per process: its own engine and session factory, Flask-Login for
the browser session (HTTP basic for the API), Flask-WTF CSRF on every state change, and one blueprint per
area. What the pages show comes from the metadata DB through flowctl.services and flowctl.db.queries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from flowctl.config import Settings

THREADS_PER_WORKER = 4


def request_threads(workers: int) -> int:
    """The webserver's request threads for `[webserver] workers`. A request spends much of its time
    waiting (for SQLite's write lock when it records a login, on a password hash, on a slow client),
    so one thread per worker would leave the CPU idle while requests queue."""
    return workers * THREADS_PER_WORKER


def create_app(settings: Settings, session_factory: sessionmaker[Session] | None = None) -> Flask:
    """The web app of this installation; `session_factory` defaults to one on settings' metadata DB."""
    from flowctl.web import auth, db, errors, security
    from flowctl.web.api import api_blueprint
    from flowctl.web.views import register_views

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.webserver.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as the session it belongs to
        WTF_CSRF_SSL_STRICT=False,  # the referrer check needs HTTPS; the token check stays on
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    db.init_app(app, settings, session_factory)
    security.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    app.register_blueprint(api_blueprint)
    # browsers and feed readers ask for /favicon.ico whatever the page links to
    app.add_url_rule("/favicon.ico", "favicon", lambda: app.send_static_file("favicon.ico"))
    register_views(app, settings)
    return app
