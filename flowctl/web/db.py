"""The metadata DB inside a request: one session per request, opened on first use and closed (rolled
back unless committed) when the request ends. Views call `session()` and, after a change, `commit()`.

A GET's session only reads. What a GET must still write (a login's time, a failed password) goes through
`write()`: a short write transaction of its own, retried if the database was busy. On SQLite a read
transaction that starts writing fails at once with "database is locked" when another process committed
since it began, so a GET never writes in its own transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Flask, current_app, g, request
from sqlalchemy.exc import OperationalError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from flowctl.config import Settings
    from flowctl.db.secrets import SecretCipher

EXTENSION = "flowctl"
READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_ATTEMPTS = 3
WRITE_RETRY_DELAY_SECONDS = 0.05  # doubled after each failed attempt

log = logging.getLogger(__name__)


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
        from flowctl.web import request_threads

        # a connection per thread for its request, and one more for a write of its own (see write())
        threads = request_threads(settings.webserver.workers)
        engine = make_engine(settings.core.sql_alchemy_conn, pool_size=threads, max_overflow=threads)
        session_factory = make_session_factory(engine)
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
        factory = context().session_factory if _reads_only() else context().write_session_factory
        g.db_session = factory()
    return g.db_session


def commit() -> None:
    session().commit()


def write(change: Callable[[Session], None]) -> None:
    """Apply `change` and commit it now. A request that changes things already holds the write
    transaction (SQLite's lock, taken as it began): the change joins it. A reading request gets a
    transaction of its own that takes the lock first, retried a few times (briefly) if the database
    was busy or the connection dropped."""
    if not _reads_only():
        change(session())
        commit()
        return
    from flowctl.db.engine import session_scope

    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with session_scope(context().write_session_factory) as writing:
                change(writing)
            return
        except OperationalError as exc:
            if attempt == WRITE_ATTEMPTS:
                raise
            log.info("write in %s %s failed (%s), retrying", request.method, request.path, exc.orig)
            time.sleep(WRITE_RETRY_DELAY_SECONDS * 2 ** (attempt - 1))


def _reads_only() -> bool:
    return request.method in READING_METHODS


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is None:
        return
    try:
        db_session.rollback()
    except OperationalError:
        log.debug("rolling back a request's session failed (the metadata DB is unreachable)", exc_info=True)
    finally:
        db_session.close()
