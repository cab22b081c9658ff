"""waitress's "Task queue depth is N" warnings, one per queued request, become one line a minute saying
how many requests waited (issue 10, item 17)."""

from __future__ import annotations

import logging

from flowctl.cli.webserver import QueueDepthReport


def _warning(depth: int, at: float) -> logging.LogRecord:
    record = logging.LogRecord(
        "waitress.queue", logging.WARNING, "task.py", 113, "Task queue depth is %d", (depth,), None
    )
    record.created = at
    return record


def test_queue_depth_warnings_are_reported_once_a_minute_with_what_they_add_up_to() -> None:
    report = QueueDepthReport(threads=8, interval=60.0)
    records = [_warning(depth, at=1000.0 + n * 0.5) for n, depth in enumerate([1, 2, 5, 3, 1] * 40)]

    shown = [record for record in records if report.filter(record)]

    assert [record.created for record in shown] == [1000.0, 1060.0]  # 200 warnings over 100 s
    assert shown[0].getMessage().startswith("1 requests waited for a free thread (at most 1 queued)")
    assert shown[1].getMessage().startswith("120 requests waited for a free thread (at most 5 queued)")
    assert "8 threads serve requests" in shown[1].getMessage()
