"""Times on the task instance page (issue 10, item 17): the "why isn't it running" box shows the times
it mentions as the rest of the page does (UI time zone, following the UTC switch), and the state the
page polls carries the current try's times with its state, so a cleared or retried instance is never
shown with the previous try's times. The browser side is in tests/browser/test_live_task_instance.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from flowctl.config import Settings, settings_from_environment
from flowctl.db.models import TaskInstance
from flowctl.roles import Role
from tests.web.conftest import Seed, Web
from tests.web.test_run_pages import SOURCE, ti_url

pytestmark = pytest.mark.sqlite_only  # what it checks does not depend on the metadata DB


@pytest.fixture
def web_settings(home: Path, db_url: str) -> Settings:
    """The UI in Korean time, so that a time shown in UTC is visibly wrong."""
    (home / "dags").mkdir(exist_ok=True)
    return settings_from_environment(
        {
            "FLOWCTL_HOME": str(home),
            "FLOWCTL__CORE__SQL_ALCHEMY_CONN": db_url,
            "FLOWCTL__WEBSERVER__DEFAULT_UI_TIMEZONE": "Asia/Seoul",
        }
    )


def test_why_isnt_it_running_shows_its_times_in_the_ui_time_zone(
    web: Web, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    # Given: a task waiting for its retry until 15:30 UTC
    pipeline = seed.dag(SOURCE)
    run_id = seed.run(pipeline, {"extract": "up_for_retry"})
    retry_at = datetime(2099, 1, 5, 15, 30, 0, 250000, tzinfo=UTC)
    with session_factory.begin() as session:
        session.scalar(select(TaskInstance).where(TaskInstance.task_id == "extract")).next_try_at = retry_at

    # When
    page = web.client(Role.VIEWER).get(ti_url(pipeline, run_id, "extract")).get_data(as_text=True)

    # Then: the reason shows 00:30 KST on the next day, as a time the UTC switch can change
    box = page[page.index("Why isn't it running?") :]
    box = box[: box.index("</section>")]
    assert (
        '<li>retry at <time datetime="2099-01-05T15:30:00.250000+00:00" data-utc="2099-01-05 15:30:00 UTC" '
        'data-local="2099-01-06 00:30:00 KST">2099-01-06 00:30:00 KST</time></li>'
    ) in box
    assert "+00:00" not in re.sub(r"<[^>]*>", "", box)  # no raw UTC text left


def test_the_polled_state_carries_the_current_try_s_times(
    web: Web, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    # Given: a task whose second try started after a clear (the first one's end is gone)
    pipeline = seed.dag(SOURCE)
    run_id = seed.run(pipeline, {"extract": "running"})
    started = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    with session_factory.begin() as session:
        ti = session.scalar(select(TaskInstance).where(TaskInstance.task_id == "extract"))
        ti.try_number, ti.queued_at, ti.start_date, ti.end_date = 2, started - timedelta(seconds=2), started, None
        ti.hostname, ti.pid = "worker-1", 4242

    # When
    state = web.client(Role.VIEWER).get(ti_url(pipeline, run_id, "extract", "/state.json")).get_json()

    # Then: the state, the try and that try's times, formatted as the page formats them
    assert state["state"] == "running" and state["try_number"] == 2
    assert state["start_date"] == {
        "iso": "2026-01-05T15:00:00+00:00",
        "utc": "2026-01-05 15:00:00 UTC",
        "local": "2026-01-06 00:00:00 KST",
    }
    assert state["queued_at"]["local"] == "2026-01-05 23:59:58 KST"
    assert state["end_date"] is None
    assert state["host"] == "worker-1 / 4242"
