from __future__ import annotations

import email
import email.policy
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from flowctl.config import SmtpSettings
from flowctl.exceptions import NotificationError
from flowctl.notify import log_url, notify_safely, run_callbacks, send_email, task_email

LOG_URL = "http://flowctl.example:8080/dags/report/runs/manual__1/tasks/load?try_number=2"


@dataclass
class RecordingHandler:
    """An SMTP server's handler that keeps what it receives, and accepts one login."""

    envelopes: list[Envelope] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"mail-pass", handled=False)

    def received(self) -> EmailMessage:
        (envelope,) = self.envelopes
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class SmtpServer:
    handler: RecordingHandler
    port: int


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    handler = RecordingHandler()
    port = _free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=handler.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield SmtpServer(handler, port)
    finally:
        controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _smtp(port: int, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_user": "",
        "smtp_password": "",
        "smtp_starttls": False,
        "smtp_ssl": False,
        "smtp_mail_from": "flowctl@example.com",
        "smtp_timeout": 5,
    }
    return SmtpSettings(**{**values, **overrides})


def _failure_email(**overrides: Any) -> tuple[str, str, str]:
    values: dict[str, Any] = {
        "dag_id": "report",
        "task_id": "load",
        "run_id": "manual__1",
        "try_number": 2,
        "tries_allowed": 3,
        "state": "up_for_retry",
        "exception": "ValueError: bad row",
        "log_url": LOG_URL,
        "logical_date": datetime(2024, 1, 2, 3, 4, tzinfo=UTC),
    }
    return task_email("failure", **{**values, **overrides})


# --- sending -------------------------------------------------------------------------------------


def test_task_failure_email_arrives_with_escaped_html_and_the_log_link(smtp_server: SmtpServer) -> None:
    # Given a failure mail whose exception text holds markup
    subject, html, text = _failure_email(exception="RuntimeError: <script>alert('x')</script>")

    # When
    send_email(
        _smtp(smtp_server.port),
        to=["ops@example.com", "dev@example.com"],
        subject=subject,
        html=html,
        text=text,
    )

    # Then
    (envelope,) = smtp_server.handler.envelopes
    assert envelope.mail_from == "flowctl@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "dev@example.com"]
    message = smtp_server.handler.received()
    assert message["Subject"] == "flowctl alert: DAG report, task load failed (try 2 of 3)"
    assert message["From"] == "flowctl@example.com"
    assert message.get_content_type() == "multipart/alternative"
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    received_html = html_part.get_content()
    assert "<script>" not in received_html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in received_html
    assert f'href="{LOG_URL}"' in received_html
    assert "RuntimeError: <script>alert('x')</script>" in text_part.get_content()
    assert LOG_URL in text_part.get_content()


def test_login_is_used_when_a_user_is_set(smtp_server: SmtpServer) -> None:
    settings = _smtp(smtp_server.port, smtp_user="mailer", smtp_password="mail-pass")

    send_email(settings, to=["ops@example.com"], subject="hello", html="<p>hi</p>")

    assert smtp_server.handler.logins == [("mailer", "mail-pass")]
    assert smtp_server.handler.received().get_body(("plain",)).get_content().strip() == "hi"


def test_rejected_login_is_a_one_line_notification_error(smtp_server: SmtpServer) -> None:
    settings = _smtp(smtp_server.port, smtp_user="mailer", smtp_password="wrong")

    with pytest.raises(NotificationError) as raised:
        send_email(settings, to=["ops@example.com"], subject="hello", html="<p>hi</p>")

    assert "\n" not in str(raised.value)
    assert "535" in str(raised.value)
    assert "wrong" not in str(raised.value)
    assert smtp_server.handler.envelopes == []


def test_refused_connection_is_a_one_line_notification_error() -> None:
    port = _free_port()  # nothing listens there

    with pytest.raises(NotificationError) as raised:
        send_email(_smtp(port), to=["ops@example.com"], subject="s", html="<p>h</p>")

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"cannot send email through 127.0.0.1:{port}: ")


def test_starttls_required_but_not_offered_is_a_notification_error(smtp_server: SmtpServer) -> None:
    settings = _smtp(smtp_server.port, smtp_starttls=True)

    with pytest.raises(NotificationError, match="does not offer STARTTLS"):
        send_email(settings, to=["ops@example.com"], subject="s", html="<p>h</p>")

    assert smtp_server.handler.envelopes == []


def test_no_recipients_is_a_notification_error() -> None:
    with pytest.raises(NotificationError, match="no recipients"):
        send_email(_smtp(_free_port()), to=[], subject="s", html="<p>h</p>")


def test_subject_with_a_line_break_is_refused_not_injected(smtp_server: SmtpServer) -> None:
    with pytest.raises(NotificationError):
        send_email(_smtp(smtp_server.port), to=["ops@example.com"], subject="s\nBcc: evil@example.com", html="h")

    assert smtp_server.handler.envelopes == []


# --- message contents ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("failure", "flowctl alert: DAG report, task load failed (try 2 of 3)"),
        ("retry", "flowctl alert: DAG report, task load failed, will retry (try 2 of 3)"),
        ("success", "flowctl alert: DAG report, task load succeeded (try 2 of 3)"),
    ],
)
def test_task_email_subject_names_dag_task_outcome_and_try(kind: Any, expected: str) -> None:
    subject, _, _ = task_email(
        kind,
        dag_id="report",
        task_id="load",
        run_id="manual__1",
        try_number=2,
        tries_allowed=3,
        state="success",
        exception=None,
        log_url=LOG_URL,
        logical_date=None,
    )

    assert subject == expected


def test_task_email_body_has_every_field_and_escapes_each_in_html() -> None:
    _, html, text = _failure_email(run_id="manual__<b>1</b>", state="<i>failed</i>", log_url=LOG_URL + "&x=<y>")

    for raw in (
        "report",
        "load",
        "manual__<b>1</b>",
        "<i>failed</i>",
        "2024-01-02T03:04:00+00:00",
        "try 2 of 3",
    ):
        assert raw in text
    assert "manual__&lt;b&gt;1&lt;/b&gt;" in html
    assert "&lt;i&gt;failed&lt;/i&gt;" in html
    assert "&amp;x=&lt;y&gt;" in html
    assert "<b>" not in html and "<i>" not in html


def test_log_url_quotes_each_path_segment() -> None:
    url = log_url(
        "http://host:8080/",
        dag_id="report",
        run_id="scheduled__2024-01-01T00:00:00+00:00",
        task_id="group.load",
        map_index=-1,
        try_number=3,
    )

    assert url == (
        "http://host:8080/dags/report/runs/scheduled__2024-01-01T00%3A00%3A00%2B00%3A00/tasks/group.load?try_number=3"
    )


def test_log_url_of_a_mapped_task_has_its_map_index() -> None:
    url = log_url("http://h", dag_id="d", run_id="r/1", task_id="t", map_index=4, try_number=1)

    assert url == "http://h/dags/d/runs/r%2F1/tasks/t?try_number=1&map_index=4"


# --- callbacks and safe sending ------------------------------------------------------------------


def test_every_callback_runs_and_a_failing_one_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    # Given two callbacks, the first of which raises
    seen: list[dict[str, Any]] = []

    def broken(context: dict[str, Any]) -> None:
        raise RuntimeError("callback boom")

    context = {"task_id": "load"}
    logger = logging.getLogger("test_notify.callbacks")

    # When
    with caplog.at_level(logging.ERROR, logger=logger.name):
        run_callbacks([broken, seen.append], context, logger=logger)

    # Then
    assert seen == [context]
    (record,) = caplog.records
    assert "broken" in record.getMessage()
    assert record.exc_info is not None and "callback boom" in caplog.text


def test_a_single_callback_or_none_is_accepted(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[dict[str, Any]] = []
    logger = logging.getLogger("test_notify.single")

    run_callbacks(seen.append, {"n": 1}, logger=logger)
    run_callbacks(None, {"n": 2}, logger=logger)

    assert seen == [{"n": 1}]


def test_a_callback_calling_sys_exit_does_not_end_the_process(caplog: pytest.LogCaptureFixture) -> None:
    def exits(context: dict[str, Any]) -> None:
        raise SystemExit(3)

    with caplog.at_level(logging.ERROR):
        run_callbacks(exits, {}, logger=logging.getLogger("test_notify.exit"))

    assert "exits" in caplog.text


def test_notify_safely_logs_a_failed_send_and_returns_false(caplog: pytest.LogCaptureFixture) -> None:
    def send() -> None:
        raise NotificationError("cannot send email through h:25: refused")

    with caplog.at_level(logging.ERROR):
        sent = notify_safely(send, logger=logging.getLogger("test_notify.safe"))

    assert sent is False
    assert "cannot send email through h:25: refused" in caplog.text


def test_notify_safely_survives_a_bug_in_the_send(caplog: pytest.LogCaptureFixture) -> None:
    def send() -> None:
        raise KeyError("oops")

    with caplog.at_level(logging.ERROR):
        assert notify_safely(send, logger=logging.getLogger("test_notify.bug")) is False

    assert caplog.records[0].exc_info is not None


def test_notify_safely_returns_true_when_sent() -> None:
    calls: list[int] = []

    assert notify_safely(lambda: calls.append(1), logger=logging.getLogger("test_notify.ok")) is True
    assert calls == [1]
