"""ExternalTaskSensor: wait for tasks of another DAG, or a whole run of it, on a related logical date."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from flowctl.exceptions import DagDefinitionError, FailTask, FlowctlError, SkipTask
from flowctl.operators.python import context_arguments
from flowctl.sensors.base import BaseSensorOperator
from flowctl.state import RunState, TaskState

log = logging.getLogger(__name__)


class ExternalTaskFailedError(FlowctlError):
    """What the sensor waits on ended in one of its `failed_states` (retried like any failure: the other
    DAG's task may be cleared and succeed)."""


class ExternalTaskSensor(BaseSensorOperator):
    """Done when the tasks `external_task_ids` (or `external_task_id`) of DAG `external_dag_id` — or, with
    neither, that DAG's run itself — are in one of `allowed_states` (default `["success"]`) in its run on
    this run's logical date (minus `execution_delta`, or the date(s) `execution_date_fn(logical_date)`
    returns). A state in `failed_states` fails the sensor at once (skips it with `soft_fail`), one in
    `skipped_states` skips it. `check_existence=True` fails at the first poke if the DAG or a task does not
    exist. Task-level states are task instance states; DAG-level ones are run states."""

    template_fields = ("external_dag_id", "external_task_id", "external_task_ids")
    ui_color = "#4db7db"

    def __init__(
        self,
        *,
        external_dag_id: str,
        external_task_id: str | None = None,
        external_task_ids: Iterable[str] | None = None,
        allowed_states: Iterable[str] | None = None,
        skipped_states: Iterable[str] | None = None,
        failed_states: Iterable[str] | None = None,
        execution_delta: timedelta | None = None,
        execution_date_fn: Callable[..., datetime | list[datetime]] | None = None,
        check_existence: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if external_task_id is not None and external_task_ids is not None:
            raise self._bad("pass external_task_id or external_task_ids, not both")
        if execution_delta is not None and execution_date_fn is not None:
            raise self._bad("pass execution_delta or execution_date_fn, not both")
        task_ids = [external_task_id] if external_task_id is not None else list(external_task_ids or [])
        if external_task_ids is not None and not task_ids:
            raise self._bad("external_task_ids must not be empty (leave it out to wait for the whole run)")
        if len(set(task_ids)) != len(task_ids):
            raise self._bad(f"external_task_ids has duplicates: {task_ids}")
        self.external_dag_id = external_dag_id
        self.external_task_id = external_task_id
        self.external_task_ids = task_ids or None
        self.allowed_states = list(allowed_states) if allowed_states is not None else [TaskState.SUCCESS.value]
        self.skipped_states = list(skipped_states or [])
        self.failed_states = list(failed_states or [])
        self.execution_delta = execution_delta
        self.execution_date_fn = execution_date_fn
        self.check_existence = check_existence
        self._existence_checked = False
        self._check_states()

    def _bad(self, problem: str) -> DagDefinitionError:
        return DagDefinitionError(f"sensor {self.task_id!r}: {problem}")

    def _check_states(self) -> None:
        valid = {state.value for state in (TaskState if self.external_task_ids else RunState)}
        kind = "task instance" if self.external_task_ids else "DAG run"
        for name in ("allowed_states", "skipped_states", "failed_states"):
            unknown = sorted(set(getattr(self, name)) - valid)
            if unknown:
                raise self._bad(f"{name} {unknown} are not {kind} states (valid: {sorted(valid)})")
        groups = [set(self.allowed_states), set(self.skipped_states), set(self.failed_states)]
        overlap = (groups[0] & groups[1]) | (groups[0] & groups[2]) | (groups[1] & groups[2])
        if overlap:
            raise self._bad(f"states {sorted(overlap)} appear in more than one of allowed/skipped/failed states")

    def poke(self, context: dict[str, Any]) -> bool:
        ti = context["ti"]
        dates = self.logical_dates(context)
        what = f"tasks {self.external_task_ids}" if self.external_task_ids else "the run"
        shown = ", ".join(date.isoformat() for date in dates)
        log.info("Poking for %s of DAG %s on %s", what, self.external_dag_id, shown)
        if self.check_existence and not self._existence_checked:
            self._check_exists(ti)
            self._existence_checked = True
        states = self._states(ti, dates)
        if any(state in self.failed_states for state in states.values() if state is not None):
            message = f"{what} of DAG {self.external_dag_id!r} on {shown} reached a failed state: {_listed(states)}"
            if self.soft_fail:
                raise SkipTask(message)
            raise ExternalTaskFailedError(message)
        if any(state in self.skipped_states for state in states.values() if state is not None):
            raise SkipTask(f"{what} of DAG {self.external_dag_id!r} on {shown} was skipped: {_listed(states)}")
        log.info("States: %s", _listed(states))
        return all(state in self.allowed_states for state in states.values())

    def logical_dates(self, context: dict[str, Any]) -> list[datetime]:
        """The logical dates of the external runs to look at."""
        logical_date = context["logical_date"]
        if self.execution_delta is not None:
            return [logical_date - self.execution_delta]
        if self.execution_date_fn is not None:
            kwargs = context_arguments(self.execution_date_fn, context, ("logical_date", "execution_date"))
            result = self.execution_date_fn(logical_date, **kwargs)
            dates = list(result) if isinstance(result, list | tuple) else [result]
            if not dates or not all(isinstance(date, datetime) for date in dates):
                raise FailTask(f"sensor {self.task_id!r}: execution_date_fn must return a datetime or a list of them")
            return dates
        return [logical_date]

    def _states(self, ti: Any, dates: list[datetime]) -> dict[str, str | None]:
        """One state per thing waited on ("<date>" or "<date> <task_id>"); None when it does not exist
        yet. A mapped task counts through its worst instance: done when all are, failed when one is."""
        if not self.external_task_ids:
            runs = ti.run_states_on(self.external_dag_id, dates)
            return {date.isoformat(): _state_on(runs, date) for date in dates}
        found = ti.task_states_on(self.external_dag_id, dates, self.external_task_ids)
        states: dict[str, str | None] = {}
        for date in dates:
            for task_id in self.external_task_ids:
                instances = _state_on(found, date, task_id) or []
                states[f"{date.isoformat()} {task_id}"] = self._summary(instances)
        return states

    def _summary(self, instances: list[str]) -> str | None:
        for group in (self.failed_states, self.skipped_states):
            for state in instances:
                if state in group:
                    return state
        outside = [state for state in instances if state not in self.allowed_states]
        return outside[0] if outside else (instances[0] if instances else None)

    def _check_exists(self, ti: Any) -> None:
        task_ids = ti.dag_task_ids(self.external_dag_id)
        if task_ids is None:
            raise FailTask(f"the external DAG {self.external_dag_id!r} does not exist")
        missing = [task_id for task_id in self.external_task_ids or [] if task_id not in task_ids]
        if missing:
            raise FailTask(f"the external DAG {self.external_dag_id!r} has no task {', '.join(map(repr, missing))}")


def _state_on(found: dict[Any, Any], date: datetime, task_id: str | None = None) -> Any:
    """`found[date]` (or `found[(date, task_id)]`), matching the date as an instant whatever its time zone."""
    for key, value in found.items():
        key_date, key_task = (key, None) if task_id is None else key
        if key_task == task_id and key_date == date:
            return value
    return None


def _listed(states: dict[str, str | None]) -> str:
    return ", ".join(f"{name}: {state or 'no run yet'}" for name, state in states.items())
