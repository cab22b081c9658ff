"""Scheduling semantics by example (SPEC §4): intervals, catchup, end_date, time zones, DST, manual runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pendulum
import pytest
from croniter import croniter

from flowctl.cron import last_tick, next_tick, parse_cron
from flowctl.exceptions import InvalidSchedule
from flowctl.schedule import (
    CronTimetable,
    DataInterval,
    DeltaTimetable,
    NullTimetable,
    OnceTimetable,
    Timetable,
    due_intervals,
    duration_to_iso,
    infer_manual_data_interval,
    next_dagrun_info,
    timetable_for,
    timetable_from_dict,
    upcoming_intervals,
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def local(zone: str, *parts: int) -> pendulum.DateTime:
    return pendulum.datetime(*parts, tz=zone)


def interval(start: datetime, end: datetime) -> DataInterval:
    return DataInterval(start, end)


def daily(hour: int, *, days: int, first: tuple[int, int, int] = (2024, 1, 1)) -> list[DataInterval]:
    """`days` consecutive UTC days at `hour`, starting on `first`."""
    start = utc(*first, hour)
    return [interval(start + timedelta(days=i), start + timedelta(days=i + 1)) for i in range(days)]


def ticks_from(schedule: str, zone: str, start: datetime, *, n: int) -> list[tuple[pendulum.DateTime, str]]:
    """The next `n` interval starts from `start`, each with its local wall time as ISO text."""
    intervals = upcoming_intervals(
        timetable_for(schedule, timezone=zone), start_date=start, end_date=None, after=None, n=n
    )
    return [(i.start, i.start.in_timezone(zone).isoformat()) for i in intervals]


# --- building timetables -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "kind", "summary"),
    [
        (None, NullTimetable, None),
        ("@once", OnceTimetable, "@once"),
        ("@daily", CronTimetable, "@daily"),
        ("@annually", CronTimetable, "@annually"),
        ("0 2 * * *", CronTimetable, "0 2 * * *"),
        ("*/5 9-17 * * MON-FRI", CronTimetable, "*/5 9-17 * * MON-FRI"),
        (timedelta(minutes=10), DeltaTimetable, "PT10M"),
        (timedelta(days=1), DeltaTimetable, "P1D"),
        (timedelta(hours=1, minutes=30), DeltaTimetable, "PT1H30M"),
        (pendulum.duration(days=2, seconds=1), DeltaTimetable, "P2DT1S"),
    ],
)
def test_timetable_for_accepts_every_schedule_form(schedule: object, kind: type, summary: str | None) -> None:
    timetable = timetable_for(schedule, timezone="Asia/Seoul")

    assert type(timetable) is kind
    assert timetable.summary == summary
    assert timetable.periodic == (kind in (CronTimetable, DeltaTimetable))


@pytest.mark.parametrize(
    ("schedule", "reason"),
    [
        ("61 * * * *", "not a 5-field cron"),
        ("* * * *", "not a 5-field cron"),
        ("0 0 * * * *", "not a 5-field cron"),
        ("@fortnightly", "not a 5-field cron"),
        ("", "not a 5-field cron"),
        ("0 0 31 2 *", "never fires"),
        (timedelta(0), "not a positive duration"),
        (timedelta(minutes=-5), "not a positive duration"),
        (pendulum.duration(months=1), "calendar months"),
        (42, "is a int"),
        (["0 2 * * *"], "is a list"),
    ],
)
def test_timetable_for_refuses_a_bad_schedule_naming_it_and_why(schedule: object, reason: str) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        timetable_for(schedule, timezone="UTC")

    message = str(caught.value)
    assert "\n" not in message
    assert repr(schedule) in message
    assert reason in message


def test_timetable_for_refuses_an_unknown_time_zone_for_a_cron() -> None:
    with pytest.raises(InvalidSchedule, match="unknown time zone 'Mars/Olympus'"):
        timetable_for("0 2 * * *", timezone="Mars/Olympus")


@pytest.mark.parametrize(
    "schedule", [None, "@once", "@daily", "30 1 * * *", timedelta(minutes=10), timedelta(microseconds=7)]
)
def test_to_dict_is_json_and_round_trips(schedule: object) -> None:
    timetable = timetable_for(schedule, timezone="Europe/London")

    data = json.loads(json.dumps(timetable.to_dict()))

    assert timetable_from_dict(data) == timetable
    assert timetable_from_dict(data).summary == timetable.summary


def test_timetable_from_dict_refuses_an_unknown_type() -> None:
    with pytest.raises(InvalidSchedule, match="unknown type"):
        timetable_from_dict({"type": "lunar"})


@pytest.mark.parametrize(
    ("delta", "iso"),
    [
        (timedelta(0), "PT0S"),
        (timedelta(minutes=10), "PT10M"),
        (timedelta(days=1), "P1D"),
        (timedelta(hours=1, minutes=30), "PT1H30M"),
        (timedelta(days=1, hours=2), "P1DT2H"),
        (timedelta(seconds=90), "PT1M30S"),
        (timedelta(milliseconds=500), "PT0.5S"),
        (timedelta(days=400, microseconds=1), "P400DT0.000001S"),
    ],
)
def test_duration_to_iso(delta: timedelta, iso: str) -> None:
    assert duration_to_iso(delta) == iso


def test_a_naive_datetime_is_refused() -> None:
    timetable = timetable_for("@daily", timezone="UTC")

    with pytest.raises(ValueError, match="naive"):
        due_intervals(
            timetable,
            last=None,
            start_date=datetime(2024, 1, 1),
            end_date=None,
            catchup=True,
            now=utc(2024, 2, 1),
        )


# --- when runs are due ---------------------------------------------------------------------------

SEOUL_START = local("Asia/Seoul", 2024, 1, 1)  # 2023-12-31 15:00 UTC
THREE_DAYS_LATER = utc(2024, 1, 4)  # 09:00 KST


@pytest.mark.parametrize(
    ("catchup", "expected"),
    [
        (True, daily(17, days=3, first=(2023, 12, 31))),
        (False, daily(17, days=1, first=(2024, 1, 2))),
    ],
)
def test_daily_cron_in_seoul_ticks_at_0200_kst_which_is_1700_utc_the_day_before(
    catchup: bool, expected: list[DataInterval]
) -> None:
    timetable = timetable_for("0 2 * * *", timezone="Asia/Seoul")

    due = due_intervals(
        timetable, last=None, start_date=SEOUL_START, end_date=None, catchup=catchup, now=THREE_DAYS_LATER
    )

    assert due == expected
    assert [i.start.in_timezone("Asia/Seoul").format("MM-DD HH:mm") for i in due][:1] == [
        "01-01 02:00" if catchup else "01-03 02:00"
    ]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2024, 1, 1, 10, 9, 59), []),
        (utc(2024, 1, 1, 10, 10), [interval(utc(2024, 1, 1, 10), utc(2024, 1, 1, 10, 10))]),
        (
            utc(2024, 1, 1, 10, 25),
            [
                interval(utc(2024, 1, 1, 10), utc(2024, 1, 1, 10, 10)),
                interval(utc(2024, 1, 1, 10, 10), utc(2024, 1, 1, 10, 20)),
            ],
        ),
    ],
)
def test_ten_minute_delta_first_run_covers_1000_to_1010_and_is_due_at_1010(
    now: datetime, expected: list[DataInterval]
) -> None:
    timetable = timetable_for(timedelta(minutes=10), timezone="UTC")

    due = due_intervals(timetable, last=None, start_date=utc(2024, 1, 1, 10), end_date=None, catchup=True, now=now)

    assert due == expected


def test_delta_without_catchup_runs_only_the_latest_interval_on_the_start_date_grid() -> None:
    timetable = timetable_for(timedelta(minutes=10), timezone="UTC")

    due = due_intervals(
        timetable,
        last=None,
        start_date=utc(2024, 1, 1, 10),
        end_date=None,
        catchup=False,
        now=utc(2024, 1, 1, 10, 25),
    )

    assert due == [interval(utc(2024, 1, 1, 10, 10), utc(2024, 1, 1, 10, 20))]


def test_delta_intervals_are_absolute_durations_across_dst() -> None:
    timetable = timetable_for(timedelta(hours=1), timezone="America/New_York")
    start = local("America/New_York", 2024, 3, 10, 1)  # 06:00 UTC; the clocks jump at 07:00 UTC

    due = upcoming_intervals(timetable, start_date=start, end_date=None, after=None, n=3)

    assert [i.start for i in due] == [utc(2024, 3, 10, 6), utc(2024, 3, 10, 7), utc(2024, 3, 10, 8)]


@pytest.mark.parametrize(
    ("now", "last", "expected"),
    [
        (utc(2024, 1, 1, 9, 59), None, []),
        (utc(2024, 1, 1, 10), None, [interval(utc(2024, 1, 1, 10), utc(2024, 1, 1, 10))]),
        (utc(2024, 6, 1), None, [interval(utc(2024, 1, 1, 10), utc(2024, 1, 1, 10))]),
        (utc(2024, 6, 1), interval(utc(2024, 1, 1, 10), utc(2024, 1, 1, 10)), []),
    ],
)
def test_once_runs_a_single_empty_interval_at_start_date(
    now: datetime, last: DataInterval | None, expected: list[DataInterval]
) -> None:
    timetable = timetable_for("@once", timezone="UTC")

    for catchup in (True, False):
        due = due_intervals(
            timetable, last=last, start_date=utc(2024, 1, 1, 10), end_date=None, catchup=catchup, now=now
        )
        assert due == expected


def test_none_schedule_never_has_a_due_run() -> None:
    timetable = timetable_for(None, timezone="UTC")

    assert (
        due_intervals(
            timetable, last=None, start_date=utc(2024, 1, 1), end_date=None, catchup=True, now=utc(2030, 1, 1)
        )
        == []
    )
    assert (
        next_dagrun_info(
            timetable, last=None, start_date=utc(2024, 1, 1), end_date=None, catchup=True, now=utc(2030, 1, 1)
        )
        is None
    )


@pytest.mark.parametrize(
    ("catchup", "expected"),
    [(True, daily(0, days=3)), (False, daily(0, days=1, first=(2024, 1, 3)))],
)
def test_catchup_creates_every_missed_interval_and_no_catchup_only_the_latest(
    catchup: bool, expected: list[DataInterval]
) -> None:
    timetable = timetable_for("@daily", timezone="UTC")

    due = due_intervals(
        timetable,
        last=None,
        start_date=utc(2024, 1, 1),
        end_date=None,
        catchup=catchup,
        now=utc(2024, 1, 4, 0, 30),
    )

    assert due == expected


def test_catchup_resumes_after_the_last_run() -> None:
    timetable = timetable_for("@daily", timezone="UTC")
    last = interval(utc(2024, 1, 1), utc(2024, 1, 2))

    due = due_intervals(
        timetable, last=last, start_date=utc(2024, 1, 1), end_date=None, catchup=True, now=utc(2024, 1, 4)
    )

    assert due == daily(0, days=2, first=(2024, 1, 2))


def test_limit_caps_the_number_of_due_intervals() -> None:
    timetable = timetable_for("@hourly", timezone="UTC")

    due = due_intervals(
        timetable,
        last=None,
        start_date=utc(2024, 1, 1),
        end_date=None,
        catchup=True,
        now=utc(2024, 2, 1),
        limit=5,
    )

    assert [i.start for i in due] == [utc(2024, 1, 1, h) for h in range(5)]


def test_start_date_off_the_cron_grid_starts_at_the_next_tick() -> None:
    timetable = timetable_for("0 */6 * * *", timezone="UTC")

    info = next_dagrun_info(
        timetable,
        last=None,
        start_date=utc(2024, 1, 1, 7, 15),
        end_date=None,
        catchup=True,
        now=utc(2024, 1, 1, 8),
    )

    assert info == interval(utc(2024, 1, 1, 12), utc(2024, 1, 1, 18))


@pytest.mark.parametrize(
    ("last", "catchup", "expected"),
    [
        # Nothing complete yet: the first interval, due in the future.
        (None, False, interval(utc(2024, 1, 1), utc(2024, 1, 2))),
        (None, True, interval(utc(2024, 1, 1), utc(2024, 1, 2))),
        # Without catchup, a stale last run jumps to the latest complete interval.
        (interval(utc(2023, 6, 1), utc(2023, 6, 2)), False, interval(utc(2023, 12, 31), utc(2024, 1, 1))),
        (interval(utc(2023, 6, 1), utc(2023, 6, 2)), True, interval(utc(2023, 6, 2), utc(2023, 6, 3))),
    ],
)
def test_next_dagrun_info_is_the_next_interval_to_create(
    last: DataInterval | None, catchup: bool, expected: DataInterval
) -> None:
    timetable = timetable_for("@daily", timezone="UTC")
    start_date = utc(2024, 1, 1) if last is None else utc(2023, 1, 1)

    info = next_dagrun_info(
        timetable, last=last, start_date=start_date, end_date=None, catchup=catchup, now=utc(2024, 1, 1, 12)
    )

    assert info == expected


def test_start_date_moved_past_the_last_run_wins() -> None:
    timetable = timetable_for("@daily", timezone="UTC")
    last = interval(utc(2024, 1, 1), utc(2024, 1, 2))

    info = next_dagrun_info(
        timetable, last=last, start_date=utc(2024, 3, 1), end_date=None, catchup=True, now=utc(2024, 6, 1)
    )

    assert info == interval(utc(2024, 3, 1), utc(2024, 3, 2))


@pytest.mark.parametrize("schedule", ["@daily", timedelta(days=1)])
def test_end_date_stops_runs_whose_logical_date_is_after_it(schedule: object) -> None:
    timetable = timetable_for(schedule, timezone="UTC")

    due = due_intervals(
        timetable,
        last=None,
        start_date=utc(2024, 1, 1),
        end_date=utc(2024, 1, 3),
        catchup=True,
        now=utc(2024, 2, 1),
    )

    assert [i.start for i in due] == [utc(2024, 1, 1), utc(2024, 1, 2), utc(2024, 1, 3)]
    assert (
        next_dagrun_info(
            timetable,
            last=due[-1],
            start_date=utc(2024, 1, 1),
            end_date=utc(2024, 1, 3),
            catchup=True,
            now=utc(2024, 2, 1),
        )
        is None
    )


def test_end_date_before_the_latest_interval_means_no_run_without_catchup() -> None:
    timetable = timetable_for("@daily", timezone="UTC")

    due = due_intervals(
        timetable,
        last=None,
        start_date=utc(2024, 1, 1),
        end_date=utc(2024, 1, 3),
        catchup=False,
        now=utc(2024, 2, 1),
    )

    assert due == []


def test_upcoming_intervals_continue_after_the_given_interval_and_respect_end_date() -> None:
    timetable = timetable_for("@daily", timezone="UTC")
    after = interval(utc(2024, 1, 1), utc(2024, 1, 2))

    upcoming = upcoming_intervals(timetable, start_date=utc(2024, 1, 1), end_date=utc(2024, 1, 4), after=after, n=5)

    assert upcoming == daily(0, days=3, first=(2024, 1, 2))


def test_everything_returned_is_utc_pendulum() -> None:
    timetable = timetable_for("0 2 * * *", timezone="Asia/Seoul")

    due = due_intervals(timetable, last=None, start_date=SEOUL_START, end_date=None, catchup=True, now=THREE_DAYS_LATER)

    for value in [i.start for i in due] + [i.end for i in due]:
        assert isinstance(value, pendulum.DateTime)
        assert value.utcoffset() == timedelta(0)
        assert value.timezone_name == "UTC"


# --- DST -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "zone", "start", "expected"),
    [
        # New York springs forward at 02:00 -> 03:00 on 2024-03-10: 02:30 does not exist.
        (
            "30 2 * * *",
            "America/New_York",
            (2024, 3, 9),
            ["2024-03-09T02:30:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"],
        ),
        (
            "30 1 * * *",
            "America/New_York",
            (2024, 3, 9),
            ["2024-03-09T01:30:00-05:00", "2024-03-10T01:30:00-05:00", "2024-03-11T01:30:00-04:00"],
        ),
        # ...and falls back at 02:00 -> 01:00 on 2024-11-03: 01:30 happens twice, runs at the first.
        (
            "30 1 * * *",
            "America/New_York",
            (2024, 11, 2),
            ["2024-11-02T01:30:00-04:00", "2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"],
        ),
        (
            "30 2 * * *",
            "America/New_York",
            (2024, 11, 2),
            ["2024-11-02T02:30:00-04:00", "2024-11-03T02:30:00-05:00", "2024-11-04T02:30:00-05:00"],
        ),
        # London: 01:00 -> 02:00 on 2024-03-31, 02:00 -> 01:00 on 2024-10-27.
        (
            "30 1 * * *",
            "Europe/London",
            (2024, 3, 30),
            ["2024-03-30T01:30:00+00:00", "2024-03-31T02:00:00+01:00", "2024-04-01T01:30:00+01:00"],
        ),
        (
            "30 2 * * *",
            "Europe/London",
            (2024, 3, 30),
            ["2024-03-30T02:30:00+00:00", "2024-03-31T02:30:00+01:00", "2024-04-01T02:30:00+01:00"],
        ),
        (
            "30 1 * * *",
            "Europe/London",
            (2024, 10, 26),
            ["2024-10-26T01:30:00+01:00", "2024-10-27T01:30:00+01:00", "2024-10-28T01:30:00+00:00"],
        ),
        (
            "30 2 * * *",
            "Europe/London",
            (2024, 10, 26),
            ["2024-10-26T02:30:00+01:00", "2024-10-27T02:30:00+00:00", "2024-10-28T02:30:00+00:00"],
        ),
        # Lord Howe Island shifts by 30 minutes: 02:00 -> 02:30 on 2024-10-06, 02:00 -> 01:30 on 2024-04-07.
        (
            "15 2 * * *",
            "Australia/Lord_Howe",
            (2024, 10, 5),
            ["2024-10-05T02:15:00+10:30", "2024-10-06T02:30:00+11:00", "2024-10-07T02:15:00+11:00"],
        ),
        (
            "45 1 * * *",
            "Australia/Lord_Howe",
            (2024, 4, 6),
            ["2024-04-06T01:45:00+11:00", "2024-04-07T01:45:00+11:00", "2024-04-08T01:45:00+10:30"],
        ),
    ],
)
def test_daily_cron_runs_once_per_local_day_across_dst(
    schedule: str, zone: str, start: tuple[int, int, int], expected: list[str]
) -> None:
    ticks = ticks_from(schedule, zone, local(zone, *start), n=3)

    assert [wall for _, wall in ticks] == expected


def test_nonexistent_time_fires_at_the_first_instant_after_the_gap() -> None:
    ticks = ticks_from("30 2 * * *", "America/New_York", local("America/New_York", 2024, 3, 10), n=1)

    assert ticks[0][0] == utc(2024, 3, 10, 7)


@pytest.mark.parametrize(
    ("schedule", "zone", "start", "expected"),
    [
        # Hourly-or-finer crons tick at every instant whose wall time matches: none in a gap...
        (
            "0 * * * *",
            "America/New_York",
            local("America/New_York", 2024, 3, 10, 0),
            ["00:00-05:00", "01:00-05:00", "03:00-04:00", "04:00-04:00"],
        ),
        (
            "30 * * * *",
            "America/New_York",
            local("America/New_York", 2024, 3, 10, 0),
            ["00:30-05:00", "01:30-05:00", "03:30-04:00", "04:30-04:00"],
        ),
        # ...and both passes of a fold.
        (
            "0 * * * *",
            "America/New_York",
            local("America/New_York", 2024, 11, 3, 0),
            ["00:00-04:00", "01:00-04:00", "01:00-05:00", "02:00-05:00"],
        ),
        (
            "*/30 * * * *",
            "Australia/Lord_Howe",
            local("Australia/Lord_Howe", 2024, 10, 6, 1),
            ["01:00+10:30", "01:30+10:30", "02:30+11:00", "03:00+11:00"],
        ),
        (
            "*/30 * * * *",
            "Australia/Lord_Howe",
            local("Australia/Lord_Howe", 2024, 4, 7, 1),
            ["01:00+11:00", "01:30+11:00", "01:30+10:30", "02:00+10:30"],
        ),
        (
            "*/20 * * * *",
            "Europe/London",
            utc(2024, 10, 27, 0, 40),
            ["01:40+01:00", "01:00+00:00", "01:20+00:00", "01:40+00:00", "02:00+00:00"],
        ),
    ],
)
def test_hourly_cron_ticks_at_every_instant_whose_wall_time_matches(
    schedule: str, zone: str, start: datetime, expected: list[str]
) -> None:
    ticks = ticks_from(schedule, zone, start, n=len(expected))

    assert [wall[11:16] + wall[19:] for _, wall in ticks] == expected  # HH:MM+offset
    assert [t for t, _ in ticks] == sorted({t for t, _ in ticks})


def test_business_hours_cron_fires_once_per_wall_time_in_a_fold() -> None:
    # "0,30 1 * * *" is not hourly: 01:00 and 01:30 run once each, in the first pass.
    ticks = ticks_from("0,30 1 * * *", "America/New_York", local("America/New_York", 2024, 11, 3), n=3)

    assert [wall for _, wall in ticks] == [
        "2024-11-03T01:00:00-04:00",
        "2024-11-03T01:30:00-04:00",
        "2024-11-04T01:00:00-05:00",
    ]


def test_several_wall_times_in_one_gap_fire_once() -> None:
    ticks = ticks_from("*/15 2 * * *", "America/New_York", local("America/New_York", 2024, 3, 10), n=2)

    assert [wall for _, wall in ticks] == ["2024-03-10T03:00:00-04:00", "2024-03-11T02:00:00-04:00"]


def test_sparse_hourly_cron_crosses_transitions_between_its_days() -> None:
    # Every hour of the 1st of each month, New York: Nov 1 is EDT, Dec 1 is EST.
    ticks = ticks_from("0 * 1 * *", "America/New_York", local("America/New_York", 2024, 10, 31), n=26)

    assert ticks[0][1] == "2024-11-01T00:00:00-04:00"
    assert ticks[23][1] == "2024-11-01T23:00:00-04:00"
    assert ticks[24][1] == "2024-12-01T00:00:00-05:00"
    assert all(croniter.match("0 * 1 * *", t.in_timezone("America/New_York").naive()) for t, _ in ticks)


@pytest.mark.parametrize(
    ("schedule", "zone", "at", "expected"),
    [
        # The latest tick at or before `at`; during a fold's second pass that can be a later wall time.
        ("45 1 * * *", "America/New_York", utc(2024, 11, 3, 6, 30), utc(2024, 11, 3, 5, 45)),  # 01:30 EST
        ("45 1 * * *", "America/New_York", utc(2024, 11, 3, 5, 30), utc(2024, 11, 2, 5, 45)),  # 01:30 EDT
        ("30 2 * * *", "America/New_York", utc(2024, 3, 10, 7), utc(2024, 3, 10, 7)),  # the end of the gap
        ("0 * * * *", "America/New_York", utc(2024, 11, 3, 6, 30), utc(2024, 11, 3, 6)),  # 01:00 EST
        ("0 * * * *", "America/New_York", utc(2024, 3, 10, 7, 30), utc(2024, 3, 10, 7)),  # 03:00 EDT
    ],
)
def test_last_tick_at_or_before_an_instant(schedule: str, zone: str, at: datetime, expected: datetime) -> None:
    cron = parse_cron(schedule, timezone=zone)

    assert last_tick(cron, at) == expected
    assert next_tick(cron, expected - timedelta(microseconds=1)) == expected


# --- manual runs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "zone", "logical_date", "expected"),
    [
        ("@daily", "UTC", utc(2024, 1, 3, 12), interval(utc(2024, 1, 2), utc(2024, 1, 3))),
        ("@daily", "UTC", utc(2024, 1, 3), interval(utc(2024, 1, 2), utc(2024, 1, 3))),
        ("0 2 * * *", "Asia/Seoul", utc(2024, 1, 3, 12), interval(utc(2024, 1, 1, 17), utc(2024, 1, 2, 17))),
        (
            "*/10 * * * *",
            "UTC",
            utc(2024, 1, 3, 12, 25),
            interval(utc(2024, 1, 3, 12, 10), utc(2024, 1, 3, 12, 20)),
        ),
        (
            timedelta(hours=1),
            "UTC",
            utc(2024, 1, 3, 12, 30),
            interval(utc(2024, 1, 3, 11, 30), utc(2024, 1, 3, 12, 30)),
        ),
        (None, "UTC", utc(2024, 1, 3, 12), interval(utc(2024, 1, 3, 12), utc(2024, 1, 3, 12))),
        ("@once", "UTC", utc(2024, 1, 3, 12), interval(utc(2024, 1, 3, 12), utc(2024, 1, 3, 12))),
    ],
)
def test_manual_run_gets_the_last_complete_interval(
    schedule: object, zone: str, logical_date: datetime, expected: DataInterval
) -> None:
    timetable: Timetable = timetable_for(schedule, timezone=zone)

    assert infer_manual_data_interval(timetable, logical_date) == expected
