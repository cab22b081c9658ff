"""Engine set-up per backend."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from flowctl.db.engine import make_engine, parse_db_url
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
