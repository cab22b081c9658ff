"""DbApiHook: SQL through a DB-API 2 driver — statements, records, batched inserts — shared by the SQL hooks.

Each subclass brings its driver (`get_conn`), its `placeholder` and how it switches autocommit.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import closing
from typing import Any, ClassVar

from flowctl.hooks.base import BaseHook, HookError
from flowctl.hooks.sql_statements import split_sql_string

Parameters = Mapping[str, Any] | Sequence[Any] | None


def fetch_all_handler(cursor: Any) -> list[tuple[Any, ...]] | None:
    """Every row of the statement just run, or None when it returns no rows (an INSERT, say)."""
    return list(cursor.fetchall()) if cursor.description is not None else None  # PyMySQL gives a tuple


def fetch_one_handler(cursor: Any) -> tuple[Any, ...] | None:
    """The first row of the statement just run, or None."""
    return cursor.fetchone() if cursor.description is not None else None


class DbApiHook(BaseHook):
    """Runs SQL on the database a connection names.

    `DbApiHook(conn_id)` or `PostgresHook(postgres_conn_id=...)`; `schema=` (alias `database=`) picks
    another database than the connection's. Nothing connects until a method runs SQL.
    """

    placeholder: ClassVar[str] = "%s"
    supports_autocommit: ClassVar[bool] = True
    # Whether a backslash escapes a quote inside a string literal (MySQL) when splitting statements.
    backslash_escapes: ClassVar[bool] = False

    def __init__(
        self, *args: str, schema: str | None = None, database: str | None = None, log_sql: bool = True, **kwargs: Any
    ) -> None:
        super().__init__()
        if not self.conn_name_attr:
            raise TypeError(f"{type(self).__name__} must set conn_name_attr")
        conn_id = kwargs.pop(self.conn_name_attr, None)
        if len(args) > 1 or (args and conn_id is not None):
            raise TypeError(f"{type(self).__name__} takes one connection id")
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected arguments: {', '.join(sorted(kwargs))}")
        setattr(self, self.conn_name_attr, args[0] if args else conn_id or self.default_conn_name)
        self.database = database or schema
        self.log_sql = log_sql
        self.descriptions: list[Any] = []

    # connections and transactions

    def get_conn(self) -> Any:
        """A new DB-API connection to the connection's database (the caller closes it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_conn()")

    def set_autocommit(self, conn: Any, autocommit: bool) -> None:
        conn.autocommit = autocommit

    def get_autocommit(self, conn: Any) -> bool:
        return bool(getattr(conn, "autocommit", False))

    def test_connection(self) -> tuple[bool, str]:
        """Connect and run `SELECT 1` within `test_timeout` seconds."""
        try:
            value = self.get_first("SELECT 1")
        except Exception as exc:  # any driver error is the answer to "does it work?"
            return False, _one_line(exc)
        return value is not None, "SELECT 1 answered" if value is not None else "SELECT 1 returned no row"

    # running SQL

    def run(
        self,
        sql: str | Iterable[str],
        autocommit: bool = False,
        parameters: Parameters = None,
        handler: Callable[[Any], Any] | None = None,
        split_statements: bool = False,
        return_last: bool = True,
    ) -> Any:
        """Run one statement or several in one connection, then commit (unless autocommit).

        With a `handler` (e.g. `fetch_all_handler`), it is called with the cursor after each statement:
        a single `sql` string gives the last statement's result (every one's when `split_statements`
        and not `return_last`); a list gives a list of results. Without one, returns None.
        """
        statements = self._statements(sql, split_statements=split_statements)
        single_result = isinstance(sql, str) and (return_last or not split_statements)
        results: list[Any] = []
        self.descriptions = []
        with closing(self.get_conn()) as conn:
            self._prepare(conn, autocommit)
            with closing(conn.cursor()) as cursor:
                for statement in statements:
                    self._execute(cursor, statement, parameters)
                    if handler is not None:
                        results.append(plain_rows(handler(cursor)))
                        self.descriptions.append(cursor.description)
            if not (self.supports_autocommit and self.get_autocommit(conn)):
                conn.commit()
        if handler is None:
            return None
        if single_result:
            self.descriptions = self.descriptions[-1:]
            return results[-1]
        return results

    def get_records(self, sql: str | Iterable[str], parameters: Parameters = None) -> Any:
        """All rows of the (last) statement, as a list of tuples."""
        return self.run(sql, parameters=parameters, handler=fetch_all_handler)

    def get_first(self, sql: str | Iterable[str], parameters: Parameters = None) -> Any:
        """The first row of the (last) statement as a tuple, or None."""
        return self.run(sql, parameters=parameters, handler=fetch_one_handler)

    def insert_rows(
        self,
        table: str,
        rows: Iterable[Sequence[Any]],
        target_fields: Sequence[str] | None = None,
        commit_every: int = 1000,
        replace: bool = False,
        **kwargs: Any,
    ) -> int:
        """Insert `rows` into `table` with one `executemany` and one commit per `commit_every` rows (0: all
        rows in one transaction). `replace` overwrites rows with the same key. Returns how many rows."""
        if commit_every < 0:
            raise HookError("commit_every must be 0 (one transaction) or a positive number of rows")
        batches = _batches(iter(rows), commit_every or None)
        total = 0
        with closing(self.get_conn()) as conn:
            self._prepare(conn, autocommit=False)
            with closing(conn.cursor()) as cursor:
                for batch in batches:
                    width = len(target_fields) if target_fields else len(batch[0])
                    statement = self.insert_statement(table, target_fields, width=width, replace=replace, **kwargs)
                    self.insert_batch(cursor, statement, batch)
                    conn.commit()
                    total += len(batch)
                    self.log.info("Loaded %s rows into %s so far", total, table)
        self.log.info("Done loading. Loaded a total of %s rows into %s", total, table)
        return total

    def get_pandas_df(self, sql: str, parameters: Parameters = None, **kwargs: Any) -> Any:
        """The statement's rows as a pandas DataFrame (needs pandas installed)."""
        try:
            import pandas
        except ImportError:
            raise HookError("get_pandas_df needs pandas, which is not installed (pip install pandas)") from None
        with closing(self.get_conn()) as conn, closing(conn.cursor()) as cursor:
            self._execute(cursor, sql, parameters)
            columns = [column[0] for column in cursor.description or ()]
            rows = list(cursor.fetchall()) if cursor.description is not None else []
        return pandas.DataFrame.from_records(plain_rows(rows), columns=columns, **kwargs)

    def split_sql_string(self, sql: str) -> list[str]:
        """The statements in `sql`, split at semicolons outside quotes and comments."""
        return split_sql_string(sql, backslash_escapes=self.backslash_escapes)

    # what subclasses may change

    def insert_statement(
        self, table: str, target_fields: Sequence[str] | None, *, width: int, replace: bool, **kwargs: Any
    ) -> str:
        """`INSERT INTO table (fields) VALUES (placeholders)`; `REPLACE INTO` when `replace`."""
        if kwargs:
            raise HookError(f"{type(self).__name__}.insert_rows got unexpected arguments: {', '.join(sorted(kwargs))}")
        columns = f" ({', '.join(target_fields)})" if target_fields else ""
        values = ", ".join([self.placeholder] * width)
        return f"{'REPLACE' if replace else 'INSERT'} INTO {table}{columns} VALUES ({values})"

    def insert_batch(self, cursor: Any, statement: str, batch: list[Sequence[Any]]) -> None:
        cursor.executemany(statement, [tuple(row) for row in batch])

    # internals

    def _statements(self, sql: str | Iterable[str], *, split_statements: bool) -> list[str]:
        if isinstance(sql, str):
            statements = self.split_sql_string(sql) if split_statements else [sql] if sql.strip() else []
        else:
            statements = [statement for statement in sql if statement.strip()]
        if not statements:
            raise HookError("no SQL statement to run")
        return statements

    def _prepare(self, conn: Any, autocommit: bool) -> None:
        if self.supports_autocommit:
            self.set_autocommit(conn, autocommit)
        elif autocommit:
            self.log.warning("%s connection doesn't support autocommit; it will commit at the end", self.conn_type)

    def _execute(self, cursor: Any, statement: str, parameters: Parameters) -> None:
        if self.log_sql:
            self.log.info("Running statement: %s, parameters: %s", statement, parameters)
        if parameters is None:
            cursor.execute(statement)
        else:
            cursor.execute(statement, parameters)
        if cursor.rowcount is not None and cursor.rowcount >= 0:
            self.log.info("Rows affected: %s", cursor.rowcount)


def plain_rows(result: Any) -> Any:
    """Driver row objects (named tuples, sqlite3.Row) as plain tuples, so results look the same on every DB."""
    if isinstance(result, list):
        return [tuple(row) if isinstance(row, tuple) or _is_row(row) else row for row in result]
    if isinstance(result, tuple) or _is_row(result):
        return tuple(result)
    return result


def _is_row(value: Any) -> bool:
    return type(value).__name__ == "Row" and hasattr(value, "keys")


def _batches(rows: Iterable[Sequence[Any]], size: int | None) -> Iterable[list[Sequence[Any]]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
