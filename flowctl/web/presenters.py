"""How values look on pages: times in the UI's time zone (with a UTC switch done in the browser),
durations, state names; plus the Jinja filters and globals every template uses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pendulum
from flask import Flask
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


def init_app(app: Flask, ui_timezone: str) -> None:
    zone = pendulum.timezone(ui_timezone)
    app.jinja_env.filters["when"] = lambda value: when(value, zone)
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.globals["ui_timezone"] = ui_timezone
    app.jinja_env.globals["STATES"] = STATES
    app.jinja_env.globals["Role"] = Role
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    app.jinja_env.globals["here"] = here


def when(value: datetime | None, zone: Any) -> Markup:
    """A <time> element: the instant in the UI zone; the page script can show it in UTC instead."""
    if value is None:
        return Markup('<span class="muted">-</span>')
    local = pendulum.instance(value).in_timezone(zone)
    utc = pendulum.instance(value).in_timezone("UTC")
    return Markup('<time datetime="{iso}" data-utc="{utc}" data-local="{local}">{local}</time>').format(
        iso=escape(utc.isoformat()),
        utc=escape(utc.format("YYYY-MM-DD HH:mm:ss") + " UTC"),
        local=escape(local.format("YYYY-MM-DD HH:mm:ss zz")),
    )


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
