"""Cron ticks in an IANA time zone, as UTC instants, with a defined DST behaviour.

Pure core: no clock reads, no I/O; imports only stdlib, pendulum, croniter and
flowctl.exceptions. croniter matches the five fields on naive wall-clock times;
turning a wall time into an instant (DST gaps and folds) is done here, because
croniter's own DST handling is unreliable.

Two rules, so that a job runs at the wall time its author wrote:

- a cron that fires in every hour of the day ("hourly or finer") ticks at every
  instant whose local wall time matches: none inside a DST gap, two in a fold;
- any other cron ticks once per matching wall time: inside a gap at the first
  instant after the gap, inside a fold at its first occurrence. A daily cron
  therefore runs exactly once per local day.

Instants go in and come out as stdlib datetimes in UTC.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

import pendulum
from croniter import CroniterBadDateError, croniter

from flowctl.exceptions import InvalidSchedule

PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
# tzdata never changes a zone's offset twice within a day (DST shifts are months
# apart), so a window of one day holds at most one transition.
_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Cron:
    """A validated cron expression (as written) evaluated in one IANA time zone."""

    expression: str
    timezone: str
    fields: str = field(compare=False, repr=False)
    zone: tzinfo = field(compare=False, repr=False)
    every_hour: bool = field(compare=False, repr=False)


def parse_cron(expression: str, *, timezone: str) -> Cron:
    """Validate a 5-field cron or preset and its time zone; InvalidSchedule says what is wrong."""
    text = expression.strip()
    fields = PRESETS.get(text, text)
    if len(fields.split()) != 5 or not croniter.is_valid(fields):
        raise InvalidSchedule(f"schedule {expression!r} is not a 5-field cron expression or a known preset")
    try:
        zone = zone_named(timezone)
    except (ValueError, KeyError) as exc:
        raise InvalidSchedule(f"schedule {expression!r}: unknown time zone {timezone!r}") from exc
    probe = croniter(fields, datetime(2000, 1, 1))
    try:
        probe.get_next(datetime)
    except CroniterBadDateError as exc:
        raise InvalidSchedule(f"schedule {expression!r} never fires (no date matches it)") from exc
    hours = probe.expanded[1]
    every_hour = hours == ["*"] or len(hours) == 24
    return Cron(text, timezone, fields=fields, zone=zone, every_hour=every_hour)


# A fixed UTC offset, as flowctl.dag_definition names the zone of an aware start_date whose tzinfo has no
# IANA name (pendulum.parse("...+09:00"), datetime.timezone(timedelta(hours=9))).
_FIXED_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")


def zone_named(name: str) -> tzinfo:
    """The zone for an IANA name or a fixed offset "+HH:MM" / "-HH:MM" (pendulum.timezone rejects those)."""
    match = _FIXED_OFFSET.fullmatch(name)
    if match is None:
        return pendulum.timezone(name)
    seconds = int(match[2]) * 3600 + int(match[3]) * 60
    return pendulum.fixed_timezone(-seconds if match[1] == "-" else seconds)


def next_tick(cron: Cron, after: datetime) -> datetime:
    """The first tick strictly after the UTC instant `after`."""
    if cron.every_hour:
        return _next_matching_instant(cron, after)
    return _next_wall_tick(cron, after)


def last_tick(cron: Cron, at: datetime) -> datetime:
    """The last tick at or before the UTC instant `at`."""
    if cron.every_hour:
        return _last_matching_instant(cron, at)
    return _last_wall_tick(cron, at)


def _offset(zone: tzinfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _wall(instant: datetime, offset: timedelta) -> datetime:
    return (instant + offset).replace(tzinfo=None)


def _instant(wall: datetime, offset: timedelta) -> datetime:
    return (wall - offset).replace(tzinfo=UTC)


def _transition(zone: tzinfo, after: datetime, until: datetime) -> datetime:
    """The instant in (after, until] at which the offset becomes the one in force at `until`."""
    target = _offset(zone, until)
    # Transitions fall on whole seconds, so bisecting over epoch seconds is exact.
    low, high = math.floor(after.timestamp()), math.ceil(until.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(zone, datetime.fromtimestamp(middle, UTC)) == target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _resolve(zone: tzinfo, wall: datetime) -> datetime:
    """When a wall time fires: its only or first occurrence, or the end of the gap it falls in."""
    first = wall.replace(tzinfo=zone).utcoffset()
    second = wall.replace(tzinfo=zone, fold=1).utcoffset()
    assert first is not None and second is not None
    if first >= second:  # equal: an ordinary time; greater: a fold, whose first pass has the larger offset
        return _instant(wall, first)
    return _transition(zone, _instant(wall, second), _instant(wall, first))


def _next_wall_tick(cron: Cron, after: datetime) -> datetime:
    walls = croniter(cron.fields, _wall(after, _offset(cron.zone, after)))
    while True:
        # _resolve is monotonic in the wall time, but during a fold's second pass the
        # first few wall times after ours resolve to the first pass, i.e. the past.
        tick = _resolve(cron.zone, walls.get_next(datetime))
        if tick > after:
            return tick


def _last_wall_tick(cron: Cron, at: datetime) -> datetime:
    local = at.astimezone(cron.zone)
    # During a fold's second pass, later wall times of the first pass are already past.
    first_pass = local.replace(fold=0).utcoffset()
    current = local.utcoffset()
    assert first_pass is not None and current is not None
    start = local.replace(tzinfo=None) + max(first_pass - current, timedelta(0)) + _TICK
    walls = croniter(cron.fields, start)
    while True:
        tick = _resolve(cron.zone, walls.get_prev(datetime))
        if tick <= at:
            return tick


def _next_matching_instant(cron: Cron, after: datetime) -> datetime:
    # Walk segments of constant offset: inside one, instants and wall times map one to one.
    cursor, inclusive = after, False
    while True:
        offset = _offset(cron.zone, cursor)
        wall = _wall(cursor, offset) - (_TICK if inclusive else timedelta(0))
        tick = _instant(croniter(cron.fields, wall).get_next(datetime), offset)
        horizon = min(tick, cursor + _DAY)
        if _offset(cron.zone, horizon) != offset:
            cursor, inclusive = _transition(cron.zone, cursor, horizon), True
        elif tick == horizon:
            return tick
        else:
            # No offset change for a day and no match before `tick`: every instant up to a day
            # before it has a wall time strictly between ours and the match, so skip them.
            cursor, inclusive = max(cursor + _DAY, tick - _DAY), False


def _last_matching_instant(cron: Cron, at: datetime) -> datetime:
    # The mirror image of _next_matching_instant, walking backwards.
    cursor, inclusive = at, True
    while True:
        edge = cursor if inclusive else cursor - _TICK
        offset = _offset(cron.zone, edge)
        wall = _wall(cursor, offset) + (_TICK if inclusive else timedelta(0))
        tick = _instant(croniter(cron.fields, wall).get_prev(datetime), offset)
        horizon = max(tick, cursor - _DAY)
        if _offset(cron.zone, horizon) != offset:
            cursor, inclusive = _transition(cron.zone, horizon, edge), False
        elif tick == horizon:
            return tick
        else:
            cursor, inclusive = min(cursor - _DAY, tick + _DAY), True
