"""The metadata DB inside a request: one session per request, opened on first use and closed (rolled
back unless committed) when the request ends. Views call `session()` and, after a change, `commit()`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, current_app, g, request

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from flowctl.config import Settings
    from flowctl.db.secrets import SecretCipher

EXTENSION = "flowctl"


class WebContext:
    """What every request may need of the installation (kept in app.extensions)."""

    def __init__(self, settings: Settings, session_factory: sessionmaker[Session]) -> None:
        from flowctl.db.engine import make_session_factory
        from flowctl.db.secrets import SecretCipher

        self.settings = settings
        self.session_factory = session_factory
        # Requests that may change something take SQLite's write lock when their transaction begins, so
        # reading and then writing never fails because the scheduler committed in between.
        self.write_session_factory = make_session_factory(session_factory.kw["bind"], immediate=True)
        self.cipher = SecretCipher(settings.core.fernet_key)


def init_app(app: Flask, settings: Settings, session_factory: sessionmaker[Session] | None) -> None:
    if session_factory is None:
        from flowctl.db.engine import make_engine, make_session_factory

        session_factory = make_session_factory(make_engine(settings.core.sql_alchemy_conn))
    app.extensions[EXTENSION] = WebContext(settings, session_factory)
    app.teardown_appcontext(_close_session)


def context() -> WebContext:
    return current_app.extensions[EXTENSION]


def settings() -> Settings:
    return context().settings


def cipher() -> SecretCipher:
    return context().cipher


def session() -> Session:
    if "db_session" not in g:
        reads_only = request.method in ("GET", "HEAD", "OPTIONS")
        factory = context().session_factory if reads_only else context().write_session_factory
        g.db_session = factory()
    return g.db_session


def commit() -> None:
    session().commit()


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.rollback()
        db_session.close()
