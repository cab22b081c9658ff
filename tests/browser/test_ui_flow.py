"""The web UI in a real browser against a real scheduler and webserver (SPEC §6, issue 5): a failed task
is found from the DAGs page, its log read, and it is cleared with its downstream task, the grid following
every change without a reload; plus the time-zone switch, a Viewer's read-only pages, logging out, and a
screenshot of every page visited (see conftest.py for where they go)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tests.browser.conftest import PASSWORD, Site, expect, skip_unless_browser

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

skip_unless_browser()

NewPage = Callable[[], "Page"]
RUN_TIMEOUT_MS = 40_000  # a state change the scheduler makes, seen through the grid's 5 s polling


def log_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".whoami")).to_contain_text(username)


def shoot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def mark_document(page: Page) -> None:
    """Tag the loaded document: the tag is gone after any reload or navigation."""
    page.evaluate("window.flowctlTestMark = 'no reload'")


def assert_same_document(page: Page) -> None:
    assert page.evaluate("window.flowctlTestMark") == "no reload", "the page was reloaded"


def grid_cell(page: Page, task_id: str) -> Locator:
    """The grid cell of this task (the DAG has a single run, so a single column)."""
    return page.locator(f'#grid tbody tr[data-task-id="{task_id}"] td').first


def test_a_failed_task_is_cleared_with_its_downstream_and_the_run_recovers(
    site: Site, new_page: NewPage, screenshots: Path
) -> None:
    page = new_page()
    print(f"screenshots: {screenshots}")

    # Given: a logged-in user on the DAGs page, where the DAG is paused
    page.goto("/login")
    shoot(page, screenshots, "login")
    log_in(page, "admin")
    expect(page.get_by_role("heading", name="DAGs")).to_be_visible()
    row = page.locator('#dags tr[data-dag-id="ui_flaky"]')
    expect(row.get_by_role("switch")).to_have_attribute("aria-checked", "false")
    shoot(page, screenshots, "dags")

    # When: it is unpaused and triggered
    row.get_by_role("switch", name="Unpause ui_flaky").click()
    expect(row.get_by_role("switch")).to_have_attribute("aria-checked", "true")
    row.get_by_role("link", name="Trigger").click()
    expect(page.get_by_role("heading", name="Trigger ui_flaky")).to_be_visible()
    shoot(page, screenshots, "trigger")
    page.locator("form.trigger-form").get_by_role("button", name="Trigger").click()

    # Then: the grid shows the new run, and without a reload turns `flaky` failed, `after` upstream_failed
    expect(page).to_have_url(re.compile(r"/dags/ui_flaky/grid"))
    expect(page.get_by_role("alert")).to_contain_text("Triggered ui_flaky")
    expect(page.locator("#grid thead th[data-run-id]")).to_have_count(1)
    run_id = page.locator("#grid thead th[data-run-id]").get_attribute("data-run-id")
    assert run_id and run_id.startswith("manual__")
    mark_document(page)
    expect(grid_cell(page, "flaky")).to_have_class(re.compile(r"\bstate-failed\b"), timeout=RUN_TIMEOUT_MS)
    expect(grid_cell(page, "after")).to_have_class(re.compile(r"\bstate-upstream_failed\b"))
    expect(page.locator("#grid .run-bar")).to_have_class(re.compile(r"\bstate-failed\b"))
    assert_same_document(page)
    shoot(page, screenshots, "grid-failed")

    # The other views of the DAG show the failed run
    tabs = page.locator("nav.dag-tabs")
    tabs.get_by_role("link", name="Graph").click()
    expect(page.locator("#graph svg")).to_be_visible()
    expect(page.locator("#graph")).to_contain_text("flaky")
    expect(page.locator("[data-run-state]")).to_have_text("failed")
    shoot(page, screenshots, "graph")
    tabs.get_by_role("link", name="Gantt").click()
    expect(page.locator("#gantt svg")).to_be_visible()
    shoot(page, screenshots, "gantt")
    tabs.get_by_role("link", name="Code").click()
    expect(page.locator(".code-view")).to_contain_text("the marker file")
    shoot(page, screenshots, "code")

    # When: the failed cell is opened from the grid
    tabs.get_by_role("link", name="Grid", exact=True).click()
    grid_cell(page, "flaky").click()

    # Then: its instance page says failed, and its log has the error
    expect(page).to_have_url(re.compile(r"/dags/ui_flaky/runs/.+/tasks/flaky"))
    expect(page.locator("#ti-state")).to_have_text("failed")
    expect(page.locator("#log-text")).to_contain_text("the marker file")
    expect(page.locator("#log-text")).to_contain_text("is missing")
    shoot(page, screenshots, "task-instance-failed")

    # When: the cause is fixed, and the task is cleared with its downstream task (after a confirmation)
    (site.out / "marker").touch()
    clear_form = page.locator("form", has=page.get_by_role("button", name="Clear", exact=True))
    expect(clear_form.get_by_label("downstream")).to_be_checked()
    clear_form.get_by_role("button", name="Clear", exact=True).click()
    expect(page.get_by_role("heading", name="Clear task instance flaky?")).to_be_visible()
    confirm = page.locator("section.confirm tbody")
    expect(confirm.locator("tr")).to_have_count(2)
    expect(confirm).to_contain_text("flaky")
    expect(confirm).to_contain_text("after")
    shoot(page, screenshots, "confirm-clear")
    page.get_by_role("button", name="Confirm: clear").click()
    expect(page.get_by_role("alert")).to_contain_text("Cleared")

    # Then: back on the grid, both tasks and the run turn success without a reload
    page.locator("nav.tabs").get_by_role("link", name="Grid", exact=True).click()
    expect(page).to_have_url(re.compile(r"/dags/ui_flaky/grid"))
    mark_document(page)
    expect(page.locator("#grid .run-bar")).not_to_have_class(re.compile(r"\bstate-(success|failed)\b"))
    expect(grid_cell(page, "flaky")).to_have_class(re.compile(r"\bstate-success\b"), timeout=RUN_TIMEOUT_MS)
    expect(grid_cell(page, "after")).to_have_class(re.compile(r"\bstate-success\b"), timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#grid .run-bar")).to_have_class(re.compile(r"\bstate-success\b"))
    assert_same_document(page)
    shoot(page, screenshots, "grid-success")

    # The run page and the task instance page agree, and the log of the second try is the good one
    page.locator("#grid .run-bar").click()
    expect(page.locator("#run-state")).to_have_text("success")
    expect(page.locator('#run-tis tr[data-task-id="after"] [data-field="state"]')).to_have_text("success")
    shoot(page, screenshots, "run")
    page.locator("#run-tis").get_by_role("link", name="flaky").click()
    expect(page.locator("#ti-state")).to_have_text("success")
    expect(page.locator("#log-text")).to_contain_text("the marker file is there")
    shoot(page, screenshots, "task-instance-success")
    page.goto("/")
    expect(page.locator('#dags tr[data-dag-id="ui_flaky"] td.last-run')).to_contain_text("success")
    shoot(page, screenshots, "dags-after")


def test_the_time_zone_switch_shows_times_in_utc_and_back(site: Site, new_page: NewPage, screenshots: Path) -> None:
    # Given: a run page, its times in the UI time zone (Asia/Seoul)
    run_id = site.deployment.trigger("ui_simple")
    page = new_page()
    log_in(page, "admin")
    page.goto(f"/dags/ui_simple/runs/{run_id}")
    logical_date = page.locator("dl.facts time").first
    switch = page.locator("#tz-switch")
    expect(logical_date).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d KST$"))
    local_text = logical_date.inner_text()

    # When
    switch.click()

    # Then: every time on the page is in UTC, nine hours earlier, and it stays so on the next page
    expect(switch).to_have_text("UTC")
    expect(switch).to_have_attribute("aria-pressed", "true")
    expect(logical_date).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
    assert logical_date.inner_text()[11:13] == f"{(int(local_text[11:13]) - 9) % 24:02d}"
    for time in page.locator("time[data-utc]").all():
        expect(time).to_have_text(re.compile(r" UTC$"))
    shoot(page, screenshots, "run-utc")
    page.goto("/dags/ui_simple/grid")
    expect(page.locator("#tz-switch")).to_have_text("UTC")

    # When: switched back
    page.goto(f"/dags/ui_simple/runs/{run_id}")
    page.locator("#tz-switch").click()

    # Then
    expect(page.locator("#tz-switch")).to_have_text(re.compile("Asia/Seoul"))
    expect(page.locator("dl.facts time").first).to_have_text(local_text)


def test_a_viewer_sees_no_actions_and_may_not_post_them(site: Site, new_page: NewPage, screenshots: Path) -> None:
    # Given
    run_id = site.deployment.trigger("ui_simple")
    site.deployment.wait_for_run("ui_simple", run_id)
    page = new_page()
    log_in(page, "viewer")

    # Then: the DAGs page has no pause switch, trigger or delete, and no Admin menu
    row = page.locator('#dags tr[data-dag-id="ui_simple"]')
    expect(row).to_be_visible()
    expect(row.get_by_role("switch")).to_have_count(0)
    expect(row.get_by_role("link", name="Trigger")).to_have_count(0)
    expect(row.get_by_role("link", name="Delete")).to_have_count(0)
    expect(page.locator("header nav").get_by_role("link", name="Admin")).to_have_count(0)
    shoot(page, screenshots, "viewer-dags")

    # ...nor do the DAG's, the run's and the task instance's pages
    page.goto("/dags/ui_simple/grid")
    expect(page.locator("#grid")).to_be_visible()
    expect(page.locator(".dag-actions").get_by_role("button")).to_have_count(0)
    expect(page.get_by_role("link", name="Trigger")).to_have_count(0)
    page.goto(f"/dags/ui_simple/runs/{run_id}")
    expect(page.locator("#run-state")).to_have_text("success")
    expect(page.locator("main form[method=post]")).to_have_count(0)
    shoot(page, screenshots, "viewer-run")
    page.goto(f"/dags/ui_simple/runs/{run_id}/tasks/first")
    expect(page.locator("#ti-state")).to_have_text("success")
    expect(page.locator("main form[method=post]")).to_have_count(0)
    expect(page.get_by_role("button", name="Clear")).to_have_count(0)

    # ...and the actions themselves are refused, even with a valid CSRF token
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    for url, form in [
        ("/dags/ui_simple/pause", {"paused": "true"}),
        (f"/dags/ui_simple/runs/{run_id}/tasks/first/clear", {"confirmed": "1", "map_index": "-1"}),
        ("/dags/ui_simple/trigger", {}),
    ]:
        answer = page.request.post(url, form={"csrf_token": token or "", **form}, max_redirects=0)
        assert answer.status == 403, (url, answer.status)
    response = page.goto("/admin/connections")
    assert response is not None and response.status == 403
    shoot(page, screenshots, "viewer-admin-403")


def test_admin_pages(site: Site, new_page: NewPage, screenshots: Path) -> None:
    page = new_page()
    log_in(page, "admin")
    page.locator("header nav").get_by_role("link", name="Admin").click()
    tabs = page.locator("nav.admin-tabs")
    for name in ["Connections", "Variables", "Pools", "Users"]:
        tabs.get_by_role("link", name=name).click()
        expect(tabs.get_by_role("link", name=name)).to_have_class(re.compile(r"\bactive\b"))
        shoot(page, screenshots, f"admin-{name.lower()}")
    expect(page.locator("main")).to_contain_text("viewer")
    for path, name in [
        ("/admin/connections/new", "connection-form"),
        ("/admin/variables/new", "variable-form"),
        ("/admin/pools/new", "pool-form"),
        ("/admin/users/new", "user-form"),
    ]:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        expect(page.locator("main form[method=post]")).to_be_visible()
        shoot(page, screenshots, f"admin-{name}")


def test_logging_out_ends_the_session(site: Site, new_page: NewPage) -> None:
    # Given
    page = new_page()
    log_in(page, "admin")

    # When
    page.get_by_role("button", name="Log out").click()

    # Then: the login page, and the pages need a login again
    expect(page.get_by_role("heading", name="Log in to flowctl")).to_be_visible()
    expect(page.locator(".whoami")).to_have_count(0)
    page.goto("/dags/ui_simple/grid")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
