"""EmptyOperator: a task that does nothing (joins, placeholders)."""

from __future__ import annotations

from typing import Any

from flowctl.baseoperator import BaseOperator


class EmptyOperator(BaseOperator):
    ui_color = "#e8f7e4"

    def execute(self, context: dict[str, Any]) -> None:
        return None
