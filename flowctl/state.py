"""Task instance and DAG run states, and the one table of which state may follow which.

Pure module. The initial task state is the named member NONE (stored as "none"), never SQL NULL.
Writers persist a transition as `UPDATE ... WHERE state IN allowed_sources(target)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar, overload


class TaskState(StrEnum):
    NONE = "none"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    UP_FOR_RETRY = "up_for_retry"
    UP_FOR_RESCHEDULE = "up_for_reschedule"
    UPSTREAM_FAILED = "upstream_failed"
    SKIPPED = "skipped"
    REMOVED = "removed"
    RESTARTING = "restarting"


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


class RunType(StrEnum):
    SCHEDULED = "scheduled"
    MANUAL = "manual"
    BACKFILL = "backfill"


FINISHED_TASK_STATES = frozenset(
    {TaskState.SUCCESS, TaskState.FAILED, TaskState.UPSTREAM_FAILED, TaskState.SKIPPED, TaskState.REMOVED}
)
UNFINISHED_TASK_STATES = frozenset(TaskState) - FINISHED_TASK_STATES
ACTIVE_TASK_STATES = frozenset({TaskState.QUEUED, TaskState.RUNNING})
FINISHED_RUN_STATES = frozenset({RunState.SUCCESS, RunState.FAILED})

_T = TaskState
# A user may mark any task instance success or failed; marking a running one kills it.
_TASK_MARKS = frozenset({_T.SUCCESS, _T.FAILED})
# Clearing sends any instance that is not running back to NONE (a running one goes to RESTARTING).
_TASK_FLOW: dict[TaskState, set[TaskState]] = {
    _T.NONE: {_T.SCHEDULED, _T.UPSTREAM_FAILED, _T.SKIPPED, _T.REMOVED},
    _T.SCHEDULED: {_T.QUEUED, _T.NONE},
    # Recovery after a dead scheduler or executor, or a clear; or a try that started and ended between
    # two looks of the scheduler (its start and its end are recorded together).
    _T.QUEUED: {_T.RUNNING, _T.UP_FOR_RETRY, _T.UP_FOR_RESCHEDULE, _T.SKIPPED, _T.SCHEDULED, _T.NONE},
    # SCHEDULED: recovery takes back a try whose process never got to run user code.
    _T.RUNNING: {_T.UP_FOR_RETRY, _T.UP_FOR_RESCHEDULE, _T.SKIPPED, _T.NONE, _T.RESTARTING, _T.SCHEDULED},
    _T.UP_FOR_RETRY: {_T.SCHEDULED, _T.NONE},
    _T.UP_FOR_RESCHEDULE: {_T.SCHEDULED, _T.NONE},
    _T.RESTARTING: {_T.NONE, _T.QUEUED, _T.SCHEDULED},
    _T.SUCCESS: {_T.NONE},
    _T.FAILED: {_T.NONE},
    _T.SKIPPED: {_T.NONE},
    _T.UPSTREAM_FAILED: {_T.NONE},
    _T.REMOVED: {_T.NONE},
}
TASK_TRANSITIONS: Mapping[TaskState, frozenset[TaskState]] = {
    source: frozenset(targets | _TASK_MARKS) - {source} for source, targets in _TASK_FLOW.items()
}

_R = RunState
_S = TypeVar("_S", TaskState, RunState)
# Clearing sends a run back to QUEUED; a user may mark any run success or failed.
RUN_TRANSITIONS: Mapping[RunState, frozenset[RunState]] = {
    _R.QUEUED: frozenset({_R.RUNNING, _R.SUCCESS, _R.FAILED}),
    _R.RUNNING: frozenset({_R.SUCCESS, _R.FAILED, _R.QUEUED}),
    _R.SUCCESS: frozenset({_R.QUEUED, _R.FAILED}),
    _R.FAILED: frozenset({_R.QUEUED, _R.SUCCESS}),
}


def _sources_by_target(table: Mapping[_S, frozenset[_S]]) -> dict[_S, frozenset[_S]]:
    return {target: frozenset(s for s, targets in table.items() if target in targets) for target in table}


_TASK_SOURCES = _sources_by_target(TASK_TRANSITIONS)
_RUN_SOURCES = _sources_by_target(RUN_TRANSITIONS)


@overload
def allowed_sources(target: TaskState) -> frozenset[TaskState]: ...
@overload
def allowed_sources(target: RunState) -> frozenset[RunState]: ...
def allowed_sources(target: TaskState | RunState) -> frozenset[TaskState] | frozenset[RunState]:
    """The states a task instance (or run) may be in for `target` to follow: the guard of its UPDATE."""
    if isinstance(target, TaskState):
        return _TASK_SOURCES[target]
    return _RUN_SOURCES[target]


def can_transition(source: TaskState | RunState, target: TaskState | RunState) -> bool:
    """Whether `target` may follow `source` (both task states or both run states)."""
    # Task and run states are both str enums, so "success" of one equals "success" of the other.
    if type(source) is not type(target):
        return False
    if isinstance(source, TaskState):
        return target in TASK_TRANSITIONS[source]
    return target in RUN_TRANSITIONS[source]
