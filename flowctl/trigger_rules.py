"""Trigger rules: given how a task's upstream task instances ended so far, may it run, wait, or never run?

Pure module: imports only the standard library and flowctl.state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from flowctl.state import TaskState


class Verdict(StrEnum):
    READY = "ready"
    WAIT = "wait"
    SKIP = "skip"
    UPSTREAM_FAILED = "upstream_failed"


@dataclass(frozen=True, slots=True)
class UpstreamCounts:
    """How many upstream task instances (all map indexes, `removed` ones left out) are in which state."""

    total: int = 0
    success: int = 0
    skipped: int = 0
    failed: int = 0
    upstream_failed: int = 0

    @classmethod
    def of(cls, states: Mapping[TaskState, int]) -> UpstreamCounts:
        """Counts from a state -> number-of-instances mapping (a Counter)."""
        return cls(
            total=sum(n for state, n in states.items() if state is not TaskState.REMOVED),
            success=states.get(TaskState.SUCCESS, 0),
            skipped=states.get(TaskState.SKIPPED, 0),
            failed=states.get(TaskState.FAILED, 0),
            upstream_failed=states.get(TaskState.UPSTREAM_FAILED, 0),
        )

    @property
    def failures(self) -> int:
        return self.failed + self.upstream_failed

    @property
    def done(self) -> int:
        return self.success + self.skipped + self.failures

    @property
    def all_done(self) -> bool:
        return self.done == self.total


_Rule = Callable[[UpstreamCounts], Verdict]


def _all_success(c: UpstreamCounts) -> Verdict:
    if c.failures:
        return Verdict.UPSTREAM_FAILED
    if c.skipped:
        return Verdict.SKIP
    return Verdict.READY if c.success == c.total else Verdict.WAIT


def _all_failed(c: UpstreamCounts) -> Verdict:
    if c.success or c.skipped:
        return Verdict.SKIP
    return Verdict.READY if c.failures == c.total else Verdict.WAIT


def _all_done(c: UpstreamCounts) -> Verdict:
    return Verdict.READY if c.all_done else Verdict.WAIT


def _all_skipped(c: UpstreamCounts) -> Verdict:
    if c.success or c.failures:
        return Verdict.SKIP
    return Verdict.READY if c.skipped == c.total else Verdict.WAIT


def _one_success(c: UpstreamCounts) -> Verdict:
    if c.success:
        return Verdict.READY
    if c.all_done:
        return Verdict.UPSTREAM_FAILED if c.failures else Verdict.SKIP
    return Verdict.WAIT


def _one_failed(c: UpstreamCounts) -> Verdict:
    if c.failures:
        return Verdict.READY
    return Verdict.SKIP if c.all_done else Verdict.WAIT


def _one_done(c: UpstreamCounts) -> Verdict:
    # As in Airflow, an upstream_failed upstream did not "do" anything.
    if c.success or c.failed:
        return Verdict.READY
    return Verdict.SKIP if c.all_done else Verdict.WAIT


def _none_failed(c: UpstreamCounts) -> Verdict:
    if c.failures:
        return Verdict.UPSTREAM_FAILED
    return Verdict.READY if c.all_done else Verdict.WAIT


def _none_failed_min_one_success(c: UpstreamCounts) -> Verdict:
    if c.failures:
        return Verdict.UPSTREAM_FAILED
    if not c.all_done:
        return Verdict.WAIT
    return Verdict.READY if c.success else Verdict.SKIP


def _none_skipped(c: UpstreamCounts) -> Verdict:
    if c.skipped:
        return Verdict.SKIP
    return Verdict.READY if c.all_done else Verdict.WAIT


def _always(c: UpstreamCounts) -> Verdict:
    return Verdict.READY


_RULES: dict[str, _Rule] = {
    "all_success": _all_success,
    "all_failed": _all_failed,
    "all_done": _all_done,
    "all_skipped": _all_skipped,
    "one_success": _one_success,
    "one_failed": _one_failed,
    "one_done": _one_done,
    "none_failed": _none_failed,
    "none_failed_min_one_success": _none_failed_min_one_success,
    "none_skipped": _none_skipped,
    "always": _always,
}
TRIGGER_RULES = frozenset(_RULES)


def evaluate_trigger_rule(rule: str, counts: UpstreamCounts) -> Verdict:
    """What `rule` makes of these upstream counts; a task without (counted) upstreams is ready at once."""
    try:
        check = _RULES[rule]
    except KeyError:
        raise ValueError(f"unknown trigger rule {rule!r}") from None
    return Verdict.READY if counts.total == 0 else check(counts)
