"""SQLExecuteQueryOperator: run SQL on the database a connection names; the rows go to XCom."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flowctl.baseoperator import BaseOperator
from flowctl.exceptions import DagDefinitionError, FailTask
from flowctl.hooks.dbapi import fetch_all_handler

DEFAULT_MAX_ROWS = 1000


class SQLExecuteQueryOperator(BaseOperator):
    """Runs `sql` (a statement, a list of them, or a template file ending in `.sql`) through the hook of
    `conn_id`'s type, and returns what `handler` makes of the cursor (all rows, by default).

    The result becomes the `return_value` XCom: the last statement's rows for a single string (each
    statement's with `split_statements=True, return_last=False`), a list per statement for a list. An
    XCom is no place for a table: a result of more than `max_rows` rows fails the task (without retrying)
    instead of being cut short silently; raise `max_rows`, set it to None, aggregate in SQL, or set
    `do_xcom_push=False` (then no rows are fetched at all). Values XCom's JSON cannot hold become the
    nearest it can: DECIMAL/NUMERIC an int when whole, else a float; UUID and TIME text.
    """

    template_fields = ("conn_id", "sql", "parameters", "database", "hook_params")
    template_ext = (".sql",)
    template_fields_renderers = {"sql": "sql", "parameters": "json", "hook_params": "json"}
    ui_color = "#cdaaed"

    def __init__(
        self,
        *,
        sql: str | Sequence[str],
        conn_id: str | None = None,
        database: str | None = None,
        autocommit: bool = False,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        handler: Callable[[Any], Any] = fetch_all_handler,
        split_statements: bool = False,
        return_last: bool = True,
        max_rows: int | None = DEFAULT_MAX_ROWS,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not conn_id:
            raise DagDefinitionError(f"task {self.task_id!r}: SQLExecuteQueryOperator needs conn_id")
        if max_rows is not None and max_rows < 1:
            raise DagDefinitionError(f"task {self.task_id!r}: max_rows must be a positive number or None")
        self.conn_id = conn_id
        self.database = database
        self.sql = sql
        self.autocommit = autocommit
        self.parameters = parameters
        self.handler = handler
        self.split_statements = split_statements
        self.return_last = return_last
        self.max_rows = max_rows
        self.hook_params = dict(hook_params or {})

    def get_db_hook(self) -> Any:
        """The DbApiHook of `conn_id`'s type (PostgresHook for a postgres connection, ...)."""
        from flowctl.hooks.base import BaseHook
        from flowctl.hooks.dbapi import DbApiHook

        params = {**self.hook_params, **({"schema": self.database} if self.database else {})}
        hook = BaseHook.get_hook(self.conn_id, hook_params=params)
        if not isinstance(hook, DbApiHook):
            raise FailTask(f"connection {self.conn_id!r} is served by {type(hook).__name__}, which does not run SQL")
        return hook

    def execute(self, context: dict[str, Any]) -> Any:
        hook = self.get_db_hook()
        handler = self._bounded_handler() if self.do_xcom_push else None
        result = hook.run(
            sql=self.sql,
            autocommit=self.autocommit,
            parameters=self.parameters,
            handler=handler,
            split_statements=self.split_statements,
            return_last=self.return_last,
        )
        if not self.do_xcom_push:
            return None
        return xcom_friendly(result)

    def _bounded_handler(self) -> Callable[[Any], Any]:
        """The handler, fetching at most max_rows + 1 rows when it is the default fetch-all one."""
        limit, task_id, handler = self.max_rows, self.task_id, self.handler
        if limit is None:
            return handler

        def bounded(cursor: Any) -> Any:
            if handler is fetch_all_handler:
                rows = list(cursor.fetchmany(limit + 1)) if cursor.description is not None else None
            else:
                rows = handler(cursor)
            if isinstance(rows, list) and len(rows) > limit:
                raise FailTask(
                    f"task {task_id!r}: the query returned more than max_rows={limit} rows, too many for an "
                    "XCom; raise max_rows (or set it to None), aggregate in SQL, or set do_xcom_push=False"
                )
            return rows

        return bounded


def xcom_friendly(value: Any) -> Any:
    """Rows with driver values XCom's JSON cannot hold turned into ones it can."""
    if isinstance(value, list):
        return [xcom_friendly(item) for item in value]
    if isinstance(value, tuple):
        return tuple(xcom_friendly(item) for item in value)
    if isinstance(value, dict):
        return {key: xcom_friendly(item) for key, item in value.items()}
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.time):
        return value.isoformat()
    return value
