"""Properties of timetables over random zones, crons and durations, checked against brute-force oracles."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, date, datetime, timedelta

import pendulum
from hypothesis import given, settings
from hypothesis import strategies as st

from flowctl.cron import last_tick, next_tick, parse_cron
from flowctl.schedule import (
    DataInterval,
    due_intervals,
    infer_manual_data_interval,
    timetable_for,
    timetable_from_dict,
    upcoming_intervals,
)

FAST = settings(max_examples=int(os.environ.get("FLOWCTL_SCHEDULE_EXAMPLES", 100)), deadline=None)
SLOW = settings(max_examples=int(os.environ.get("FLOWCTL_SCHEDULE_EXAMPLES", 100)) // 4, deadline=None)

ZONES = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Seoul", "UTC"]
# DST transitions of 2024 (UTC), so that windows often straddle one.
TRANSITIONS = [
    datetime(2024, 3, 10, 7, tzinfo=UTC),  # New York, spring
    datetime(2024, 11, 3, 6, tzinfo=UTC),  # New York, fall
    datetime(2024, 3, 31, 1, tzinfo=UTC),  # London, spring
    datetime(2024, 10, 27, 1, tzinfo=UTC),  # London, fall
    datetime(2024, 4, 6, 15, tzinfo=UTC),  # Lord Howe, back 30 minutes
    datetime(2024, 10, 5, 15, 30, tzinfo=UTC),  # Lord Howe, forward 30 minutes
]
ALL_HOURS = frozenset(range(24))
EVERY_DAY = frozenset(range(7))
# A small cron grammar, each field with the set it matches, so the oracle needs no cron parser.
MINUTES = {
    "0": {0},
    "30": {30},
    "45": {45},
    "59": {59},
    "*/15": {0, 15, 30, 45},
    "5,35": {5, 35},
    "*/20": {0, 20, 40},
}
HOURS = {
    "*": ALL_HOURS,
    "*/1": ALL_HOURS,
    "0": {0},
    "1": {1},
    "2": {2},
    "1-3": {1, 2, 3},
    "*/2": set(range(0, 24, 2)),
    "0,12": {0, 12},
    "23": {23},
}
WEEKDAYS = {"*": EVERY_DAY, "0": {0}, "1-5": {1, 2, 3, 4, 5}, "6,0": {6, 0}}  # cron: 0 = Sunday

zones = st.sampled_from(ZONES)
cron_parts = st.tuples(
    st.sampled_from(sorted(MINUTES)), st.sampled_from(sorted(HOURS)), st.sampled_from(sorted(WEEKDAYS))
)
near_transitions = st.builds(
    lambda anchor, minutes: anchor + timedelta(minutes=minutes),
    st.sampled_from(TRANSITIONS),
    st.integers(-36 * 60, 36 * 60),
)
anywhere = st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1)).map(lambda d: d.replace(tzinfo=UTC))
instants = near_transitions | anywhere
deltas = st.timedeltas(timedelta(seconds=1), timedelta(days=3))


def cron_text(parts: tuple[str, str, str]) -> str:
    minute, hour, weekday = parts
    return f"{minute} {hour} * * {weekday}"


def wall_matches(parts: tuple[str, str, str], wall: datetime) -> bool:
    minute, hour, weekday = parts
    return (
        wall.second == 0
        and wall.minute in MINUTES[minute]
        and wall.hour in HOURS[hour]
        and (wall.weekday() + 1) % 7 in WEEKDAYS[weekday]
    )


def oracle_ticks(parts: tuple[str, str, str], zone: str, start: datetime, end: datetime) -> list[datetime]:
    """Ticks in (start, end], found by visiting every UTC minute.

    Hourly crons: every minute whose wall time matches. Others: for each matching
    wall time, the first minute whose wall time has reached it (a gap's end, a fold's first pass).
    """
    tz = pendulum.timezone(zone)
    every_hour = HOURS[parts[1]] == ALL_HOURS
    lead = timedelta(hours=3)  # so a fold's first pass before `start` is seen
    minute, reached = start - lead, None
    ticks = []
    while minute <= end:
        wall = minute.astimezone(tz).replace(tzinfo=None)
        if every_hour:
            hit = wall_matches(parts, wall)
        else:
            fresh = [] if reached is None else _minutes_between(reached, wall)
            hit = any(wall_matches(parts, w) for w in fresh)
            reached = wall if reached is None else max(reached, wall)
        if hit and minute > start:
            ticks.append(minute)
        minute += timedelta(minutes=1)
    return ticks


def _minutes_between(after: datetime, until: datetime) -> list[datetime]:
    """Wall minutes in (after, until]."""
    count = int((until - after) / timedelta(minutes=1))
    return [after + timedelta(minutes=i) for i in range(1, count + 1)]


def ticks_between(cron_expression: str, zone: str, start: datetime, end: datetime) -> list[datetime]:
    cron = parse_cron(cron_expression, timezone=zone)
    ticks, tick = [], next_tick(cron, start)
    while tick <= end:
        ticks.append(tick)
        tick = next_tick(cron, tick)
    return ticks


def assert_tiling(intervals: list[DataInterval]) -> None:
    for earlier, later in itertools.pairwise(intervals):
        assert earlier.start < earlier.end == later.start < later.end
    for value in [i.start for i in intervals] + [i.end for i in intervals]:
        assert isinstance(value, pendulum.DateTime)
        assert value.utcoffset() == timedelta(0)


@SLOW
@given(cron_parts, zones, near_transitions)
def test_cron_ticks_equal_a_minute_by_minute_oracle(parts: tuple[str, str, str], zone: str, start: datetime) -> None:
    end = start + timedelta(hours=10)

    assert ticks_between(cron_text(parts), zone, start, end) == oracle_ticks(parts, zone, start, end)


@FAST
@given(cron_parts, zones, instants)
def test_next_and_last_tick_agree(parts: tuple[str, str, str], zone: str, instant: datetime) -> None:
    cron = parse_cron(cron_text(parts), timezone=zone)

    following, latest = next_tick(cron, instant), last_tick(cron, instant)

    assert latest <= instant < following
    assert next_tick(cron, latest) > instant  # no tick in (latest, instant]
    assert last_tick(cron, following) == following
    assert last_tick(cron, following - timedelta(microseconds=1)) <= instant  # none in (instant, following)


@FAST
@given(st.one_of(cron_parts.map(cron_text), deltas), zones, instants)
def test_upcoming_intervals_tile_and_strictly_increase(schedule: object, zone: str, start: datetime) -> None:
    timetable = timetable_for(schedule, timezone=zone)

    intervals = upcoming_intervals(timetable, start_date=start, end_date=None, after=None, n=25)

    assert len(intervals) == 25
    assert intervals[0].start >= start
    assert_tiling(intervals)


@FAST
@given(deltas, instants)
def test_delta_intervals_are_exactly_delta_long_from_start_date(delta: timedelta, start: datetime) -> None:
    intervals = upcoming_intervals(
        timetable_for(delta, timezone="UTC"), start_date=start, end_date=None, after=None, n=5
    )

    assert [i.start for i in intervals] == [start + k * delta for k in range(5)]
    assert all(i.end - i.start == delta for i in intervals)


@SLOW
@given(zones, st.integers(0, 23), st.integers(0, 59), st.integers(2020, 2030))
def test_daily_cron_runs_exactly_once_per_local_date_for_a_year(zone: str, hour: int, minute: int, year: int) -> None:
    timetable = timetable_for(f"{minute} {hour} * * *", timezone=zone)
    start = pendulum.datetime(year, 1, 1, tz=zone)

    intervals = upcoming_intervals(timetable, start_date=start, end_date=None, after=None, n=366)

    local_dates = [i.start.in_timezone(zone).date() for i in intervals]
    assert local_dates == [date(year, 1, 1) + timedelta(days=k) for k in range(366)]
    assert_tiling(intervals)


@FAST
@given(st.one_of(cron_parts.map(cron_text), deltas), zones, instants, st.integers(0, 4 * 24 * 60))
def test_catchup_never_returns_an_interval_ending_after_now(
    schedule: object, zone: str, start: datetime, minutes_later: int
) -> None:
    timetable = timetable_for(schedule, timezone=zone)
    now = start + timedelta(minutes=minutes_later)

    caught_up = due_intervals(timetable, last=None, start_date=start, end_date=None, catchup=True, now=now, limit=500)
    latest = due_intervals(timetable, last=None, start_date=start, end_date=None, catchup=False, now=now)

    assert all(i.end <= now for i in caught_up)
    assert_tiling(caught_up)
    if len(caught_up) < 500:
        assert latest == caught_up[-1:]


@FAST
@given(cron_parts, zones, instants)
def test_manual_interval_is_the_last_complete_one(
    parts: tuple[str, str, str], zone: str, logical_date: datetime
) -> None:
    timetable = timetable_for(cron_text(parts), timezone=zone)
    cron = parse_cron(cron_text(parts), timezone=zone)

    manual = infer_manual_data_interval(timetable, logical_date)

    assert manual.end <= logical_date < next_tick(cron, manual.end)
    assert next_tick(cron, manual.start) == manual.end


@FAST
@given(st.one_of(st.none(), st.just("@once"), cron_parts.map(cron_text), deltas), zones)
def test_to_dict_round_trips(schedule: object, zone: str) -> None:
    timetable = timetable_for(schedule, timezone=zone)

    assert timetable_from_dict(timetable.to_dict()) == timetable
