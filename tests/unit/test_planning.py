"""Planning one run (no DB, no clock): trigger rules, cascades, run state, depends_on_past, retries,
mapped tasks, priority weights and the "why isn't it running" reasons."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pytest

from flowctl import DAG
from flowctl.baseoperator import TriggerRule
from flowctl.dag_definition import DagDefaults
from flowctl.operators import BashOperator, EmptyOperator
from flowctl.planning import (
    PastRun,
    RunPlan,
    TIKey,
    TIView,
    can_retry,
    plan_run,
    priority_weights,
    retry_at,
    retry_delay,
)
from flowctl.serialization import DagSpec, deserialize_dag, serialize_dag
from flowctl.state import RunState, TaskState
from flowctl.trigger_rules import TRIGGER_RULES, UpstreamCounts, evaluate_trigger_rule

NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
States = Mapping[str, str | Sequence[str]]  # task id -> state, or a list of states (one per map index)


# Factories


def make_spec(edges: str, *, mapped: Sequence[str] = (), **task_kwargs: dict[str, Any]) -> DagSpec:
    """A DagSpec of EmptyOperators wired by `edges` ("a >> b >> c, a >> d"); tasks in `mapped` are
    mapped BashOperators; `task_kwargs` gives a task's operator arguments."""
    chains = [[name.strip() for name in chain.split(">>")] for chain in edges.split(",")]
    task_ids = dict.fromkeys([name for chain in chains for name in chain] + list(task_kwargs))
    with DAG("planning", start_date=datetime(2024, 1, 1), schedule=None) as dag:
        tasks = {
            task_id: (
                BashOperator.partial(task_id=task_id, **task_kwargs.get(task_id, {})).expand(
                    bash_command=["true", "true"]
                )
                if task_id in mapped
                else EmptyOperator(task_id=task_id, **task_kwargs.get(task_id, {}))
            )
            for task_id in task_ids
        }
        for chain in chains:
            for upstream, downstream in itertools.pairwise(chain):
                tasks[upstream] >> tasks[downstream]
    dag.apply_defaults(DagDefaults())
    return deserialize_dag(serialize_dag(dag))


def ti_states(states: States) -> dict[TIKey, TaskState]:
    result: dict[TIKey, TaskState] = {}
    for task_id, state in states.items():
        if isinstance(state, str):
            result[TIKey(task_id)] = TaskState(state)
        else:
            result.update({TIKey(task_id, i): TaskState(s) for i, s in enumerate(state)})
    return result


def instances(spec: DagSpec, states: States | None = None, *extra: TIView) -> dict[TIKey, TIView]:
    """Every task of `spec` as one instance in state none, unless `states` or `extra` say otherwise."""
    states = states or {}
    given = ti_states(states)
    keys = [TIKey(t) for t in spec.tasks if t not in states] + list(given)
    views = {key: TIView(key, given.get(key, TaskState.NONE)) for key in keys}
    return views | {view.key: view for view in extra}


def plan(
    spec: DagSpec,
    states: States | None = None,
    *extra: TIView,
    past: States | None = None,
    explain: bool = False,
    now: datetime = NOW,
) -> RunPlan:
    past_run = None if past is None else PastRun(ti_states(past))
    return plan_run(spec, instances(spec, states, *extra), now=now, past=past_run, explain=explain)


def outcome(result: RunPlan, task_id: str, map_index: int = -1) -> str:
    key = TIKey(task_id, map_index)
    if key in result.to_schedule:
        return "ready"
    if key in result.to_upstream_failed:
        return "upstream_failed"
    if key in result.to_skip:
        return "skipped"
    return "waits"


# Trigger rules


class RuleCase(NamedTuple):
    rule: str
    upstream: tuple[str, str]
    expected: str


TRIGGER_RULE_TABLE = [
    RuleCase("all_success", ("success", "success"), "ready"),
    RuleCase("all_success", ("success", "running"), "waits"),
    RuleCase("all_success", ("failed", "running"), "upstream_failed"),
    RuleCase("all_success", ("upstream_failed", "success"), "upstream_failed"),
    RuleCase("all_success", ("skipped", "running"), "skipped"),
    RuleCase("all_success", ("skipped", "failed"), "upstream_failed"),
    RuleCase("all_success", ("success", "removed"), "ready"),
    RuleCase("all_success", ("removed", "removed"), "ready"),
    RuleCase("all_failed", ("failed", "upstream_failed"), "ready"),
    RuleCase("all_failed", ("failed", "running"), "waits"),
    RuleCase("all_failed", ("failed", "success"), "skipped"),
    RuleCase("all_failed", ("skipped", "failed"), "skipped"),
    RuleCase("all_done", ("success", "failed"), "ready"),
    RuleCase("all_done", ("skipped", "upstream_failed"), "ready"),
    RuleCase("all_done", ("success", "running"), "waits"),
    RuleCase("all_skipped", ("skipped", "skipped"), "ready"),
    RuleCase("all_skipped", ("skipped", "running"), "waits"),
    RuleCase("all_skipped", ("skipped", "success"), "skipped"),
    RuleCase("all_skipped", ("upstream_failed", "running"), "skipped"),
    RuleCase("one_success", ("success", "running"), "ready"),
    RuleCase("one_success", ("failed", "running"), "waits"),
    RuleCase("one_success", ("failed", "skipped"), "upstream_failed"),
    RuleCase("one_success", ("skipped", "skipped"), "skipped"),
    RuleCase("one_failed", ("failed", "running"), "ready"),
    RuleCase("one_failed", ("upstream_failed", "running"), "ready"),
    RuleCase("one_failed", ("success", "running"), "waits"),
    RuleCase("one_failed", ("success", "skipped"), "skipped"),
    RuleCase("one_done", ("success", "running"), "ready"),
    RuleCase("one_done", ("failed", "running"), "ready"),
    RuleCase("one_done", ("skipped", "running"), "waits"),
    RuleCase("one_done", ("skipped", "upstream_failed"), "skipped"),
    RuleCase("none_failed", ("success", "skipped"), "ready"),
    RuleCase("none_failed", ("success", "running"), "waits"),
    RuleCase("none_failed", ("failed", "running"), "upstream_failed"),
    RuleCase("none_failed", ("upstream_failed", "success"), "upstream_failed"),
    RuleCase("none_failed_min_one_success", ("success", "skipped"), "ready"),
    RuleCase("none_failed_min_one_success", ("skipped", "running"), "waits"),
    RuleCase("none_failed_min_one_success", ("skipped", "skipped"), "skipped"),
    RuleCase("none_failed_min_one_success", ("failed", "success"), "upstream_failed"),
    RuleCase("none_skipped", ("success", "failed"), "ready"),
    RuleCase("none_skipped", ("success", "running"), "waits"),
    RuleCase("none_skipped", ("skipped", "running"), "skipped"),
    RuleCase("always", ("running", "running"), "ready"),
    RuleCase("always", ("failed", "skipped"), "ready"),
]


@pytest.mark.parametrize("case", TRIGGER_RULE_TABLE, ids=lambda c: f"{c.rule}-{'-'.join(c.upstream)}")
def test_trigger_rule_decides_from_upstream_states(case: RuleCase) -> None:
    spec = make_spec("u1 >> t, u2 >> t", t={"trigger_rule": case.rule})

    result = plan(spec, {"u1": case.upstream[0], "u2": case.upstream[1]})

    assert outcome(result, "t") == case.expected


def test_trigger_rule_table_covers_every_rule_the_authoring_api_accepts() -> None:
    assert {case.rule for case in TRIGGER_RULE_TABLE} == TRIGGER_RULES == set(TriggerRule)


def test_root_task_is_ready_whatever_its_trigger_rule() -> None:
    spec = make_spec("a", a={"trigger_rule": "all_failed"})

    assert plan(spec).to_schedule == [TIKey("a")]


def test_unknown_trigger_rule_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown trigger rule 'sometimes'"):
        evaluate_trigger_rule("sometimes", UpstreamCounts(total=1))


# Cascades


def test_upstream_failure_marks_the_whole_all_success_chain_upstream_failed_in_one_plan() -> None:
    spec = make_spec("a >> b >> c")

    result = plan(spec, {"a": "failed"})

    assert result.to_upstream_failed == [TIKey("b"), TIKey("c")]
    assert result.run_state is RunState.FAILED


def test_skip_propagates_through_all_success_tasks() -> None:
    spec = make_spec("a >> b >> c")

    result = plan(spec, {"a": "skipped"})

    assert result.to_skip == [TIKey("b"), TIKey("c")]
    assert result.run_state is RunState.SUCCESS


def test_join_after_a_branch_runs_when_the_chosen_path_succeeded_and_the_other_was_skipped() -> None:
    # Given a branch that skipped `right`, whose own downstream has not been decided yet
    spec = make_spec(
        "branch >> left >> join, branch >> right >> right_2 >> join",
        join={"trigger_rule": "none_failed_min_one_success"},
    )

    # When the chosen path has succeeded
    result = plan(spec, {"branch": "success", "left": "success", "right": "skipped"})

    # Then the skip reaches right_2 and the join runs, all in one plan
    assert result.to_skip == [TIKey("right_2")]
    assert result.to_schedule == [TIKey("join")]


def test_task_scheduled_in_this_plan_is_not_yet_done_for_its_downstream() -> None:
    spec = make_spec("a >> b")

    result = plan(spec)

    assert result.to_schedule == [TIKey("a")]
    assert outcome(result, "b") == "waits"
    assert result.run_state is None


def test_scheduled_queued_and_running_instances_are_left_alone() -> None:
    spec = make_spec("a, b, c, d")

    result = plan(spec, {"a": "scheduled", "b": "queued", "c": "running", "d": "restarting"})

    assert result == RunPlan()


# Run state


def test_run_fails_when_a_leaf_failed() -> None:
    assert plan(make_spec("a >> b"), {"a": "success", "b": "failed"}).run_state is RunState.FAILED


def test_run_fails_when_a_non_leaf_failed_and_its_leaf_becomes_upstream_failed() -> None:
    result = plan(make_spec("a >> b"), {"a": "failed"})

    assert result.to_upstream_failed == [TIKey("b")]
    assert result.run_state is RunState.FAILED


def test_run_succeeds_when_a_failure_is_handled_by_an_all_done_leaf() -> None:
    spec = make_spec("a >> cleanup", cleanup={"trigger_rule": "all_done"})

    assert plan(spec, {"a": "failed", "cleanup": "success"}).run_state is RunState.SUCCESS


def test_run_with_every_task_skipped_succeeds() -> None:
    assert plan(make_spec("a >> b"), {"a": "skipped", "b": "skipped"}).run_state is RunState.SUCCESS


def test_run_is_unfinished_while_a_task_is_running_or_waiting_to_retry() -> None:
    spec = make_spec("a, b")

    assert plan(spec, {"a": "success", "b": "running"}).run_state is None
    assert plan(spec, {"a": "success", "b": "up_for_retry"}).run_state is None


def test_run_that_can_never_progress_stays_running_and_says_why() -> None:
    spec = make_spec("t", t={"depends_on_past": True})

    result = plan(spec, past={"t": "failed"}, explain=True)

    assert result.run_state is None
    assert result.to_schedule == []
    assert result.waiting == {TIKey("t"): ["depends_on_past: t in the previous run is failed"]}


# depends_on_past and wait_for_downstream


def test_depends_on_past_is_free_in_the_first_run() -> None:
    spec = make_spec("t", t={"depends_on_past": True})

    assert plan(spec, past=None).to_schedule == [TIKey("t")]


def test_depends_on_past_waits_until_the_previous_run_of_the_task_succeeded_or_skipped() -> None:
    spec = make_spec("t", t={"depends_on_past": True})

    assert plan(spec, past={"t": "running"}).to_schedule == []
    assert plan(spec, past={"t": "failed"}).to_schedule == []
    assert plan(spec, past={"t": "success"}).to_schedule == [TIKey("t")]
    assert plan(spec, past={"t": "skipped"}).to_schedule == [TIKey("t")]


def test_depends_on_past_is_free_when_the_previous_run_did_not_have_the_task() -> None:
    spec = make_spec("t", t={"depends_on_past": True})

    assert plan(spec, past={"other": "failed"}).to_schedule == [TIKey("t")]


def test_depends_on_past_does_not_hold_back_an_upstream_failure() -> None:
    spec = make_spec("a >> t", t={"depends_on_past": True})

    result = plan(spec, {"a": "failed"}, past={"a": "success", "t": "failed"})

    assert result.to_upstream_failed == [TIKey("t")]


def test_mapped_task_depending_on_past_waits_for_all_its_previous_map_indexes() -> None:
    spec = make_spec("m", mapped=["m"], m={"depends_on_past": True})

    waiting = plan(spec, {"m": ["none", "none"]}, past={"m": ["success", "failed"]})
    released = plan(spec, {"m": ["none", "none"]}, past={"m": ["success", "skipped"]})

    assert waiting.to_schedule == []
    assert released.to_schedule == [TIKey("m", 0), TIKey("m", 1)]


def test_wait_for_downstream_also_waits_for_the_previous_runs_direct_downstream() -> None:
    spec = make_spec("t >> d >> e", t={"wait_for_downstream": True})

    waiting = plan(spec, past={"t": "success", "d": "failed", "e": "upstream_failed"}, explain=True)
    released = plan(spec, past={"t": "success", "d": "success", "e": "failed"})

    assert waiting.waiting[TIKey("t")] == ["wait_for_downstream: d in the previous run is failed"]
    assert released.to_schedule == [TIKey("t")]


# Retries and reschedules


def test_up_for_retry_instance_waits_for_its_retry_time_then_is_scheduled() -> None:
    spec = make_spec("a")
    retry = TIView(TIKey("a"), TaskState.UP_FOR_RETRY, try_number=1, next_try_at=NOW + timedelta(minutes=5))

    before = plan(spec, {}, retry, now=NOW)
    after = plan(spec, {}, retry, now=NOW + timedelta(minutes=5))

    assert before.to_schedule == []
    assert before.next_check_at == NOW + timedelta(minutes=5)
    assert after.to_schedule == [TIKey("a")]
    assert after.next_check_at is None


def test_next_check_at_is_the_earliest_future_retry_or_reschedule() -> None:
    spec = make_spec("a, b, c")
    views = [
        TIView(TIKey("a"), TaskState.UP_FOR_RETRY, next_try_at=NOW + timedelta(minutes=10)),
        TIView(TIKey("b"), TaskState.UP_FOR_RESCHEDULE, next_try_at=NOW + timedelta(minutes=2)),
        TIView(TIKey("c"), TaskState.UP_FOR_RETRY, next_try_at=NOW - timedelta(minutes=1)),
    ]

    result = plan(spec, {}, *views)

    assert result.to_schedule == [TIKey("c")]
    assert result.next_check_at == NOW + timedelta(minutes=2)


def test_up_for_reschedule_without_a_time_is_scheduled_at_once() -> None:
    spec = make_spec("s")

    assert plan(spec, {"s": "up_for_reschedule"}).to_schedule == [TIKey("s")]


def test_retry_delay_doubles_per_try_with_exponential_backoff_up_to_the_maximum() -> None:
    task = make_spec("t", t={"retry_delay": 60, "retry_exponential_backoff": True, "max_retry_delay": 300}).tasks["t"]

    delays = [retry_delay(task, n).total_seconds() for n in (1, 2, 3, 4, 1000)]

    assert delays == [60, 120, 240, 300, 300]


def test_retry_delay_is_constant_without_backoff_and_never_overflows_with_it() -> None:
    constant = make_spec("t", t={"retry_delay": 30}).tasks["t"]
    uncapped = make_spec("t", t={"retry_delay": 30, "retry_exponential_backoff": True}).tasks["t"]

    assert retry_delay(constant, 7) == timedelta(seconds=30)
    assert retry_delay(uncapped, 10_000) > timedelta(days=365)


def test_retry_at_is_the_failure_time_plus_the_delay() -> None:
    task = make_spec("t", t={"retry_delay": 60}).tasks["t"]

    assert retry_at(task, try_number=1, failed_at=NOW) == NOW + timedelta(minutes=1)


def test_retries_two_allows_three_tries() -> None:
    task = make_spec("t", t={"retries": 2}).tasks["t"]

    assert [can_retry(task, n) for n in (1, 2, 3)] == [True, True, False]


# Mapped tasks


def test_mapped_placeholder_is_expanded_not_scheduled_once_its_upstream_succeeded() -> None:
    spec = make_spec("a >> m", mapped=["m"])

    waiting = plan(spec, {"a": "running"})
    ready = plan(spec, {"a": "success"})

    assert waiting.to_expand == []
    assert ready.to_expand == ["m"]
    assert ready.to_schedule == []


def test_mapped_placeholder_of_a_failed_upstream_becomes_upstream_failed() -> None:
    spec = make_spec("a >> m", mapped=["m"])

    assert plan(spec, {"a": "failed"}).to_upstream_failed == [TIKey("m")]


def test_expanded_map_indexes_are_scheduled_each() -> None:
    spec = make_spec("a >> m", mapped=["m"])

    result = plan(spec, {"a": "success", "m": ["none", "none", "none"]})

    assert result.to_schedule == [TIKey("m", 0), TIKey("m", 1), TIKey("m", 2)]


def test_downstream_of_a_mapped_task_waits_for_all_its_map_indexes() -> None:
    spec = make_spec("m >> d", mapped=["m"])

    assert outcome(plan(spec, {"m": "none"}), "d") == "waits"
    assert outcome(plan(spec, {"m": ["success", "running"]}), "d") == "waits"
    assert outcome(plan(spec, {"m": ["success", "success"]}), "d") == "ready"
    assert outcome(plan(spec, {"m": ["success", "failed"]}), "d") == "upstream_failed"


# Priority weights


@pytest.mark.parametrize(
    ("weight_rule", "expected"),
    [
        ("downstream", {"a": 15, "b": 10, "c": 12, "d": 8}),
        ("upstream", {"a": 1, "b": 3, "c": 5, "d": 15}),
        ("absolute", {"a": 1, "b": 2, "c": 4, "d": 8}),
    ],
)
def test_priority_weights_on_a_diamond_count_each_relative_once(weight_rule: str, expected: dict[str, int]) -> None:
    spec = make_spec(
        "a >> b >> d, a >> c >> d",
        a={"priority_weight": 1, "weight_rule": weight_rule},
        b={"priority_weight": 2, "weight_rule": weight_rule},
        c={"priority_weight": 4, "weight_rule": weight_rule},
        d={"priority_weight": 8, "weight_rule": weight_rule},
    )

    assert priority_weights(spec) == expected


# Why isn't it running


def test_explain_gives_a_reason_for_every_unfinished_instance_that_is_not_ready() -> None:
    spec = make_spec("a >> d, b >> d, c >> d, q, r, s")
    retry = TIView(TIKey("r"), TaskState.UP_FOR_RETRY, next_try_at=NOW + timedelta(minutes=5))
    poke = TIView(TIKey("s"), TaskState.UP_FOR_RESCHEDULE, next_try_at=NOW + timedelta(minutes=1))

    result = plan(spec, {"a": "success", "b": "running", "c": "queued", "q": "queued"}, retry, poke, explain=True)

    assert result.waiting == {
        TIKey("b"): ["already running"],
        TIKey("c"): ["already queued"],
        TIKey("d"): ["trigger rule all_success: waiting for b, c"],
        TIKey("q"): ["already queued"],
        TIKey("r"): ["retry at 2024-01-01T12:05:00+00:00"],
        TIKey("s"): ["up_for_reschedule until 2024-01-01T12:01:00+00:00"],
    }


def test_explain_lists_both_the_trigger_rule_and_the_past_run() -> None:
    spec = make_spec("a >> t", t={"depends_on_past": True})

    result = plan(spec, {"a": "running"}, past={"a": "success", "t": "failed"}, explain=True)

    assert result.waiting[TIKey("t")] == [
        "trigger rule all_success: waiting for a",
        "depends_on_past: t in the previous run is failed",
    ]


def test_without_explain_no_reasons_are_built() -> None:
    assert plan(make_spec("a >> b"), {"a": "running"}).waiting == {}
