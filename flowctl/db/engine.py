"""Engines and sessions for the metadata DB: per-backend setup and the one way to open a session.

Sessions are opened in exactly three kinds of place (a CLI command, a web request, a scheduler tick),
each with `session_scope(factory)`; query functions take `session` first and never commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from flowctl.exceptions import DatabaseError

SUPPORTED_DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb")
SQLITE_BUSY_TIMEOUT_MS = 30_000


def parse_db_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(
            f"[core] sql_alchemy_conn = {_redact(url)!r}: not a database URL "
            "(expected e.g. sqlite:////path/flowctl.db or postgresql+psycopg2://user@host/db)"
        ) from None
    if parsed.get_backend_name() not in SUPPORTED_DIALECTS:
        raise DatabaseError(
            f"[core] sql_alchemy_conn: unsupported database dialect {parsed.get_backend_name()!r} "
            "(use sqlite, postgresql+psycopg2 or mysql+pymysql)"
        )
    return parsed


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine set up for its backend: SQLite in WAL mode with a busy timeout and foreign keys on;
    MySQL in utf8mb4 with READ COMMITTED; stale pooled connections replaced on every server."""
    parsed = parse_db_url(url)
    backend = parsed.get_backend_name()
    options: dict[str, Any] = {"future": True}
    if backend == "sqlite":
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    else:
        options.update(pool_pre_ping=True, pool_recycle=1800)
    if backend in ("mysql", "mariadb"):
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        # Fewer gap locks, and SKIP LOCKED sees rows committed by another scheduler.
        options["isolation_level"] = "READ COMMITTED"
    options.update(kwargs)
    try:
        engine = create_engine(parsed, **options)
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseError(f"[core] sql_alchemy_conn: no driver for {parsed.drivername!r}: {exc}") from None
    if backend == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (SQLAlchemy's documented recipe),
        # so that BEGIN is emitted at the start of every transaction and the pragmas below apply.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_BEGIN_IMMEDIATE)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_BEGIN_IMMEDIATE = "flowctl_sqlite_begin_immediate"


def make_session_factory(engine: Engine, *, immediate: bool = False) -> sessionmaker[Session]:
    """Sessions on `engine`. With `immediate`, SQLite transactions take the write lock as they begin
    (BEGIN IMMEDIATE): a transaction that reads and then writes waits for other writers (busy_timeout)
    instead of failing with "database is locked" when one committed in between, as a deferred one does
    in WAL mode. For the scheduler's ticks and the changes of commands and web requests; never for a
    task's session, which may stay open while the task runs. No effect on other databases."""
    if immediate and engine.dialect.name == "sqlite":
        return sessionmaker(engine.execution_options(**{_BEGIN_IMMEDIATE: True}), expire_on_commit=False)
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back if it raises, always close."""
    with factory() as session, session.begin():
        yield session


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1] if "@" in url else url
