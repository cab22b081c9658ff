"""`ti` / `task_instance` in a task's context: the try's identity, XCom push and pull, branch and skip
decisions, and the few reads of other runs that sensors need (flowctl.executors.task_runner makes one
per try)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from flowctl.config import Settings
from flowctl.db.queries import runs as run_queries
from flowctl.db.queries import xcoms as xcom_queries
from flowctl.executors.base import TaskCommand
from flowctl.taskflow import RETURN_VALUE
from flowctl.xcom_codec import decode_xcom, encode_xcom

log = logging.getLogger("flowctl.task")


@dataclass(slots=True)
class _Decisions:
    follow_branches: list[str] | None = None
    skip_downstream: bool = False
    respect_trigger_rules: bool = False


class RuntimeTaskInstance:
    """`ti` / `task_instance` in the context: identity, XCom push/pull, branch and skip decisions."""

    def __init__(self, command: TaskCommand, *, run: Any, session: Callable[[], Session], settings: Settings) -> None:
        key = command.key
        self.dag_id, self.run_id, self.task_id = key.dag_id, key.run_id, key.task_id
        self.map_index, self.try_number = key.map_index, key.try_number
        self.hostname = socket.gethostname()
        self.log = log
        self._run = run
        self._session = session
        self._max_xcom_size = settings.core.max_xcom_size
        self.pushed: dict[str, bytes] = {}
        self.decisions = _Decisions()
        self.sensor_first_poke_at: datetime | None = None
        self.dag_run_requests: list[dict[str, Any]] = []
        self.sensor_pokes = 0

    def __repr__(self) -> str:
        return f"<TaskInstance {self.dag_id}.{self.task_id} {self.run_id} try {self.try_number}>"

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = encode_xcom(value, task_id=self.task_id, key=key, max_size=self._max_xcom_size)

    def xcom_pull(
        self,
        task_ids: str | list[str] | None = None,
        key: str = RETURN_VALUE,
        dag_id: str | None = None,
        include_prior_dates: bool = False,
        map_indexes: int | list[int] | None = None,
    ) -> Any:
        """One value for one task id (a list for a mapped task), a list for a list of task ids."""
        ids = [self.task_id] if task_ids is None else [task_ids] if isinstance(task_ids, str) else list(task_ids)
        indexes = [map_indexes] if isinstance(map_indexes, int) else map_indexes
        rows = xcom_queries.pull(
            self._session(),
            dag_id=dag_id or self.dag_id,
            run_id=self.run_id,
            task_ids=ids,
            key=key,
            map_indexes=indexes,
            include_prior_dates=include_prior_dates,
            logical_date=self._run.logical_date,
        )
        values: dict[str, list[Any]] = {task_id: [] for task_id in ids}
        for task_id, map_index, data in rows:
            values[task_id].append((map_index, decode_xcom(data)))
        if key in self.pushed and self.task_id in values and (dag_id or self.dag_id) == self.dag_id:
            values[self.task_id] = [(self.map_index, decode_xcom(self.pushed[key]))]  # this try's own push
        results = [one_or_many(values[task_id]) for task_id in ids]
        return results[0] if isinstance(task_ids, str) or task_ids is None else results

    def request_dag_run(self, dag_id: str, *, run_id: str, conf: dict[str, Any], logical_date: datetime) -> None:
        """Ask the scheduler to create a run of another DAG when it records this try's outcome."""
        self.dag_run_requests.append(
            {"dag_id": dag_id, "run_id": run_id, "conf": conf, "logical_date": logical_date.isoformat()}
        )

    def dag_run_state(self, dag_id: str, run_id: str) -> str | None:
        run = run_queries.get_run(self._session(), dag_id, run_id)
        return run.state if run is not None else None

    def run_states_on(self, dag_id: str, logical_dates: list[datetime]) -> dict[datetime, str]:
        """The state of `dag_id`'s run on each of these logical dates that has one (ExternalTaskSensor)."""
        return self._read_fresh(lambda session: run_queries.states_on(session, dag_id, logical_dates))

    def task_states_on(
        self, dag_id: str, logical_dates: list[datetime], task_ids: list[str]
    ) -> dict[tuple[datetime, str], list[str]]:
        """(logical date, task id) -> the states of that task's instances (one per map index) in `dag_id`'s
        runs on these logical dates; pairs with no instance are left out (ExternalTaskSensor)."""
        from flowctl.db.queries import task_instances as ti_queries

        rows = self._read_fresh(lambda session: ti_queries.states_on(session, dag_id, logical_dates, task_ids))
        found: dict[tuple[datetime, str], list[str]] = {}
        for logical_date, task_id, _, state in rows:
            found.setdefault((logical_date, task_id), []).append(state)
        return found

    def dag_task_ids(self, dag_id: str) -> list[str] | None:
        """The task ids of `dag_id` as last parsed, or None when no such DAG is known or its file is gone."""
        from flowctl.db.queries import dags as dag_queries

        dag_row = dag_queries.get_dag(self._session(), dag_id)
        if dag_row is None or dag_row.is_stale:
            return None
        data = dag_queries.latest_serialized(self._session(), dag_id)
        return [task["task_id"] for task in data["tasks"]] if data else None

    def _read_fresh(self, read: Callable[[Session], Any]) -> Any:
        """`read(session)`, then end the transaction: a sensor polls, and its next read must see what was
        committed since (SQLite and MySQL would otherwise keep showing this transaction's snapshot)."""
        session = self._session()
        try:
            return read(session)
        finally:
            session.rollback()

    def follow_branches(self, task_ids: list[str]) -> None:
        self.decisions.follow_branches = list(task_ids)

    def skip_downstream(self, *, respect_trigger_rules: bool = False) -> None:
        self.decisions.skip_downstream = True
        self.decisions.respect_trigger_rules = respect_trigger_rules


def one_or_many(found: list[tuple[int, Any]]) -> Any:
    if not found:
        return None
    if len(found) == 1 and found[0][0] == -1:
        return found[0][1]
    return [value for _, value in sorted(found, key=lambda item: item[0])]
