"""The one transition table: which task instance and run state may follow which, and the guards built
from it."""

from __future__ import annotations

import pytest

from flowctl.state import (
    ACTIVE_TASK_STATES,
    FINISHED_TASK_STATES,
    RUN_TRANSITIONS,
    TASK_TRANSITIONS,
    UNFINISHED_TASK_STATES,
    RunState,
    TaskState,
    allowed_sources,
    can_transition,
)

T = TaskState
R = RunState


def test_every_state_has_a_row_and_no_state_follows_itself() -> None:
    assert set(TASK_TRANSITIONS) == set(TaskState)
    assert set(RUN_TRANSITIONS) == set(RunState)
    assert all(source not in targets for source, targets in TASK_TRANSITIONS.items())
    assert all(source not in targets for source, targets in RUN_TRANSITIONS.items())


def test_finished_and_unfinished_task_states_split_all_states_and_active_ones_are_unfinished() -> None:
    assert set(TaskState) == FINISHED_TASK_STATES | UNFINISHED_TASK_STATES
    assert not FINISHED_TASK_STATES & UNFINISHED_TASK_STATES
    assert {T.QUEUED, T.RUNNING} == ACTIVE_TASK_STATES
    assert ACTIVE_TASK_STATES <= UNFINISHED_TASK_STATES


@pytest.mark.parametrize(
    ("source", "target"),
    [
        # the normal life of a try
        (T.NONE, T.SCHEDULED),
        (T.SCHEDULED, T.QUEUED),
        (T.QUEUED, T.RUNNING),
        *[(T.RUNNING, t) for t in (T.SUCCESS, T.FAILED, T.UP_FOR_RETRY, T.UP_FOR_RESCHEDULE, T.SKIPPED)],
        # decided by planning without running
        (T.NONE, T.UPSTREAM_FAILED),
        (T.NONE, T.SKIPPED),
        (T.NONE, T.REMOVED),
        # waiting for another try
        (T.UP_FOR_RETRY, T.SCHEDULED),
        (T.UP_FOR_RESCHEDULE, T.SCHEDULED),
        # recovery and clear
        *[(T.QUEUED, t) for t in (T.FAILED, T.UP_FOR_RETRY, T.SCHEDULED, T.NONE)],
        (T.RUNNING, T.NONE),
        (T.RUNNING, T.RESTARTING),
        (T.RUNNING, T.SCHEDULED),  # recovery takes back a try that never ran user code
        *[(T.RESTARTING, t) for t in (T.NONE, T.QUEUED, T.SCHEDULED)],
    ],
)
def test_task_transition_is_allowed(source: TaskState, target: TaskState) -> None:
    assert can_transition(source, target)
    assert source in allowed_sources(target)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (T.NONE, T.QUEUED),
        (T.NONE, T.RUNNING),
        (T.SCHEDULED, T.RUNNING),
        (T.UP_FOR_RETRY, T.QUEUED),
        (T.SUCCESS, T.RUNNING),
        (T.SUCCESS, T.SKIPPED),
        (T.SKIPPED, T.SCHEDULED),
        (T.FAILED, T.UP_FOR_RETRY),
        (T.UPSTREAM_FAILED, T.SCHEDULED),
    ],
)
def test_task_transition_is_refused(source: TaskState, target: TaskState) -> None:
    assert not can_transition(source, target)
    assert source not in allowed_sources(target)


@pytest.mark.parametrize("state", sorted(FINISHED_TASK_STATES))
def test_clearing_sends_any_finished_task_instance_back_to_none(state: TaskState) -> None:
    assert can_transition(state, T.NONE)


@pytest.mark.parametrize("state", list(TaskState))
def test_a_user_may_mark_any_task_instance_success_or_failed(state: TaskState) -> None:
    assert {T.SUCCESS, T.FAILED} - {state} <= TASK_TRANSITIONS[state]


def test_only_a_queued_task_instance_may_start_running() -> None:
    assert allowed_sources(T.RUNNING) == {T.QUEUED}


def test_scheduling_guard_covers_new_retrying_rescheduled_recovered_and_restarting_instances() -> None:
    assert allowed_sources(T.SCHEDULED) == {
        T.NONE,
        T.UP_FOR_RETRY,
        T.UP_FOR_RESCHEDULE,
        T.QUEUED,
        T.RUNNING,  # recovery: a try taken back before it ran user code
        T.RESTARTING,
    }


def test_allowed_sources_is_the_table_read_backwards() -> None:
    for target in TaskState:
        assert allowed_sources(target) == {s for s, targets in TASK_TRANSITIONS.items() if target in targets}
    for run_target in RunState:
        assert allowed_sources(run_target) == {s for s, targets in RUN_TRANSITIONS.items() if run_target in targets}


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (R.QUEUED, R.RUNNING),
        (R.RUNNING, R.SUCCESS),
        (R.RUNNING, R.FAILED),
        (R.SUCCESS, R.QUEUED),
        (R.FAILED, R.QUEUED),
        (R.RUNNING, R.QUEUED),
        (R.QUEUED, R.SUCCESS),
        (R.SUCCESS, R.FAILED),
        (R.FAILED, R.SUCCESS),
    ],
)
def test_run_transition_is_allowed(source: RunState, target: RunState) -> None:
    assert can_transition(source, target)


def test_finished_run_must_be_cleared_to_queued_before_it_runs_again() -> None:
    assert not can_transition(R.SUCCESS, R.RUNNING)
    assert not can_transition(R.FAILED, R.RUNNING)
    assert allowed_sources(R.RUNNING) == {R.QUEUED}


def test_task_and_run_states_of_the_same_name_do_not_mix() -> None:
    # Both are str enums: TaskState.SUCCESS == RunState.SUCCESS == "success".
    assert not can_transition(T.RUNNING, R.SUCCESS)
    assert not can_transition(R.RUNNING, T.SUCCESS)
