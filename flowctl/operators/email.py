"""EmailOperator: send an e-mail through the [smtp] settings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flowctl.baseoperator import BaseOperator


class EmailOperator(BaseOperator):
    template_fields = ("to", "subject", "html_content", "cc", "bcc")
    template_fields_renderers = {"html_content": "html"}
    template_ext = (".html",)
    ui_color = "#e6faf9"

    def __init__(
        self,
        *,
        to: str | Iterable[str],
        subject: str,
        html_content: str,
        cc: str | Iterable[str] | None = None,
        bcc: str | Iterable[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.to, self.subject, self.html_content, self.cc, self.bcc = to, subject, html_content, cc, bcc

    def execute(self, context: dict[str, Any]) -> None:
        from flowctl.config import settings_from_environment
        from flowctl.notify import send_email

        recipients = [*_addresses(self.to), *_addresses(self.cc), *_addresses(self.bcc)]
        send_email(settings_from_environment().smtp, to=recipients, subject=self.subject, html=self.html_content)
        print(f"Sent '{self.subject}' to {', '.join(recipients)}")


def _addresses(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
    return list(value)
