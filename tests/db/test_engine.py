"""Engine set-up per backend."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from flowctl.db.engine import make_engine, make_session_factory, parse_db_url
from flowctl.exceptions import DatabaseError


def test_sqlite_runs_in_wal_mode_with_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")

    with engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "busy_timeout", "foreign_keys")
        }

    assert pragmas == {"journal_mode": "wal", "busy_timeout": 30000, "foreign_keys": 1}
    engine.dispose()


def test_sqlite_transactions_begin_explicitly(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))

    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        raise RuntimeError("roll back")

    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
    engine.dispose()


def _read_then_write_while_another_commits(tmp_path: Path, *, immediate: bool) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    factory = make_session_factory(engine, immediate=immediate)
    other_done = threading.Event()

    def other_writer() -> None:
        with factory() as other:
            other.execute(text("INSERT INTO t VALUES (1)"))
            other.commit()
        other_done.set()

    with factory() as session:
        session.execute(text("SELECT count(*) FROM t")).scalar()
        writer = threading.Thread(target=other_writer)
        writer.start()
        # Deferred: the other commits now. Immediate: it waits for our lock (busy_timeout), so give up waiting.
        other_done.wait(0.5)
        try:
            session.execute(text("INSERT INTO t VALUES (2)"))
            session.commit()
        finally:
            writer.join()
            engine.dispose()


def test_a_deferred_sqlite_transaction_that_reads_then_writes_fails_when_another_committed_in_between(
    tmp_path: Path,
) -> None:
    with pytest.raises(OperationalError, match="database is locked"):
        _read_then_write_while_another_commits(tmp_path, immediate=False)


def test_an_immediate_sqlite_transaction_makes_the_other_writer_wait_instead(tmp_path: Path) -> None:
    _read_then_write_while_another_commits(tmp_path, immediate=True)

    engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}")
    with engine.connect() as connection:
        assert sorted(connection.execute(text("SELECT x FROM t")).scalars()) == [1, 2]
    engine.dispose()


def test_mysql_urls_get_utf8mb4() -> None:
    engine = make_engine("mysql+pymysql://root@127.0.0.1:3306/x")

    assert engine.url.query["charset"] == "utf8mb4"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("oracle://scott@host/db", "unsupported database dialect 'oracle'"),
        ("::not-a-url::", "not a database URL"),
        ("postgresql+nosuchdriver://u@h/d", "no driver for 'postgresql+nosuchdriver'"),
    ],
)
def test_bad_urls_are_database_errors(url: str, message: str) -> None:
    with pytest.raises(DatabaseError, match=re.escape(message)):
        make_engine(url) if "nosuchdriver" in url else parse_db_url(url)
