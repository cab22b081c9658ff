"""Alerts from real runs (SPEC §4 "Callbacks and email"): mails on retry and failure sent through a
real SMTP server on 127.0.0.1 that the scheduler's `[smtp]` settings point at, EmailOperator with
rendered templates, a mail server that is down (logged, never changes a task's result), and task-level
callbacks called once per event with the try's context, where one that raises changes nothing."""

from __future__ import annotations

import email
import email.policy
import socket
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from tests.scheduler.conftest import Deployment, read_ledger, wait_until

BASE_URL = "http://flowctl.example:8080"


@dataclass
class MailCatcher:
    """An SMTP server's handler that keeps every message it accepts."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def with_subject(self, fragment: str) -> list[tuple[list[str], EmailMessage]]:
        return [(rcpt, message) for rcpt, message in list(self.messages) if fragment in subject(message)]


@dataclass
class SmtpServer:
    catcher: MailCatcher
    port: int


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server (no TLS, no login) on a free port of 127.0.0.1."""
    catcher = MailCatcher()
    port = free_port()
    controller = Controller(catcher, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(catcher, port)
    finally:
        controller.stop()


def free_port() -> int:
    """A port nothing listens on (until someone binds it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def point_smtp_at(deployment: Deployment, port: int) -> None:
    """The scheduler (and so its task processes) send mail to 127.0.0.1:port, and link to BASE_URL."""
    deployment.env.update(
        FLOWCTL__SMTP__SMTP_HOST="127.0.0.1",
        FLOWCTL__SMTP__SMTP_PORT=str(port),
        FLOWCTL__SMTP__SMTP_STARTTLS="False",
        FLOWCTL__SMTP__SMTP_MAIL_FROM="flowctl@example.com",
        FLOWCTL__SMTP__SMTP_TIMEOUT="5",
        FLOWCTL__WEBSERVER__BASE_URL=BASE_URL,
    )


def subject(message: EmailMessage) -> str:
    """The Subject as a mail client shows it: Python's email package folds a long one right after
    `Subject:`, which leaves a leading space once unfolded."""
    return " ".join(str(message["Subject"]).split())


def bodies(message: EmailMessage) -> tuple[str, str]:
    """(plain text, html) of a multipart/alternative mail."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None, message
    return text.get_content(), html.get_content()


def try_log_link(dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
    quoted = [urllib.parse.quote(part, safe="") for part in (dag_id, run_id, task_id)]
    return f"{BASE_URL}/dags/{quoted[0]}/runs/{quoted[1]}/tasks/{quoted[2]}?try_number={try_number}"


ALERTING_DAG = """
from datetime import timedelta

from flowctl import DAG, task

with DAG("alerting", schedule=None, is_paused_upon_creation=False):

    @task(
        retries=1,
        retry_delay=timedelta(seconds=0.2),
        email=["ops@example.com", "dev@example.com"],
        email_on_retry=True,
        email_on_failure=True,
    )
    def doomed(ti=None):
        raise ValueError(f"bad row in try {ti.try_number}")

    @task(email="ops@example.com")  # email_on_success is off by default
    def fine():
        return "fine"

    doomed()
    fine()
"""


def test_a_retry_mail_for_the_first_try_and_a_failure_mail_for_the_last_name_the_try_and_link_its_log(
    deployment: Deployment, smtp_server: SmtpServer
) -> None:
    # Given: a task that always fails, with one retry and both alerts on
    point_smtp_at(deployment, smtp_server.port)
    deployment.write_dag("alerting", ALERTING_DAG)
    deployment.start()

    # When
    run_id = deployment.trigger("alerting")

    # Then: two mails arrived, one per try, to every address of the task
    assert deployment.wait_for_run("alerting", run_id) == "failed"
    catcher = smtp_server.catcher
    wait_until(lambda: len(catcher.messages) >= 2, timeout=10, what="two alert mails")
    retry_mails = catcher.with_subject("will retry")
    failure_mails = [m for m in catcher.with_subject("task doomed failed") if m not in retry_mails]
    assert len(retry_mails) == 1 and len(failure_mails) == 1, [subject(m) for _, m in catcher.messages]

    # ...the retry mail is about try 1: its subject, body and log link say so
    recipients, retry = retry_mails[0]
    assert sorted(recipients) == ["dev@example.com", "ops@example.com"]
    assert retry["From"] == "flowctl@example.com"
    assert subject(retry) == "flowctl alert: DAG alerting, task doomed failed, will retry (try 1 of 2)"
    text, html = bodies(retry)
    for expected in (
        "DAG: alerting",
        "Task: doomed",
        f"Run: {run_id}",
        "Try: try 1 of 2",
        "State: up_for_retry",
        "ValueError: bad row in try 1",
        f"Log: {try_log_link('alerting', run_id, 'doomed', 1)}",
    ):
        assert expected in text, (expected, text)
    assert "ValueError: bad row in try 1" in html
    assert f'href="{try_log_link("alerting", run_id, "doomed", 1)}"' in html

    # ...the failure mail is about the last try
    _, failure = failure_mails[0]
    assert subject(failure) == "flowctl alert: DAG alerting, task doomed failed (try 2 of 2)"
    text, _ = bodies(failure)
    for expected in (
        f"Run: {run_id}",
        "Try: try 2 of 2",
        "State: failed",
        "ValueError: bad row in try 2",
        f"Log: {try_log_link('alerting', run_id, 'doomed', 2)}",
    ):
        assert expected in text, (expected, text)

    # ...and the task that succeeded sent nothing
    assert deployment.ti_states(run_id) == {"doomed": "failed", "fine": "success"}
    assert catcher.with_subject("task fine") == []


EMAIL_OPERATOR_DAG = """
from flowctl import DAG, Param
from flowctl.operators import EmailOperator

with DAG(
    "mailer",
    schedule=None,
    is_paused_upon_creation=False,
    params={"rows": Param(7, type="integer"), "recipient": "team@example.com"},
):
    EmailOperator(
        task_id="report",
        to="{{ params.recipient }}",
        cc=["boss@example.com"],
        subject="Report of {{ dag.dag_id }} for {{ ds }}",
        html_content="<h1>{{ params.rows }} rows</h1><p>run {{ run_id }}, task {{ task.task_id }}</p>",
    )
"""


def test_email_operator_sends_its_rendered_subject_and_html_to_its_rendered_recipients(
    deployment: Deployment, smtp_server: SmtpServer
) -> None:
    # Given
    point_smtp_at(deployment, smtp_server.port)
    deployment.write_dag("mailer", EMAIL_OPERATOR_DAG)
    deployment.start()

    # When: a run whose conf overrides one param
    run_id = deployment.trigger("mailer", conf={"rows": 42})

    # Then: one mail, every template rendered with the run's context
    assert deployment.wait_for_run("mailer", run_id) == "success"
    ds = next(r for r in deployment.runs("mailer") if r.run_id == run_id).logical_date.strftime("%Y-%m-%d")
    catcher = smtp_server.catcher
    wait_until(lambda: catcher.messages, timeout=10, what="the report mail")
    assert len(catcher.messages) == 1
    recipients, message = catcher.messages[0]
    assert sorted(recipients) == ["boss@example.com", "team@example.com"]
    assert subject(message) == f"Report of mailer for {ds}"
    _, html = bodies(message)
    assert f"<h1>42 rows</h1><p>run {run_id}, task report</p>" in html
    assert "{{" not in html
    assert f"Sent 'Report of mailer for {ds}' to team@example.com, boss@example.com" in deployment.read_log(
        "mailer", run_id, "report"
    )


UNREACHABLE_MAIL_DAG = """
from flowctl import DAG, task
from flowctl.operators import EmailOperator

with DAG("no_mail_server", schedule=None, is_paused_upon_creation=False):

    @task(email=["ops@example.com"], email_on_success=True)
    def succeeds():
        return "done"

    @task(email=["ops@example.com"], email_on_failure=True)
    def fails():
        raise RuntimeError("the task's own failure")

    EmailOperator(task_id="mail", to="ops@example.com", subject="hello", html_content="<p>hi</p>")

    succeeds()
    fails()
"""


def test_a_mail_server_that_is_down_is_logged_and_leaves_each_task_with_its_own_result(
    deployment: Deployment,
) -> None:
    # Given: [smtp] points at a port nothing listens on
    dead_port = free_port()
    point_smtp_at(deployment, dead_port)
    deployment.write_dag("no_mail_server", UNREACHABLE_MAIL_DAG)
    deployment.start()

    # When
    run_id = deployment.trigger("no_mail_server")

    # Then: the alerts' tasks ended as their own code decided; sending mail is all EmailOperator does,
    # so it failed
    assert deployment.wait_for_run("no_mail_server", run_id) == "failed"
    assert deployment.ti_states(run_id) == {"succeeds": "success", "fails": "failed", "mail": "failed"}

    # ...and each log says why no mail went out
    refused = f"cannot send email through 127.0.0.1:{dead_port}"
    for task_id in ("succeeds", "fails"):
        log = deployment.read_log("no_mail_server", run_id, task_id)
        assert f"email not sent: {refused}" in log, log
    assert "the task's own failure" in deployment.read_log("no_mail_server", run_id, "fails")
    assert refused in deployment.read_log("no_mail_server", run_id, "mail")


CALLBACKS_DAG = """
import json
import pathlib
from datetime import timedelta

from flowctl import DAG, task

LEDGER = pathlib.Path(OUT_DIR, "callbacks.jsonl")


def record(event):
    def callback(context):
        ti = context["ti"]
        entry = {
            "event": event,
            "dag_id": context["dag"].dag_id,
            "task_id": context["task"].task_id,
            "run_id": context["run_id"],
            "ti": [ti.dag_id, ti.task_id, ti.run_id],
            "try_number": ti.try_number,
            "exception": context.get("exception"),
        }
        with LEDGER.open("a") as ledger:
            ledger.write(json.dumps(entry) + "\\n")

    return callback


def explode(context):
    raise RuntimeError(f"callback went wrong in try {context['ti'].try_number}")


RECORDED = {
    "on_execute_callback": record("execute"),
    "on_success_callback": record("success"),
    "on_failure_callback": record("failure"),
    "on_retry_callback": record("retry"),
}
EXPLODING = {
    "on_execute_callback": explode,
    "on_success_callback": explode,
    "on_failure_callback": explode,
    "on_retry_callback": explode,
}

with DAG("task_callbacks", schedule=None, is_paused_upon_creation=False):

    @task(retries=1, retry_delay=timedelta(seconds=0.2), **RECORDED)
    def flaky(ti=None):
        if ti.try_number == 1:
            raise RuntimeError("first try fails")
        return "ok"

    @task(**RECORDED)
    def broken():
        raise ValueError("always broken")

    @task(retries=1, retry_delay=timedelta(seconds=0.2), **EXPLODING)
    def flaky_with_bad_callbacks(ti=None):
        if ti.try_number == 1:
            raise RuntimeError("first try fails")
        return "ok"

    @task(**EXPLODING)
    def broken_with_bad_callbacks():
        raise ValueError("always broken")

    flaky()
    broken()
    flaky_with_bad_callbacks()
    broken_with_bad_callbacks()
"""


def test_task_callbacks_are_called_once_per_event_with_the_tries_context(deployment: Deployment) -> None:
    # Given
    deployment.write_dag("task_callbacks", CALLBACKS_DAG)
    deployment.start()

    # When
    run_id = deployment.trigger("task_callbacks")

    # Then: each event of each try called its callback once, in order, with that try's context
    assert deployment.wait_for_run("task_callbacks", run_id) == "failed"
    entries = read_ledger(deployment.out / "callbacks.jsonl")
    for entry in entries:
        assert entry["dag_id"] == "task_callbacks" and entry["run_id"] == run_id, entry
        assert entry["ti"] == ["task_callbacks", entry["task_id"], run_id], entry
    calls = [(e["task_id"], e["try_number"], e["event"], e["exception"]) for e in entries]
    assert sorted(calls, key=lambda c: (c[0], c[1])) == [
        ("broken", 1, "execute", None),
        ("broken", 1, "failure", "ValueError: always broken"),
        ("flaky", 1, "execute", None),
        ("flaky", 1, "retry", "RuntimeError: first try fails"),
        ("flaky", 2, "execute", None),
        ("flaky", 2, "success", None),
    ]


def test_a_callback_that_raises_is_logged_and_changes_no_tries_state(deployment: Deployment) -> None:
    # Given: tasks whose every callback raises
    deployment.write_dag("task_callbacks", CALLBACKS_DAG)
    deployment.start()

    # When
    run_id = deployment.trigger("task_callbacks")

    # Then: the flaky task was still retried and then succeeded, the broken one still failed
    assert deployment.wait_for_run("task_callbacks", run_id) == "failed"
    assert [t.state for t in deployment.tries(run_id, "flaky_with_bad_callbacks")] == ["up_for_retry", "success"]
    assert [t.state for t in deployment.tries(run_id, "broken_with_bad_callbacks")] == ["failed"]
    assert deployment.xcom(run_id, "flaky_with_bad_callbacks") == "ok"

    # ...and each raising callback is in the try's log, with its traceback
    expected_per_log = {
        ("flaky_with_bad_callbacks", 1): 2,  # execute, retry
        ("flaky_with_bad_callbacks", 2): 2,  # execute, success
        ("broken_with_bad_callbacks", 1): 2,  # execute, failure
    }
    for (task_id, attempt), count in expected_per_log.items():
        log = deployment.read_log("task_callbacks", run_id, task_id, attempt=attempt)
        assert log.count("callback explode failed") == count, log
        assert log.count(f"RuntimeError: callback went wrong in try {attempt}") == count, log
        assert "Traceback (most recent call last)" in log


def ui_try_badge(deployment: Deployment, dag_id: str, run_id: str, task_id: str) -> tuple[int, int]:
    """(try number, tries allowed) as the task-instance page shows them, read from a real web app on the
    deployment's DB (anonymous read access, so no login)."""
    from flowctl.config import settings_from_environment
    from flowctl.web import create_app

    settings = settings_from_environment({**deployment.env, "FLOWCTL__WEBSERVER__AUTH": "none"})
    client = create_app(settings).test_client()
    path = "/".join(urllib.parse.quote(part, safe="") for part in (dag_id, run_id, task_id))
    dag, run, task = path.split("/")
    response = client.get(f"/dags/{dag}/runs/{run}/tasks/{task}/state.json")
    assert response.status_code == 200, response.data
    return response.json["try_number"], response.json["tries_allowed"]


def test_mails_after_a_clear_count_tries_as_the_ui_does_and_announce_the_retry_the_scheduler_makes(
    deployment: Deployment, smtp_server: SmtpServer
) -> None:
    # Given: a task that always fails, with one retry, that failed both its tries
    point_smtp_at(deployment, smtp_server.port)
    deployment.write_dag("alerting", ALERTING_DAG)
    deployment.start()
    run_id = deployment.trigger("alerting")
    assert deployment.wait_for_run("alerting", run_id) == "failed"
    catcher = smtp_server.catcher
    wait_until(lambda: len(catcher.messages) >= 2, timeout=10, what="the first two alert mails")

    # When: a user clears it (which allows its retries again: two more tries) and it fails twice more
    deployment.flowctl("tasks", "clear", "alerting", "-t", "^doomed$", "--yes")
    assert deployment.wait_for_run("alerting", run_id, timeout=60) == "failed"
    wait_until(lambda: len(catcher.messages) >= 4, timeout=10, what="four alert mails")

    # Then: the scheduler ran tries 3 and 4, and the UI says 4 of 4 tries allowed
    assert [t.state for t in deployment.tries(run_id, "doomed")] == ["up_for_retry", "failed", "up_for_retry", "failed"]
    assert ui_try_badge(deployment, "alerting", run_id, "doomed") == (4, 4)

    # ...and the mails say the same: try 3 announced the retry that came, try 4 was the last of 4
    doomed_subjects = [subject(m) for _, m in catcher.messages if "task doomed" in subject(m)]
    assert doomed_subjects == [
        "flowctl alert: DAG alerting, task doomed failed, will retry (try 1 of 2)",
        "flowctl alert: DAG alerting, task doomed failed (try 2 of 2)",
        "flowctl alert: DAG alerting, task doomed failed, will retry (try 3 of 4)",
        "flowctl alert: DAG alerting, task doomed failed (try 4 of 4)",
    ]
    text, _ = bodies(catcher.messages[-1][1])
    assert "Try: try 4 of 4" in text and "State: failed" in text, text


@pytest.fixture
def second_smtp_server() -> Iterator[SmtpServer]:
    """Another plain SMTP server on 127.0.0.1, for a configuration that changes."""
    catcher = MailCatcher()
    port = free_port()
    controller = Controller(catcher, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(catcher, port)
    finally:
        controller.stop()


def write_mail_config(deployment: Deployment, *, port: int, base_url: str) -> None:
    """[smtp] and the mails' base_url in flowctl.cfg (the file, not the environment, which would win)."""
    import configparser

    path = deployment.home / "flowctl.cfg"
    config = configparser.ConfigParser(interpolation=None)
    config.read(path, encoding="utf-8")
    config["smtp"].update(
        smtp_host="127.0.0.1",
        smtp_port=str(port),
        smtp_starttls="False",
        smtp_mail_from="flowctl@example.com",
        smtp_timeout="5",
    )
    config["webserver"]["base_url"] = base_url
    with path.open("w", encoding="utf-8") as handle:
        config.write(handle)


FAILING_ONCE_DAG = """
from flowctl import DAG, task

with DAG("fails_and_mails", schedule=None, is_paused_upon_creation=False):

    @task(email=["ops@example.com"], email_on_failure=True)
    def doomed():
        raise ValueError("no luck")

    doomed()
"""


def test_a_changed_smtp_server_in_the_config_file_gets_the_next_mail_without_a_scheduler_restart(
    deployment: Deployment, smtp_server: SmtpServer, second_smtp_server: SmtpServer
) -> None:
    # Given: a running scheduler whose config file sends mail to the first server
    deployment.write_dag("fails_and_mails", FAILING_ONCE_DAG)
    deployment.prepare()  # writes flowctl.cfg
    write_mail_config(deployment, port=smtp_server.port, base_url="http://first.example:8080")
    deployment.start_scheduler()
    first_run = deployment.trigger("fails_and_mails")
    assert deployment.wait_for_run("fails_and_mails", first_run) == "failed"
    wait_until(lambda: smtp_server.catcher.messages, timeout=10, what="the first failure mail")

    # When: the file now names the second server (and another base URL), the scheduler still running
    write_mail_config(deployment, port=second_smtp_server.port, base_url="http://second.example:8080")
    second_run = deployment.trigger("fails_and_mails")
    assert deployment.wait_for_run("fails_and_mails", second_run) == "failed"

    # Then: the next failure mail went to the second server, linking to the new base URL
    wait_until(lambda: second_smtp_server.catcher.messages, timeout=10, what="a mail at the second server")
    assert deployment.scheduler.alive()
    assert [len(smtp_server.catcher.messages), len(second_smtp_server.catcher.messages)] == [1, 1]
    text, _ = bodies(second_smtp_server.catcher.messages[0][1])
    assert f"Run: {second_run}" in text and "Log: http://second.example:8080/dags/fails_and_mails/" in text, text
