"""A DAG's schedule as a timetable: which data intervals exist and which are due at a given `now`.

Pure core: time is always an argument (never read from a clock), no I/O; imports
only stdlib, pendulum, croniter (through flowctl.cron) and flowctl.exceptions.
Inputs must be timezone-aware; every datetime returned is a pendulum DateTime in UTC.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pendulum

from flowctl.cron import Cron, last_tick, next_tick, parse_cron
from flowctl.exceptions import InvalidSchedule

_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class DataInterval:
    """The span a run covers, [start, end); its logical date is `start`."""

    start: datetime
    end: datetime


class Timetable(ABC):
    """When a DAG's runs are due; every concrete timetable is a frozen value object."""

    __slots__ = ()
    periodic: ClassVar[bool]

    @property
    @abstractmethod
    def summary(self) -> str | None:
        """The schedule as the user wrote it (cron, preset or ISO-8601 duration); None for manual only."""

    def next_dagrun_info(
        self,
        *,
        last: DataInterval | None,
        start_date: datetime | None,
        end_date: datetime | None,
        catchup: bool,
        now: datetime | None,
    ) -> DataInterval | None:
        """The next interval to create, due or not (`now` counts only without catchup); None: no more runs."""
        return None

    def infer_manual_data_interval(self, logical_date: datetime) -> DataInterval:
        """The data interval of a run triggered by hand: here empty, at the logical date."""
        return _interval(_utc(logical_date), _utc(logical_date))

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description, read back by timetable_from_dict."""

    def next_interval(
        self,
        *,
        last: DataInterval | None,
        start_date: datetime | None,
        end_date: datetime | None,
        catchup: bool,
        now: datetime,
    ) -> DataInterval | None:
        """The next run to create at `now`, or None if none is due yet."""
        info = self.next_dagrun_info(last=last, start_date=start_date, end_date=end_date, catchup=catchup, now=now)
        return info if info is not None and info.end <= _utc(now) else None


@dataclass(frozen=True, slots=True)
class NullTimetable(Timetable):
    """`schedule=None`: the DAG runs only when triggered."""

    periodic: ClassVar[bool] = False

    @property
    def summary(self) -> str | None:
        """None: there is no schedule."""
        return None

    def to_dict(self) -> dict[str, Any]:
        """The type alone."""
        return {"type": "null"}


@dataclass(frozen=True, slots=True)
class OnceTimetable(Timetable):
    """`@once`: a single run with the empty interval [start_date, start_date]."""

    periodic: ClassVar[bool] = False

    @property
    def summary(self) -> str | None:
        """The preset."""
        return "@once"

    def next_dagrun_info(
        self,
        *,
        last: DataInterval | None,
        start_date: datetime | None,
        end_date: datetime | None,
        catchup: bool,
        now: datetime | None,
    ) -> DataInterval | None:
        """The one run at start_date, unless it exists already or end_date is before it."""
        if last is not None or start_date is None:
            return None
        start = _utc(start_date)
        if end_date is not None and start > _utc(end_date):
            return None
        return _interval(start, start)

    def to_dict(self) -> dict[str, Any]:
        """The type alone."""
        return {"type": "once"}


class _PeriodicTimetable(Timetable):
    """Intervals that tile time; subclasses say where they fall."""

    __slots__ = ()
    periodic: ClassVar[bool] = True

    @abstractmethod
    def _first(self, start_date: datetime) -> DataInterval:
        """The first interval starting at or after start_date."""

    @abstractmethod
    def _following(self, start: datetime) -> DataInterval:
        """The interval starting at `start` (the end of the previous one)."""

    @abstractmethod
    def _latest_complete(self, now: datetime, *, anchor: DataInterval) -> DataInterval | None:
        """The latest interval ending at or before `now`, on the same grid as `anchor`."""

    def next_dagrun_info(
        self,
        *,
        last: DataInterval | None,
        start_date: datetime | None,
        end_date: datetime | None,
        catchup: bool,
        now: datetime | None,
    ) -> DataInterval | None:
        """The interval after `last` (or the first), skipped to the latest complete one without catchup."""
        if last is None and start_date is None:
            return None
        if last is None or (start_date is not None and _utc(last.end) < _utc(start_date)):
            # A start_date moved past the last run wins: nothing runs before start_date.
            assert start_date is not None
            candidate = self._first(_utc(start_date))
        else:
            candidate = self._following(_utc(last.end))
        if not catchup:
            if now is None:
                raise ValueError("now is required when catchup is False")
            latest = self._latest_complete(_utc(now), anchor=candidate)
            if latest is not None and latest.start > candidate.start:
                candidate = latest
        if end_date is not None and candidate.start > _utc(end_date):
            return None
        return candidate


@dataclass(frozen=True, slots=True)
class CronTimetable(_PeriodicTimetable):
    """A cron expression or preset: intervals run between consecutive ticks in the DAG's time zone."""

    cron: Cron

    @property
    def summary(self) -> str | None:
        """The cron expression or preset as written."""
        return self.cron.expression

    def _first(self, start_date: datetime) -> DataInterval:
        return self._following(next_tick(self.cron, start_date - _MICROSECOND))

    def _following(self, start: datetime) -> DataInterval:
        return _interval(start, next_tick(self.cron, start))

    def _latest_complete(self, now: datetime, *, anchor: DataInterval) -> DataInterval | None:
        # Ticks lie on one global grid, so the anchor does not matter.
        end = last_tick(self.cron, now)
        return _interval(last_tick(self.cron, end - _MICROSECOND), end)

    def infer_manual_data_interval(self, logical_date: datetime) -> DataInterval:
        """The last complete interval: between the two latest ticks at or before the logical date."""
        end = last_tick(self.cron, _utc(logical_date))
        return _interval(last_tick(self.cron, end - _MICROSECOND), end)

    def to_dict(self) -> dict[str, Any]:
        """Expression as written and time zone."""
        return {"type": "cron", "expression": self.cron.expression, "timezone": self.cron.timezone}


@dataclass(frozen=True, slots=True)
class DeltaTimetable(_PeriodicTimetable):
    """A fixed duration: intervals start at start_date and step by `delta` in absolute (UTC) time."""

    delta: timedelta

    @property
    def summary(self) -> str | None:
        """The duration in ISO-8601 (PT10M, P1D...)."""
        return duration_to_iso(self.delta)

    def _first(self, start_date: datetime) -> DataInterval:
        return self._following(start_date)

    def _following(self, start: datetime) -> DataInterval:
        return _interval(start, start + self.delta)

    def _latest_complete(self, now: datetime, *, anchor: DataInterval) -> DataInterval | None:
        complete = (now - _utc(anchor.start)) // self.delta
        if complete < 1:
            return None
        return self._following(_utc(anchor.start) + (complete - 1) * self.delta)

    def infer_manual_data_interval(self, logical_date: datetime) -> DataInterval:
        """The duration ending at the logical date (a manual run knows no start_date to align to)."""
        end = _utc(logical_date)
        return _interval(end - self.delta, end)

    def to_dict(self) -> dict[str, Any]:
        """The duration in whole microseconds, which is exact."""
        return {"type": "delta", "microseconds": self.delta // _MICROSECOND}


def timetable_for(schedule: object, *, timezone: str) -> Timetable:
    """The timetable for a DAG's `schedule`; InvalidSchedule names a bad one and says why."""
    if schedule is None:
        return NullTimetable()
    if isinstance(schedule, Timetable):
        return schedule
    if isinstance(schedule, timedelta):
        return DeltaTimetable(_absolute_duration(schedule))
    if isinstance(schedule, str):
        if schedule.strip() == "@once":
            return OnceTimetable()
        return CronTimetable(parse_cron(schedule, timezone=timezone))
    raise InvalidSchedule(
        f"schedule {schedule!r} is a {type(schedule).__name__}; "
        "expected a cron expression, a preset such as '@daily', a timedelta or None"
    )


def timetable_from_dict(data: dict[str, Any]) -> Timetable:
    """Rebuild a timetable from Timetable.to_dict's output."""
    kind = data.get("type")
    if kind == "null":
        return NullTimetable()
    if kind == "once":
        return OnceTimetable()
    if kind == "cron":
        return CronTimetable(parse_cron(data["expression"], timezone=data["timezone"]))
    if kind == "delta":
        return DeltaTimetable(_absolute_duration(timedelta(microseconds=data["microseconds"])))
    raise InvalidSchedule(f"serialized timetable {data!r} has an unknown type")


def next_dagrun_info(
    timetable: Timetable,
    *,
    last: DataInterval | None,
    start_date: datetime | None,
    end_date: datetime | None,
    catchup: bool,
    now: datetime,
) -> DataInterval | None:
    """The next interval the scheduler will create (maybe in the future), for the `dag` row's next_dagrun."""
    return timetable.next_dagrun_info(last=last, start_date=start_date, end_date=end_date, catchup=catchup, now=now)


def due_intervals(
    timetable: Timetable,
    *,
    last: DataInterval | None,
    start_date: datetime | None,
    end_date: datetime | None,
    catchup: bool,
    now: datetime,
    limit: int | None = None,
) -> list[DataInterval]:
    """Every interval to create at `now`, oldest first (at most `limit`)."""
    due: list[DataInterval] = []
    while limit is None or len(due) < limit:
        interval = timetable.next_interval(
            last=last, start_date=start_date, end_date=end_date, catchup=catchup, now=now
        )
        if interval is None:
            break
        due.append(interval)
        last = interval
    return due


def upcoming_intervals(
    timetable: Timetable,
    *,
    start_date: datetime | None,
    end_date: datetime | None,
    after: DataInterval | None,
    n: int,
) -> list[DataInterval]:
    """The next `n` intervals after `after` (or from start_date), whatever the time now."""
    upcoming: list[DataInterval] = []
    while len(upcoming) < n:
        interval = timetable.next_dagrun_info(
            last=after, start_date=start_date, end_date=end_date, catchup=True, now=None
        )
        if interval is None:
            break
        upcoming.append(interval)
        after = interval
    return upcoming


def infer_manual_data_interval(timetable: Timetable, logical_date: datetime) -> DataInterval:
    """The data interval of a manual run at `logical_date` (the last complete one; empty without a period)."""
    return timetable.infer_manual_data_interval(logical_date)


def duration_to_iso(delta: timedelta) -> str:
    """A non-negative timedelta as an ISO-8601 duration: PT10M, P1D, PT1H30M, PT0.5S."""
    if delta < timedelta(0):
        raise ValueError(f"negative duration {delta!r} has no ISO-8601 form here")
    whole = _absolute_microseconds(delta)
    days, rest = divmod(whole, 86_400_000_000)
    hours, rest = divmod(rest, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds, micros = divmod(rest, 1_000_000)
    clock = "".join(f"{value}{unit}" for value, unit in ((hours, "H"), (minutes, "M")) if value)
    if seconds or micros:
        clock += f"{seconds}.{micros:06d}".rstrip("0").rstrip(".") + "S"
    date = f"{days}D" if days else ""
    if not date and not clock:
        return "PT0S"
    return f"P{date}" + (f"T{clock}" if clock else "")


def _absolute_microseconds(delta: timedelta) -> int:
    # timedelta's own division: pendulum.Duration overrides arithmetic and attributes.
    return timedelta.__floordiv__(delta, _MICROSECOND)


def _absolute_duration(schedule: timedelta) -> timedelta:
    """A positive plain timedelta, or InvalidSchedule (zero, negative, or calendar months/years)."""
    if getattr(schedule, "years", 0) or getattr(schedule, "months", 0):
        raise InvalidSchedule(
            f"schedule {schedule!r} has calendar months or years, which have no fixed length; "
            "use a cron preset such as '@monthly'"
        )
    delta = timedelta(microseconds=_absolute_microseconds(schedule))
    if delta <= timedelta(0):
        raise InvalidSchedule(f"schedule {schedule!r} is not a positive duration")
    return delta


def _utc(value: datetime) -> datetime:
    """The same instant as a stdlib UTC datetime; naive values are a caller bug."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r} reached flowctl.schedule; localize it first")
    utc = value.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=UTC)


def _interval(start: datetime, end: datetime) -> DataInterval:
    return DataInterval(pendulum.instance(start), pendulum.instance(end))
