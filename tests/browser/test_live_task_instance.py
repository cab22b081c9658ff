"""The task instance page follows a clear without a reload (issue 10, item 17): once the new try runs,
the page shows its state, its try number and its times together, never the new state with the previous
try's times."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from tests.browser.conftest import Site, expect, skip_unless_browser
from tests.browser.test_ui_flow import RUN_TIMEOUT_MS, assert_same_document, log_in, mark_document

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

skip_unless_browser()

NewPage = Callable[[], "Page"]


def fact_time(page: Page, name: str) -> Locator:
    """The time shown for `name` in the page's list of facts."""
    label = page.locator("dl.facts dt", has_text=re.compile(f"^{name}$"))
    return label.locator("xpath=following-sibling::dd[1]").locator("time")


def test_after_a_clear_the_page_shows_the_new_try_s_times_with_its_state(site: Site, new_page: NewPage) -> None:
    # Given: the page of a task instance whose first try succeeded
    run_id = site.deployment.trigger("ui_rerun")
    assert site.deployment.wait_for_run("ui_rerun", run_id) == "success"
    first = site.deployment.ti(run_id, "work")
    page = new_page()
    log_in(page, "admin")
    page.goto(f"/dags/ui_rerun/runs/{run_id}/tasks/work")
    started, ended = fact_time(page, "Started"), fact_time(page, "Ended")
    expect(page.locator("#ti-state")).to_have_text("success")
    expect(started).to_have_attribute("datetime", first.start_date.isoformat())
    mark_document(page)

    # When: it is cleared elsewhere and the scheduler runs it again
    site.deployment.flowctl("tasks", "clear", "ui_rerun", "--run-id", run_id, "-y")
    assert site.deployment.wait_for_run("ui_rerun", run_id) == "success"
    second = site.deployment.ti(run_id, "work")
    assert second.try_number == 2 and second.start_date != first.start_date

    # Then: without a reload, the page shows try 2, its state and its own times, in the UI time zone
    expect(page.locator("#ti-try")).to_have_text("2", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#ti-state")).to_have_text("success")
    expect(started).to_have_attribute("datetime", second.start_date.isoformat())
    expect(ended).to_have_attribute("datetime", second.end_date.isoformat())
    expect(started).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d KST$"))
    expect(page.locator("#ti-changed")).to_be_visible()  # the tries table and log below are the old ones
    assert_same_document(page)
