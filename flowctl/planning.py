"""Planning one DAG run: from its DAG and task instance states, what should change now, and why the
rest waits; plus retry delays and priority weights.

Pure core: no DB, no processes, no clock reads (`now` is an argument). Imports only the standard
library and flowctl.state, flowctl.serialization and flowctl.trigger_rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from flowctl.serialization import DagSpec, TaskSpec
from flowctl.state import FINISHED_TASK_STATES, RunState, TaskState
from flowctl.trigger_rules import UpstreamCounts, Verdict, evaluate_trigger_rule

# TIKey and TIView are named tuples rather than dataclasses: the scheduler makes one per task instance
# of a run each time a try finishes, and tuples are several times cheaper to build, hash and sort.


class TIKey(NamedTuple):
    """A task instance in one run; map_index -1 for an unmapped task or a mapped one not yet expanded."""

    task_id: str
    map_index: int = -1

    def __str__(self) -> str:
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"


class TIView(NamedTuple):
    """What planning needs to know of a task instance."""

    key: TIKey
    state: TaskState
    try_number: int = 0
    next_try_at: datetime | None = None  # when an up_for_retry / up_for_reschedule instance may run again


@dataclass(frozen=True, slots=True)
class PastRun:
    """The task instance states of the previous run by logical date (for depends_on_past)."""

    states: Mapping[TIKey, TaskState]


@dataclass(frozen=True, slots=True)
class RunPlan:
    """The changes one run needs now; the caller persists them as guarded transitions."""

    to_schedule: list[TIKey] = field(default_factory=list)
    to_upstream_failed: list[TIKey] = field(default_factory=list)
    to_skip: list[TIKey] = field(default_factory=list)
    to_expand: list[str] = field(default_factory=list)  # mapped tasks whose map indexes can be created
    run_state: RunState | None = None  # SUCCESS / FAILED once every task instance is finished
    next_check_at: datetime | None = None  # the earliest retry / reschedule time still to come
    waiting: dict[TIKey, list[str]] = field(default_factory=dict)  # why each unfinished TI is not ready


_RETRY_STATES = frozenset({TaskState.UP_FOR_RETRY, TaskState.UP_FOR_RESCHEDULE})
_FAILED_STATES = frozenset({TaskState.FAILED, TaskState.UPSTREAM_FAILED})
# A past instance that was removed will never finish: it must not hold the next run back.
_PAST_DONE_STATES = frozenset({TaskState.SUCCESS, TaskState.SKIPPED, TaskState.REMOVED})
# An upstream task with no instance in this run counts as one instance not yet done.
_NO_INSTANCES: Counter[TaskState] = Counter({TaskState.NONE: 1})
# The counts of a task with one instance, by its state (shared, never changed: cheaper than a new Counter).
_ONE_INSTANCE: dict[TaskState, Counter[TaskState]] = {state: Counter({state: 1}) for state in TaskState}
_IN_PROGRESS_REASONS = {
    TaskState.SCHEDULED: "already scheduled",
    TaskState.QUEUED: "already queued",
    TaskState.RUNNING: "already running",
    TaskState.RESTARTING: "restarting after a clear",
}


def plan_run(
    spec: DagSpec,
    tis: Mapping[TIKey, TIView],
    *,
    now: datetime,
    past: PastRun | None,
    explain: bool = False,
) -> RunPlan:
    """What should change in one run at `now`. `past` is None for the first run (depends_on_past is
    then free); with `explain`, `waiting` says why each unfinished instance is not ready.

    Decisions cascade in one call: instances are visited in topological order and each decision is
    applied before the next instance is looked at. A run whose remaining instances can never become
    ready is left running (not failed): `waiting` tells why.
    """
    return _Planner(spec, tis, now=now, past=past, explain=explain).plan()


class _Planner:
    """The working state of one plan_run call."""

    def __init__(
        self,
        spec: DagSpec,
        tis: Mapping[TIKey, TIView],
        *,
        now: datetime,
        past: PastRun | None,
        explain: bool,
    ) -> None:
        self.spec = spec
        self.tis = tis
        self.now = now
        self.explain = explain
        self.states = {key: ti.state for key, ti in tis.items()}
        self.keys_by_task = _keys_by_task(tis)
        self.past_by_task = None if past is None else _keys_by_task(past.states)
        self.past_states: Mapping[TIKey, TaskState] = {} if past is None else past.states
        self.task_counts: dict[str, Counter[TaskState]] = {}
        self.to_schedule: list[TIKey] = []
        self.to_upstream_failed: list[TIKey] = []
        self.to_skip: list[TIKey] = []
        self.to_expand: list[str] = []
        self.next_check_at: datetime | None = None
        self.waiting: dict[TIKey, list[str]] = {}

    def plan(self) -> RunPlan:
        for task in self.spec.tasks.values():
            keys = self.keys_by_task.get(task.task_id, [])
            for key in keys:
                self._plan_instance(task, self.tis[key])
            if len(keys) == 1:
                self.task_counts[task.task_id] = _ONE_INSTANCE[self.states[keys[0]]]
            else:
                self.task_counts[task.task_id] = Counter(self.states[k] for k in keys) if keys else _NO_INSTANCES
        return RunPlan(
            to_schedule=self.to_schedule,
            to_upstream_failed=self.to_upstream_failed,
            to_skip=self.to_skip,
            to_expand=self.to_expand,
            run_state=self._run_state(),
            next_check_at=self.next_check_at,
            waiting=self.waiting,
        )

    def _plan_instance(self, task: TaskSpec, ti: TIView) -> None:
        if ti.state in FINISHED_TASK_STATES:
            return
        if ti.state in _RETRY_STATES:
            self._plan_retry(ti)
        elif ti.state is not TaskState.NONE:
            self._wait(ti.key, [_IN_PROGRESS_REASONS[ti.state]])
        else:
            self._plan_new(task, ti.key)

    def _plan_new(self, task: TaskSpec, key: TIKey) -> None:
        verdict = evaluate_trigger_rule(task.trigger_rule, self._upstream_counts(task))
        if verdict is Verdict.UPSTREAM_FAILED:
            self._decide(key, TaskState.UPSTREAM_FAILED, self.to_upstream_failed)
            return
        if verdict is Verdict.SKIP:
            self._decide(key, TaskState.SKIPPED, self.to_skip)
            return
        ready = verdict is Verdict.READY
        placeholder = task.is_mapped and key.map_index < 0
        if placeholder and ready:
            self.to_expand.append(task.task_id)
            return
        # Expanding only creates the map indexes; each of them then waits on the previous run on its own.
        past_reasons = [] if placeholder or not (ready or self.explain) else self._past_reasons(task, key)
        if ready and not past_reasons:
            self._decide(key, TaskState.SCHEDULED, self.to_schedule)
        elif self.explain:
            self.waiting[key] = ([] if ready else [self._trigger_rule_reason(task)]) + past_reasons

    def _plan_retry(self, ti: TIView) -> None:
        if ti.next_try_at is None or ti.next_try_at <= self.now:
            self._decide(ti.key, TaskState.SCHEDULED, self.to_schedule)
            return
        if self.next_check_at is None or ti.next_try_at < self.next_check_at:
            self.next_check_at = ti.next_try_at
        at = ti.next_try_at.isoformat()
        self._wait(
            ti.key,
            [f"retry at {at}" if ti.state is TaskState.UP_FOR_RETRY else f"up_for_reschedule until {at}"],
        )

    def _decide(self, key: TIKey, state: TaskState, bucket: list[TIKey]) -> None:
        self.states[key] = state
        bucket.append(key)

    def _wait(self, key: TIKey, reasons: list[str]) -> None:
        if self.explain:
            self.waiting[key] = reasons

    def _upstream_counts(self, task: TaskSpec) -> UpstreamCounts:
        states: Counter[TaskState] = Counter()
        for upstream_id in task.upstream:
            states.update(self.task_counts[upstream_id])
        return UpstreamCounts.of(states)

    def _trigger_rule_reason(self, task: TaskSpec) -> str:
        pending = [
            upstream_id
            for upstream_id in task.upstream
            if any(state not in FINISHED_TASK_STATES for state in self.task_counts[upstream_id])
        ]
        return f"trigger rule {task.trigger_rule}: waiting for {', '.join(pending)}"

    def _past_reasons(self, task: TaskSpec, key: TIKey) -> list[str]:
        if self.past_by_task is None or not task.depends_on_past:
            return []
        # A mapped task waits for all map indexes of itself in the previous run.
        own = self.past_by_task.get(task.task_id, []) if task.is_mapped else [key]
        reasons = self._unfinished_in_past("depends_on_past", own)
        if task.wait_for_downstream:
            for downstream_id in task.downstream:
                downstream = self.past_by_task.get(downstream_id, [])
                reasons += self._unfinished_in_past("wait_for_downstream", downstream)
        return reasons

    def _unfinished_in_past(self, label: str, keys: Iterable[TIKey]) -> list[str]:
        return [
            f"{label}: {key} in the previous run is {state}"
            for key in keys
            # A task the previous run did not have does not hold this one back.
            if (state := self.past_states.get(key, TaskState.SUCCESS)) not in _PAST_DONE_STATES
        ]

    def _run_state(self) -> RunState | None:
        leaf_failed = False
        for task in self.spec.tasks.values():
            states = self.task_counts[task.task_id]
            if any(state not in FINISHED_TASK_STATES for state in states):
                return None
            leaf_failed = leaf_failed or (not task.downstream and any(s in _FAILED_STATES for s in states))
        return RunState.FAILED if leaf_failed else RunState.SUCCESS


def _keys_by_task(keys: Iterable[TIKey]) -> dict[str, list[TIKey]]:
    by_task: dict[str, list[TIKey]] = {}
    for key in sorted(keys):
        by_task.setdefault(key.task_id, []).append(key)
    return by_task


# Retries


# timedelta overflows beyond ~2.7 million years; exponential backoff gets there after ~50 tries.
_LONGEST_RETRY_DELAY_SECONDS = 1000 * 365 * 86400.0


def retry_delay(task: TaskSpec, try_number: int) -> timedelta:
    """How long to wait after try `try_number` failed: `retry_delay`, or with exponential backoff
    `retry_delay * 2 ** (try_number - 1)` capped by `max_retry_delay` (as in Airflow, without jitter)."""
    seconds = task.retry_delay
    if task.retry_exponential_backoff:
        seconds *= 2.0 ** min(max(try_number - 1, 0), 64)
        if task.max_retry_delay is not None:
            seconds = min(seconds, task.max_retry_delay)
    return timedelta(seconds=min(seconds, _LONGEST_RETRY_DELAY_SECONDS))


def retry_at(task: TaskSpec, *, try_number: int, failed_at: datetime) -> datetime:
    """When the next try may start after try `try_number` failed at `failed_at`."""
    return failed_at + retry_delay(task, try_number)


def can_retry(task: TaskSpec, try_number: int) -> bool:
    """Whether a task may try again after `try_number` tries: retries=2 allows 3 tries."""
    return try_number < task.retries + 1


# Priority


def priority_weights(spec: DagSpec) -> dict[str, int]:
    """Each task's effective priority: its own priority_weight plus, by its weight_rule, the weights of
    all its transitive downstream tasks (`downstream`), upstream tasks (`upstream`) or none (`absolute`)."""
    tasks = list(spec.tasks.values())
    rules = {task.weight_rule for task in tasks}
    relatives = {
        "downstream": _transitive(reversed(tasks), lambda t: t.downstream) if "downstream" in rules else {},
        "upstream": _transitive(tasks, lambda t: t.upstream) if "upstream" in rules else {},
    }
    weights: dict[str, int] = {}
    for task in tasks:
        counted = relatives.get(task.weight_rule, {}).get(task.task_id, set())
        weights[task.task_id] = task.priority_weight + sum(spec.tasks[r].priority_weight for r in counted)
    return weights


def _transitive(tasks: Iterable[TaskSpec], neighbours: Callable[[TaskSpec], Iterable[str]]) -> dict[str, set[str]]:
    """All tasks reachable through `neighbours`; `tasks` must list every task after its neighbours."""
    found: dict[str, set[str]] = {}
    for task in tasks:
        reachable: set[str] = set()
        for neighbour in neighbours(task):
            reachable.add(neighbour)
            reachable |= found[neighbour]
        found[task.task_id] = reachable
    return found
