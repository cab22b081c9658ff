"""`flowctl tasks test` runs a task in test mode: the context's `test_mode` is true, nothing is recorded,
no e-mail goes out and no success, failure or retry callback is called, checked against a real SMTP
server on 127.0.0.1. The same tasks run by `dags test` do alert, so the server and the DAG are able to."""

from __future__ import annotations

import email
import email.policy
import socket
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from sqlalchemy import Engine, func, select

from flowctl.db.models import Base
from tests.conftest import Cli, CliResult

pytestmark = pytest.mark.sqlite_only  # mail and callbacks do not depend on the metadata DB

ALERTING = """
from datetime import timedelta
from pathlib import Path

from flowctl import DAG
from flowctl.operators import PythonOperator

MARKS = Path(__file__).parent.parent / "callback-marks"


def mark(kind):
    def callback(context):
        MARKS.mkdir(exist_ok=True)
        (MARKS / f"{kind}-{context['ti'].task_id}").write_text("called")

    return callback


def fail():
    raise ValueError("broken on purpose")


def report(**context):
    print(f"test_mode={context['test_mode']}")


ALERTS = dict(
    email=["ops@example.com"],
    email_on_failure=True,
    email_on_retry=True,
    email_on_success=True,
    on_failure_callback=mark("failure"),
    on_retry_callback=mark("retry"),
    on_success_callback=mark("success"),
    on_execute_callback=mark("execute"),
)

with DAG("alerting", schedule=None):
    PythonOperator(task_id="fails", python_callable=fail, retries=0, **ALERTS)
    PythonOperator(task_id="flaky", python_callable=fail, retries=1, retry_delay=timedelta(seconds=0.1), **ALERTS)
    PythonOperator(task_id="passes", python_callable=report, **ALERTS)
"""


@dataclass
class MailCatcher:
    """An SMTP server's handler that keeps the subject of every message it accepts."""

    subjects: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.subjects.append(" ".join(str(message["Subject"]).split()))
        return "250 Message accepted"


@pytest.fixture
def mail(cli_db: Cli) -> Iterator[MailCatcher]:
    """A plain SMTP server on a free port of 127.0.0.1 that `cli_db`'s commands send to."""
    catcher = MailCatcher()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(catcher, hostname="127.0.0.1", port=port)
    controller.start()
    cli_db.env.update(
        FLOWCTL__SMTP__SMTP_HOST="127.0.0.1",
        FLOWCTL__SMTP__SMTP_PORT=str(port),
        FLOWCTL__SMTP__SMTP_STARTTLS="False",
        FLOWCTL__SMTP__SMTP_TIMEOUT="5",
    )
    try:
        yield catcher
    finally:
        controller.stop()


@pytest.fixture
def alerting(home: Path) -> Path:
    folder = home / "dags"
    folder.mkdir(exist_ok=True)
    path = folder / "alerting.py"
    path.write_text(textwrap.dedent(ALERTING))
    return path


def marks(home: Path) -> set[str]:
    folder = home / "callback-marks"
    return {path.name for path in folder.iterdir()} if folder.exists() else set()


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def printing(cli: Cli, capfd: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """A command whose task output goes to file descriptor 1, as a real process prints it."""
    capfd.readouterr()
    result = cli(*args)
    return CliResult(result.exit_code, result.stdout + capfd.readouterr().out, result.stderr)


@pytest.mark.parametrize(("task_id", "exit_code"), [("fails", 1), ("flaky", 1), ("passes", 0)])
def test_tasks_test_sends_no_mail_calls_no_notifying_callback_and_records_nothing(
    cli_db: Cli,
    mail: MailCatcher,
    alerting: Path,
    home: Path,
    engine: Engine,
    capfd: pytest.CaptureFixture[str],
    task_id: str,
    exit_code: int,
) -> None:
    cli_db("dags", "list")  # parse the file first: only the test itself must write nothing
    before = row_counts(engine)

    result = printing(cli_db, capfd, "tasks", "test", "alerting", task_id)

    assert result.exit_code == exit_code, result
    assert mail.subjects == []
    assert marks(home) == {f"execute-{task_id}"}  # on_execute_callback runs, as in Airflow's test mode
    assert row_counts(engine) == before
    if task_id == "passes":
        assert "test_mode=True" in result.stdout


def test_the_same_tasks_run_for_real_do_alert(
    cli_db: Cli, mail: MailCatcher, alerting: Path, home: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    result = printing(cli_db, capfd, "dags", "test", "alerting")

    assert result.exit_code == 1, result
    assert "test_mode=False" in result.stdout
    alerts = sorted(subject.split(", task ")[1].split(" (")[0] for subject in mail.subjects)
    assert alerts == ["fails failed", "flaky failed", "flaky failed, will retry", "passes succeeded"], mail.subjects
    assert {"failure-fails", "retry-flaky", "failure-flaky", "success-passes"} <= marks(home)
