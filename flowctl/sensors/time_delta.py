"""TimeDeltaSensor: wait until `delta` after the end of the run's data interval (Airflow 2's meaning)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flowctl.exceptions import DagDefinitionError
from flowctl.sensors.date_time import InstantSensor


class TimeDeltaSensor(InstantSensor):
    """Done once `data_interval_end + delta` has passed: a daily run covering Monday with `delta=2h`
    goes on at 02:00 on Tuesday. Use `mode="reschedule"` to free the slot while waiting."""

    ui_color = "#e6f1f2"

    def __init__(self, *, delta: timedelta, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(delta, timedelta):
            raise DagDefinitionError(f"sensor {self.task_id!r}: delta must be a timedelta, got {delta!r}")
        self.delta = delta

    def target_at(self, context: dict[str, Any]) -> datetime:
        return context["data_interval_end"] + self.delta
