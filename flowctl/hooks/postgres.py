"""PostgresHook: SQL on PostgreSQL through psycopg2, plus COPY to and from files."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from contextlib import closing
from typing import Any

from flowctl.hooks.base import HookError
from flowctl.hooks.dbapi import DbApiHook

# Extra keys that configure flowctl (or Airflow features flowctl lacks), never psycopg2.connect.
_NOT_DRIVER_OPTIONS = frozenset({"cursor", "iam", "redshift", "aws_conn_id", "sqlalchemy_scheme", "sqlalchemy_query"})


class PostgresHook(DbApiHook):
    """`PostgresHook(postgres_conn_id="warehouse")`: host, port, login, password, and the database in
    `schema`. Other keys of the extra (`sslmode`, `connect_timeout`, `options`, ...) go to psycopg2."""

    conn_name_attr = "postgres_conn_id"
    default_conn_name = "postgres_default"
    conn_type = "postgres"
    hook_name = "Postgres"

    def connect_kwargs(self, *, timeout: float | None = None) -> dict[str, Any]:
        """What psycopg2.connect gets; `timeout` (seconds) overrides the extra's connect_timeout."""
        conn = self.connection
        kwargs: dict[str, Any] = {
            "host": conn.host,
            "port": conn.port,
            "user": conn.login,
            "password": conn.password,
            "dbname": self.database or conn.schema,
        }
        kwargs.update({key: value for key, value in conn.extra_dejson.items() if key not in _NOT_DRIVER_OPTIONS})
        if timeout is not None:
            kwargs["connect_timeout"] = max(1, math.ceil(timeout))
        return {key: value for key, value in kwargs.items() if value is not None}

    def get_conn(self) -> Any:
        import psycopg2

        return psycopg2.connect(**self.connect_kwargs())

    def test_connection(self) -> tuple[bool, str]:
        import psycopg2

        try:
            with closing(psycopg2.connect(**self.connect_kwargs(timeout=self.test_timeout))) as conn:
                conn.autocommit = True
                with closing(conn.cursor()) as cursor:
                    cursor.execute("SET statement_timeout = %s", (int(self.test_timeout * 1000),))
                    cursor.execute("SELECT 1")
                    cursor.fetchone()
        except Exception as exc:  # any driver error is the answer
            return False, f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        return True, "SELECT 1 answered"

    def copy_expert(self, sql: str, filename: str | os.PathLike[str]) -> None:
        """Run `COPY ... FROM STDIN` reading `filename`, or `COPY ... TO STDOUT` writing it, then commit.

        As in Airflow, a missing input file is created empty (nothing is loaded): check it exists first
        if that matters. No superuser rights are needed, as the file is read and written here.
        """
        if not os.path.isfile(filename):
            open(filename, "w").close()
        with open(filename, "r+") as file, closing(self.get_conn()) as conn:
            with closing(conn.cursor()) as cursor:
                if self.log_sql:
                    self.log.info("Running COPY: %s", sql)
                cursor.copy_expert(sql, file)
                file.truncate(file.tell())  # a dump shorter than the file's old content leaves no tail
            conn.commit()

    def bulk_load(self, table: str, tmp_file: str | os.PathLike[str]) -> None:
        """Load a tab-delimited file into `table`."""
        self.copy_expert(f"COPY {table} FROM STDIN", tmp_file)

    def bulk_dump(self, table: str, tmp_file: str | os.PathLike[str]) -> None:
        """Write `table` to a tab-delimited file."""
        self.copy_expert(f"COPY {table} TO STDOUT", tmp_file)

    def insert_statement(
        self, table: str, target_fields: Sequence[str] | None, *, width: int, replace: bool, **kwargs: Any
    ) -> str:
        """With `replace`, `INSERT ... ON CONFLICT (replace_index) DO UPDATE` (needs target_fields)."""
        replace_index = kwargs.pop("replace_index", None)
        statement = super().insert_statement(table, target_fields, width=width, replace=False, **kwargs)
        if not replace:
            return statement
        if not target_fields or not replace_index:
            raise HookError("PostgresHook.insert_rows(replace=True) needs target_fields and replace_index")
        keys = [replace_index] if isinstance(replace_index, str) else list(replace_index)
        updates = [field for field in target_fields if field not in keys]
        action = (
            "DO UPDATE SET " + ", ".join(f"{field} = excluded.{field}" for field in updates)
            if updates
            else "DO NOTHING"
        )
        return f"{statement} ON CONFLICT ({', '.join(keys)}) {action}"

    def insert_batch(self, cursor: Any, statement: str, batch: list[Sequence[Any]]) -> None:
        # psycopg2's executemany sends one statement per row; execute_batch sends pages of them.
        from psycopg2.extras import execute_batch

        execute_batch(cursor, statement, [tuple(row) for row in batch], page_size=max(len(batch), 1))
