"""Browser end-to-end fixtures: a real deployment (SQLite metadata DB, `flowctl scheduler` and
`flowctl webserver` processes) driven by Playwright through Debian's Chromium.

Nothing is downloaded: Playwright (the Python package, from the `test` extra) launches the system's
/usr/bin/chromium (or $FLOWCTL_TEST_CHROMIUM). When either is missing the browser tests are skipped
with one line saying what to install, unless FLOWCTL_TEST_BROWSER=required (as in CI), when that is a
failure.

Screenshots of the pages visited go to $FLOWCTL_TEST_ARTIFACTS/screenshots/ (default:
<repo>/artifacts/screenshots/); the folder is named in pytest's terminal summary.

The backend matters little here, so these tests run once, on SQLite, whatever FLOWCTL_TEST_DATABASES says.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from flowctl.db.engine import make_engine
from tests.scheduler.conftest import Deployment, wait_until
from tests.web.webserver_process import WebserverProcess

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REPO = Path(__file__).resolve().parents[2]
REQUIRED_ENV = "FLOWCTL_TEST_BROWSER"
CHROMIUM = os.environ.get("FLOWCTL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
UI_TIMEZONE = "Asia/Seoul"  # not UTC, so the time-zone switch visibly changes every time shown
PASSWORD = "browser-test-password"
USERS = {"admin": "Admin", "viewer": "Viewer"}
TIMEOUT_MS = 20_000  # Playwright's default wait for an action or a navigation
EXPECT_TIMEOUT_MS = 15_000  # and for an expect(...) (longer than its 5 s default, for a busy machine)
_SCREENSHOTS = pytest.StashKey[Path]()
_FAILED = pytest.StashKey[bool]()

# `flaky` fails until the marker file OUT_DIR/marker exists; it takes a few seconds either way, so the
# pages can be seen showing it running. `after` needs it to succeed.
FLAKY_DAG = """
import time
from pathlib import Path

from flowctl import DAG
from flowctl.operators import BashOperator, PythonOperator

MARKER = Path(OUT_DIR) / "marker"


def flaky():
    time.sleep(3)
    if not MARKER.exists():
        raise RuntimeError(f"the marker file {MARKER} is missing")
    print("the marker file is there")


with DAG("ui_flaky", schedule=None, is_paused_upon_creation=True, description="Fails until a marker file exists",
         tags=["e2e"]):
    PythonOperator(task_id="flaky", python_callable=flaky, retries=0) >> BashOperator(
        task_id="after", bash_command="echo after flaky"
    )
"""

SIMPLE_DAG = """
from flowctl import DAG
from flowctl.operators import EmptyOperator

with DAG("ui_simple", schedule=None, is_paused_upon_creation=False, tags=["e2e"]):
    EmptyOperator(task_id="first") >> EmptyOperator(task_id="second")
"""

# one task that takes a moment, so that each try has its own start and end times
RERUN_DAG = """
from flowctl import DAG
from flowctl.operators import BashOperator

with DAG("ui_rerun", schedule=None, is_paused_upon_creation=False, tags=["e2e"]):
    BashOperator(task_id="work", bash_command="sleep 1")
"""

DAGS = {"ui_flaky": FLAKY_DAG, "ui_simple": SIMPLE_DAG, "ui_rerun": RERUN_DAG}


def browser_problem() -> str | None:
    """What is missing for the browser tests, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is missing (pip install -e '.[test]')"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set FLOWCTL_TEST_CHROMIUM)"
    return None


def skip_unless_browser() -> None:
    """Skip the calling test module, with one line saying what is missing, when Playwright or Chromium
    is; with FLOWCTL_TEST_BROWSER=required its tests run and fail instead (in the `browser` fixture)."""
    problem = browser_problem()
    if problem and os.environ.get(REQUIRED_ENV) != "required":
        pytest.skip(f"browser tests skipped: {problem}", allow_module_level=True)


def expect(target: Any) -> Any:
    """playwright.sync_api.expect, imported when used (so that the tests' module imports without it)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def screenshots_folder() -> Path:
    root = os.environ.get("FLOWCTL_TEST_ARTIFACTS") or str(REPO / "artifacts")
    return Path(root) / "screenshots"


class Site:
    """The deployment under test, as the browser tests see it."""

    def __init__(self, deployment: Deployment, webserver: WebserverProcess) -> None:
        self.deployment = deployment
        self.webserver = webserver
        self.url = webserver.url
        self.out = deployment.out

    def describe(self) -> str:
        return f"{self.deployment.describe()}\n--- webserver stderr\n{self.webserver.stderr()}"


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A deployment in a temporary FLOWCTL_HOME on SQLite, with the DAGS, the users
    in USERS, a scheduler and a webserver, both stopped with SIGTERM at the end (and expected to exit 0)."""
    root = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{root / 'flowctl.db'}"
    engine = make_engine(url)
    deployment = Deployment(root, db_url=url, engine=engine)
    deployment.env["FLOWCTL__WEBSERVER__DEFAULT_UI_TIMEZONE"] = UI_TIMEZONE
    for dag_id, source in DAGS.items():
        deployment.write_dag(dag_id, source)
    webserver: WebserverProcess | None = None
    codes: dict[str, int] = {}
    try:
        deployment.flowctl("db", "init")
        for username, role in USERS.items():
            deployment.flowctl(
                "users", "create", "-u", username, "-r", role, "-e", f"{username}@example.com", "-p", PASSWORD
            )
        deployment.flowctl("dags", "reserialize")
        deployment.start_scheduler(shutdown_grace=2)
        webserver = WebserverProcess(deployment.home, deployment.env)
        server = webserver
        wait_until(
            lambda: (server.health() or {}).get("scheduler", {}).get("status") == "healthy",
            timeout=30,
            what="the webserver to answer /api/v1/health with a healthy scheduler",
        )
        site = Site(deployment, webserver)
        yield site
    except Exception:
        print(_describe(deployment, webserver))
        raise
    finally:
        if webserver is not None:
            codes["webserver"] = webserver.stop()
        for process in deployment.schedulers:
            codes["scheduler"] = process.stop()
        engine.dispose()
    if any(codes.values()):
        print(_describe(deployment, webserver))
        raise AssertionError(f"exit codes after SIGTERM: {codes}")


def _describe(deployment: Deployment, webserver: WebserverProcess | None) -> str:
    return Site(deployment, webserver).describe() if webserver else deployment.describe()


@pytest.fixture(scope="session")
def screenshots(request: pytest.FixtureRequest) -> Path:
    """The folder screenshots go to, emptied of an earlier run's PNGs."""
    folder = screenshots_folder()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    request.config.stash[_SCREENSHOTS] = folder
    print(f"screenshots: {folder}")
    return folder


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    problem = browser_problem()
    if problem:
        pytest.fail(f"browser tests: {problem}, and {REQUIRED_ENV}=required", pytrace=False)
    from playwright.sync_api import expect as playwright_expect
    from playwright.sync_api import sync_playwright

    playwright_expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class BrowserProblems:
    """Uncaught script errors and Content-Security-Policy refusals seen by a page: a test fails on them."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.seen.append(f"{page.url}: script error: {error}"))
        page.on(
            "console",
            lambda message: (
                self.seen.append(f"{page.url}: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True
    return report


@pytest.fixture
def new_page(request: pytest.FixtureRequest, browser: Browser, site: Site, screenshots: Path) -> Iterator[Any]:
    """`new_page()` opens a page in a fresh browser context (its own cookies and storage) on the site;
    every context is closed at the end, and any script error or CSP refusal fails the test. When the
    test fails, each page's last state is saved as FAILED-<test>-<n>.png and the servers' logs printed."""
    contexts: list[Any] = []
    problems = BrowserProblems()

    def open_page() -> Page:
        context = browser.new_context(base_url=site.url, viewport={"width": 1400, "height": 900}, locale="en-GB")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        problems.watch(page)
        return page

    yield open_page
    if request.node.stash.get(_FAILED, False):
        for number, context in enumerate(contexts):
            for page in context.pages:
                page.screenshot(path=str(screenshots / f"FAILED-{request.node.name}-{number}.png"), full_page=True)
        print(site.describe())
    for context in contexts:
        context.close()
    assert not problems.seen, "the browser reported:\n" + "\n".join(problems.seen)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    folder = config.stash.get(_SCREENSHOTS, None)
    if folder is not None:
        shown = sorted(p.name for p in folder.glob("*.png"))
        terminalreporter.write_line(f"browser screenshots ({len(shown)}): {folder}")
