"""MySqlHook: SQL on MySQL or MariaDB through PyMySQL; LOAD DATA LOCAL only where the connection allows it."""

from __future__ import annotations

import math
import os
from contextlib import closing
from typing import Any, ClassVar

from flowctl.hooks.base import HookError, is_true
from flowctl.hooks.dbapi import DbApiHook

_CURSORS = {"sscursor": "SSCursor", "dictcursor": "DictCursor", "ssdictcursor": "SSDictCursor"}


class MySqlHook(DbApiHook):
    """`MySqlHook(mysql_conn_id="shop")`: host, port (3306), login, password, and the database in `schema`.

    Extra keys: `charset`, `cursor` (sscursor, dictcursor, ssdictcursor), `ssl` (an object of PyMySQL ssl
    options), `unix_socket`, `connect_timeout`, and `local_infile`. LOAD DATA LOCAL INFILE lets the
    server ask the client for any file it can read, so it stays off unless the connection's extra says
    `{"local_infile": true}`.
    """

    conn_name_attr = "mysql_conn_id"
    default_conn_name = "mysql_default"
    conn_type = "mysql"
    hook_name = "MySQL"
    backslash_escapes: ClassVar[bool] = True

    @property
    def local_infile(self) -> bool:
        """Whether the connection's extra enables LOAD DATA LOCAL INFILE."""
        return is_true(self.connection.extra_dejson.get("local_infile", False))

    def connect_kwargs(self, *, timeout: float | None = None) -> dict[str, Any]:
        """What pymysql.connect gets; `timeout` (seconds) bounds connecting and each read and write."""
        import pymysql.cursors

        conn = self.connection
        extra = conn.extra_dejson
        kwargs: dict[str, Any] = {
            "host": conn.host or "localhost",
            "port": conn.port or 3306,
            "user": conn.login or "",
            "password": conn.password or "",
            "local_infile": self.local_infile,
        }
        database = self.database or conn.schema
        if database:
            kwargs["database"] = database
        for key in ("charset", "ssl", "unix_socket", "init_command"):
            if extra.get(key):
                kwargs[key] = extra[key]
        cursor = str(extra.get("cursor", "")).lower()
        if cursor:
            if cursor not in _CURSORS:
                raise HookError(f"connection {conn.conn_id!r}: cursor must be one of {', '.join(sorted(_CURSORS))}")
            kwargs["cursorclass"] = getattr(pymysql.cursors, _CURSORS[cursor])
        seconds = timeout if timeout is not None else extra.get("connect_timeout")
        if seconds:
            kwargs["connect_timeout"] = max(1, math.ceil(float(seconds)))
        if timeout is not None:
            kwargs["read_timeout"] = kwargs["write_timeout"] = max(1, math.ceil(timeout))
        return kwargs

    def get_conn(self) -> Any:
        import pymysql

        return pymysql.connect(**self.connect_kwargs())

    def set_autocommit(self, conn: Any, autocommit: bool) -> None:
        conn.autocommit(autocommit)

    def get_autocommit(self, conn: Any) -> bool:
        return bool(conn.get_autocommit())

    def test_connection(self) -> tuple[bool, str]:
        import pymysql

        try:
            conn = pymysql.connect(**self.connect_kwargs(timeout=self.test_timeout))
            with closing(conn), closing(conn.cursor()) as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except Exception as exc:  # any driver error is the answer
            return False, f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        return True, "SELECT 1 answered"

    def bulk_load(self, table: str, tmp_file: str | os.PathLike[str]) -> None:
        """`LOAD DATA LOCAL INFILE` a tab-delimited file into `table` (the connection must allow it)."""
        if not self.local_infile:
            raise HookError(
                f"connection {self.get_conn_id()!r} does not allow LOAD DATA LOCAL INFILE; "
                'set {"local_infile": true} in its extra to enable it'
            )
        with closing(self.get_conn()) as conn:
            with closing(conn.cursor()) as cursor:
                cursor.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE {table}", (os.fspath(tmp_file),))
            conn.commit()
