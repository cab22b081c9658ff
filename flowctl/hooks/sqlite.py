"""SqliteHook: SQL on a SQLite database file named by the connection's host (or, from a URI, its schema)."""

from __future__ import annotations

from typing import Any, ClassVar

from flowctl.hooks.base import HookError
from flowctl.hooks.dbapi import DbApiHook


class SqliteHook(DbApiHook):
    """`SqliteHook(sqlite_conn_id="warehouse")`; the connection `sqlite:////data/warehouse.db` (or host
    `/data/warehouse.db`) names the file. `schema=` picks another file."""

    conn_name_attr = "sqlite_conn_id"
    default_conn_name = "sqlite_default"
    conn_type = "sqlite"
    hook_name = "SQLite"
    placeholder: ClassVar[str] = "?"

    def database_path(self) -> str:
        """The database file: `schema=` given to the hook, else the connection's host, else its schema."""
        conn = self.connection
        path = self.database or conn.host or conn.schema
        if not path:
            raise HookError(f"connection {conn.conn_id!r} names no SQLite file: set its host to the file's path")
        return path

    def get_conn(self) -> Any:
        import sqlite3

        return sqlite3.connect(self.database_path())

    def set_autocommit(self, conn: Any, autocommit: bool) -> None:
        # sqlite3 opens a transaction before each data change unless isolation_level is None.
        conn.isolation_level = None if autocommit else ""

    def get_autocommit(self, conn: Any) -> bool:
        return conn.isolation_level is None

    def test_connection(self) -> tuple[bool, str]:
        """Open the file read-write without creating it, and run `SELECT 1`."""
        import sqlite3
        from pathlib import Path
        from urllib.parse import quote

        try:
            path = self.database_path()
            if path != ":memory:" and not Path(path).is_file():
                return False, f"SQLite file {path} does not exist"
            uri = f"file:{quote(str(Path(path).resolve()))}?mode=rw" if path != ":memory:" else ":memory:"
            conn = sqlite3.connect(uri, uri=True, timeout=self.test_timeout)
            try:
                conn.execute("SELECT 1").fetchone()
            finally:
                conn.close()
        except (sqlite3.Error, HookError) as exc:
            return False, f"{type(exc).__name__}: {exc}"
        return True, "SELECT 1 answered"
