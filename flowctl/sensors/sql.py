"""SqlSensor: run a query until its first row says the wait is over."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from flowctl.exceptions import DagDefinitionError, FlowctlError
from flowctl.sensors.base import BaseSensorOperator

log = logging.getLogger(__name__)


class SqlSensorError(FlowctlError):
    """The query met the sensor's `failure` criteria, or returned no row with `fail_on_empty`."""


class SqlSensor(BaseSensorOperator):
    """Run `sql` (templated; or a `.sql` file) on the database of connection `conn_id` every poke. With no
    row it keeps waiting (fails with `fail_on_empty=True`). Otherwise `selector` picks a value from the
    first row (its first cell by default): when `failure(value)` is true the sensor fails; it is done
    when `success(value)` is true or, without `success`, when the value is truthy (not 0, '', None)."""

    template_fields = ("sql", "parameters", "hook_params")
    template_ext = (".sql", ".hql")
    ui_color = "#7c7287"

    def __init__(
        self,
        *,
        conn_id: str,
        sql: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        success: Callable[[Any], bool] | None = None,
        failure: Callable[[Any], bool] | None = None,
        selector: Callable[[tuple[Any, ...]], Any] = itemgetter(0),
        fail_on_empty: bool = False,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("success", success), ("failure", failure), ("selector", selector)):
            if value is not None and not callable(value):
                raise DagDefinitionError(f"sensor {self.task_id!r}: {name} must be callable, got {value!r}")
        self.conn_id = conn_id
        self.sql = sql
        self.parameters = parameters
        self.success = success
        self.failure = failure
        self.selector = selector
        self.fail_on_empty = fail_on_empty
        self.hook_params = dict(hook_params or {})

    def _get_hook(self) -> Any:
        from flowctl.hooks.base import BaseHook
        from flowctl.hooks.dbapi import DbApiHook

        hook = BaseHook.get_hook(self.conn_id, hook_params=self.hook_params)
        if not isinstance(hook, DbApiHook):
            raise SqlSensorError(
                f"connection {self.conn_id!r} is served by {type(hook).__name__}, not a DbApiHook: SqlSensor "
                "needs a SQL database connection (sqlite, postgres, mysql)"
            )
        return hook

    def poke(self, context: dict[str, Any]) -> bool:
        records = self._get_hook().get_records(self.sql, self.parameters)
        if not records:
            if self.fail_on_empty:
                raise SqlSensorError(f"sensor {self.task_id!r}: the query returned no row (fail_on_empty)")
            log.info("No row yet")
            return False
        value = self.selector(records[0])
        log.info("First row gives %r", value)
        if self.failure is not None and self.failure(value):
            raise SqlSensorError(f"sensor {self.task_id!r}: failure criteria met by {value!r}")
        if self.success is not None:
            return bool(self.success(value))
        return bool(value)
