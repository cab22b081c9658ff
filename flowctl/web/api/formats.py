"""How values look in API answers: datetimes as ISO-8601 in UTC, durations as Airflow's TimeDelta objects,
schedules as Airflow's CronExpression / TimeDelta."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def time_delta(seconds: float | None) -> dict[str, Any] | None:
    if seconds is None:
        return None
    delta = timedelta(seconds=seconds)
    return {"__type": "TimeDelta", "days": delta.days, "seconds": delta.seconds, "microseconds": delta.microseconds}


def schedule_interval(schedule: str | None) -> dict[str, Any] | None:
    """A stored schedule summary (cron, preset, or an ISO-8601 duration such as PT10M) as Airflow shows it."""
    if schedule is None:
        return None
    if schedule.startswith("P"):  # neither cron fields nor presets start with P
        import pendulum

        duration = pendulum.parse(schedule)
        if isinstance(duration, timedelta):
            return time_delta(duration.total_seconds())
    return {"__type": "CronExpression", "value": schedule}
