"""DateTimeSensor: wait until a given instant; and the base of sensors that wait for an instant."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import pendulum

from flowctl.exceptions import DagDefinitionError, FailTask
from flowctl.sensors.base import BaseSensorOperator

log = logging.getLogger(__name__)


class InstantSensor(BaseSensorOperator):
    """Done once the clock has passed `target_at(context)`. Never waits past that instant between pokes,
    so a long `poke_interval` (in reschedule mode, say) costs one poke rather than overshooting."""

    _next_target_at: datetime | None = None

    def target_at(self, context: dict[str, Any]) -> datetime:
        raise NotImplementedError(f"{type(self).__name__} must implement target_at(context)")

    def poke(self, context: dict[str, Any]) -> bool:
        target = self.target_at(context)
        now = pendulum.now("UTC")
        log.info("Waiting until %s (now %s)", target.isoformat(), now.isoformat())
        self._next_target_at = target
        return now > target

    def interval_after(self, pokes: int) -> float:
        interval = super().interval_after(pokes)
        if self._next_target_at is None:
            return interval
        left = (self._next_target_at - pendulum.now("UTC")).total_seconds()
        return min(interval, max(left, 0.0) + 0.001)  # just past the target: `now > target` then holds


class DateTimeSensor(InstantSensor):
    """Wait until `target_time` (a datetime, or a templated ISO-8601 string; naive means UTC)."""

    template_fields = ("target_time",)
    ui_color = "#e6f1f2"

    def __init__(self, *, target_time: str | datetime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(target_time, datetime):
            target_time = target_time.isoformat()
        elif not isinstance(target_time, str):
            raise DagDefinitionError(
                f"sensor {self.task_id!r}: target_time must be a str or a datetime, got {type(target_time).__name__}"
            )
        self.target_time = target_time

    def target_at(self, context: dict[str, Any]) -> datetime:
        return parse_instant(self.target_time, what=f"target_time of {self.task_id!r}")


def parse_instant(value: str | datetime, *, what: str) -> pendulum.DateTime:
    """An aware instant from a datetime or an ISO-8601 string (naive: UTC)."""
    if isinstance(value, datetime):
        return pendulum.instance(value, tz="UTC")
    try:
        parsed = pendulum.parse(value, tz="UTC")
    except (ValueError, TypeError) as exc:
        raise FailTask(f"{what} {value!r} is not an ISO-8601 date and time: {exc}") from None
    if not isinstance(parsed, datetime):
        raise FailTask(f"{what} {value!r} is not a date and time")
    return pendulum.instance(parsed)
