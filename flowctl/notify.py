"""Alerts: task emails through `[smtp]`, links to a try's log, and user callbacks that never fail a task.

No DB here: callers pass what a message needs. A failing callback or mail is logged, never raised.
"""

from __future__ import annotations

import functools
import html as html_lib
import logging
import re
import smtplib
import ssl
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Literal

from flowctl.config import SmtpSettings
from flowctl.exceptions import FlowctlError, NotificationError

EmailKind = Literal["failure", "retry", "success"]
_OUTCOME = {"failure": "failed", "retry": "failed, will retry", "success": "succeeded"}


def send_email(smtp: SmtpSettings, *, to: list[str], subject: str, html: str, text: str | None = None) -> None:
    """Send one multipart/alternative mail; any failure is a NotificationError with a one-line reason."""
    if not to:
        raise NotificationError("cannot send email: no recipients")
    where = f"{smtp.smtp_host}:{smtp.smtp_port}"
    try:
        message = _build_message(smtp, to=to, subject=subject, html=html, text=text)
        with _connect(smtp) as client:
            if smtp.smtp_user:
                client.login(smtp.smtp_user, smtp.smtp_password)
            client.send_message(message, from_addr=smtp.smtp_mail_from, to_addrs=to)
    except NotificationError:
        raise
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        raise NotificationError(f"cannot send email through {where}: {_one_line(exc)}") from exc


def task_email(
    kind: EmailKind,
    *,
    dag_id: str,
    task_id: str,
    run_id: str,
    try_number: int,
    tries_allowed: int,
    state: str,
    exception: str | None,
    log_url: str,
    logical_date: datetime | str | None,
) -> tuple[str, str, str]:
    """(subject, html, text) of the mail sent on a task's failure, retry or success.

    `tries_allowed` is what the UI shows as "try N of M": the task instance's max_tries + 1.
    """
    if kind not in _OUTCOME:
        raise ValueError(f"unknown task email kind {kind!r}")
    attempt = f"try {try_number} of {tries_allowed}"
    subject = _one_line(f"flowctl alert: DAG {dag_id}, task {task_id} {_OUTCOME[kind]} ({attempt})")
    when = logical_date.isoformat() if isinstance(logical_date, datetime) else logical_date
    fields = [
        ("DAG", dag_id),
        ("Task", task_id),
        ("Run", run_id),
        ("Logical date", str(when or "")),
        ("Try", attempt),
        ("State", str(state)),
    ]
    return (
        subject,
        _html_body(subject, fields, exception, log_url),
        _text_body(subject, fields, exception, log_url),
    )


def log_url(base_url: str, *, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int) -> str:
    """The web page showing one try's log."""
    segments = [urllib.parse.quote(str(part), safe="") for part in (dag_id, run_id, task_id)]
    query: dict[str, int] = {"try_number": try_number}
    if map_index >= 0:
        query["map_index"] = map_index
    return (
        f"{base_url.rstrip('/')}/dags/{segments[0]}/runs/{segments[1]}/tasks/{segments[2]}"
        f"?{urllib.parse.urlencode(query)}"
    )


def run_callbacks(
    callbacks: Callable[[dict[str, Any]], object] | Sequence[Callable[[dict[str, Any]], object]] | None,
    context: dict[str, Any],
    *,
    logger: logging.Logger,
) -> None:
    """Call each callback with `context`; one that raises is logged with its traceback and skipped."""
    if callbacks is None:
        return
    for callback in [callbacks] if callable(callbacks) else callbacks:
        name = getattr(callback, "__qualname__", repr(callback))
        try:
            callback(context)
        except (Exception, SystemExit):  # a user's sys.exit() must not end the task process either
            logger.exception("callback %s failed", name, extra={"callback": name})


def notify_safely(send: Callable[[], None], *, logger: logging.Logger) -> bool:
    """Run one mail send; a failure is logged (never raised) and False is returned."""
    try:
        send()
    except FlowctlError as exc:
        logger.error("email not sent: %s", exc)
        return False
    except Exception:  # a bug in building the mail must not fail the task either
        logger.exception("email not sent")
        return False
    return True


def _build_message(smtp: SmtpSettings, *, to: list[str], subject: str, html: str, text: str | None) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = smtp.smtp_mail_from
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(usegmt=True)
    # Without a domain, make_msgid asks DNS for this host's name, which can hang.
    message["Message-ID"] = make_msgid(domain=smtp.smtp_mail_from.rpartition("@")[2] or "localhost")
    message.set_content(text if text is not None else _html_to_text(html))
    message.add_alternative(html, subtype="html")
    return message


def _connect(smtp: SmtpSettings) -> smtplib.SMTP:
    if smtp.smtp_ssl:
        return smtplib.SMTP_SSL(
            smtp.smtp_host, smtp.smtp_port, timeout=smtp.smtp_timeout, context=ssl.create_default_context()
        )
    client = smtplib.SMTP(smtp.smtp_host, smtp.smtp_port, timeout=smtp.smtp_timeout)
    if smtp.smtp_starttls:
        try:
            client.ehlo()
            if not client.has_extn("starttls"):
                raise NotificationError(
                    f"SMTP server {smtp.smtp_host}:{smtp.smtp_port} does not offer STARTTLS; "
                    "set [smtp] smtp_starttls = False to send without it"
                )
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        except BaseException:
            client.close()
            raise
    return client


def _text_body(subject: str, fields: list[tuple[str, str]], exception: str | None, link: str) -> str:
    lines = [subject, "", *(f"{name}: {value}" for name, value in fields)]
    if exception:
        lines += ["", "Exception:", exception]
    return "\n".join([*lines, "", f"Log: {link}", ""])


def _html_body(subject: str, fields: list[tuple[str, str]], exception: str | None, link: str) -> str:
    """Every interpolated value is escaped: ids, states and exception text may hold markup."""
    esc = functools.partial(html_lib.escape, quote=True)
    rows = "".join(f"<tr><th align='left'>{esc(name)}</th><td>{esc(value)}</td></tr>" for name, value in fields)
    parts = [f"<p>{esc(subject)}</p>", f"<table>{rows}</table>"]
    if exception:
        parts.append(f"<p>Exception:</p><pre>{esc(exception)}</pre>")
    parts.append(f'<p><a href="{esc(link)}">Log of this try</a></p>')
    return "<html><body>" + "".join(parts) + "</body></html>"


def _html_to_text(html: str) -> str:
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).strip()


def _one_line(error: object) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        detail = error.smtp_error
        text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        error = f"{error.smtp_code} {text}"
    return " ".join(str(error).split()) or type(error).__name__
