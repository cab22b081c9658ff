"""How values look on pages: times in the UI's time zone (with a UTC switch done in the browser),
durations, state names; plus the Jinja filters and globals every template uses."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pendulum
from flask import Flask, current_app
from markupsafe import Markup, escape

from flowctl.roles import Role
from flowctl.web.security import here

STATES = (
    "success",
    "running",
    "failed",
    "upstream_failed",
    "skipped",
    "up_for_retry",
    "up_for_reschedule",
    "queued",
    "scheduled",
    "restarting",
    "removed",
    "none",
)


ZONE_EXTENSION = "flowctl_ui_zone"
# An ISO 8601 instant with its offset, as the scheduler writes into texts such as "retry at ...".
_ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)")


def init_app(app: Flask, ui_timezone: str) -> None:
    zone = pendulum.timezone(ui_timezone)
    app.extensions[ZONE_EXTENSION] = zone
    app.jinja_env.filters["when"] = lambda value: when(value, zone)
    app.jinja_env.filters["with_times"] = lambda text: with_times(text, zone)
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.globals["ui_timezone"] = ui_timezone
    app.jinja_env.globals["STATES"] = STATES
    app.jinja_env.globals["Role"] = Role
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    app.jinja_env.globals["here"] = here


def when(value: datetime | None, zone: Any) -> Markup:
    """A <time> element: the instant in the UI zone; the page script can show it in UTC instead."""
    parts = time_parts(value, zone)
    if parts is None:
        return Markup('<span class="muted">-</span>')
    return Markup('<time datetime="{iso}" data-utc="{utc}" data-local="{local}">{local}</time>').format(**parts)


def time_parts(value: datetime | None, zone: Any = None) -> dict[str, str] | None:
    """What `when` shows of an instant, for the page scripts that refresh times: {iso, utc, local}.
    `zone` defaults to the app's UI time zone."""
    if value is None:
        return None
    utc = pendulum.instance(value).in_timezone("UTC")
    local = utc.in_timezone(zone if zone is not None else current_app.extensions[ZONE_EXTENSION])
    return {
        "iso": utc.isoformat(),
        "utc": utc.format("YYYY-MM-DD HH:mm:ss") + " UTC",
        "local": local.format("YYYY-MM-DD HH:mm:ss zz"),
    }


def with_times(text: str, zone: Any) -> Markup:
    """`text` escaped, with each ISO 8601 instant in it shown as `when` shows times (so in the UI time
    zone, and following the UTC switch) rather than as raw UTC."""
    shown, last = Markup(""), 0
    for match in _ISO_INSTANT.finditer(text):
        try:
            instant = datetime.fromisoformat(match.group().replace("Z", "+00:00"))
        except ValueError:
            continue
        shown += escape(text[last : match.start()]) + when(instant, zone)
        last = match.end()
    return shown + escape(text[last:])


def duration(seconds: float | None) -> str:
    """3.2s, 4m 05s, 2h 03m, 3d 04h."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"
