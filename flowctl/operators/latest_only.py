"""LatestOnlyOperator: skips its downstream tasks unless this is the latest scheduled run."""

from __future__ import annotations

from typing import Any

from flowctl.baseoperator import BaseOperator


class LatestOnlyOperator(BaseOperator):
    """Manual runs and the latest scheduled interval go on; older (catch-up, backfill) runs skip ahead."""

    ui_color = "#e9ffdb"

    def execute(self, context: dict[str, Any]) -> Any:
        dag_run = context["dag_run"]
        if dag_run.run_type == "manual":
            return None
        if not context.get("is_latest_run", True):
            print("Not the latest run: skipping downstream tasks")
            context["ti"].follow_branches([])
        return None
