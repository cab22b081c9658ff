"""What the DAGs page lists: a filtered page of DAG rows and, for the DAGs of that page, their tags, latest
run, run counts per state and the task states of their recent runs. Each is one query whatever the page
size, so the page costs the same number of queries with 10 DAGs or 200."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from flowctl.db.models import Dag, DagRun, DagTag, TaskInstance
from flowctl.state import RunState


@dataclass(frozen=True, slots=True)
class DagFilter:
    """Which DAGs the page lists: a case-insensitive search on dag_id and owners, any of `tags`, and
    paused / active (None: both). Stale DAGs (gone from their files) only with `include_stale`."""

    search: str = ""
    tags: tuple[str, ...] = ()
    paused: bool | None = None
    include_stale: bool = False


@dataclass(frozen=True, slots=True)
class RunSummary:
    id: int
    dag_id: str
    run_id: str
    run_type: str
    state: str
    logical_date: datetime
    start_date: datetime | None
    end_date: datetime | None


def _conditions(wanted: DagFilter, *, with_paused: bool = True) -> list[Any]:
    conditions: list[Any] = []
    if not wanted.include_stale:
        conditions.append(Dag.is_stale.is_(False))
    if wanted.search:
        conditions.append(
            or_(
                Dag.dag_id.icontains(wanted.search, autoescape=True),
                Dag.owners.icontains(wanted.search, autoescape=True),
            )
        )
    if wanted.tags:
        conditions.append(Dag.dag_id.in_(select(DagTag.dag_id).where(DagTag.name.in_(wanted.tags))))
    if with_paused and wanted.paused is not None:
        conditions.append(Dag.is_paused.is_(wanted.paused))
    return conditions


def dag_page(session: Session, wanted: DagFilter, *, offset: int, limit: int) -> list[Dag]:
    """One page of the DAGs that match, by dag_id."""
    query = select(Dag).where(*_conditions(wanted)).order_by(Dag.dag_id).offset(offset).limit(limit)
    return list(session.scalars(query))


def count_by_paused(session: Session, wanted: DagFilter) -> dict[bool, int]:
    """How many DAGs match the filter but for its paused part, paused (True) and active (False)."""
    rows = session.execute(
        select(Dag.is_paused, func.count()).where(*_conditions(wanted, with_paused=False)).group_by(Dag.is_paused)
    )
    counts = {True: 0, False: 0}
    for paused, count in rows:
        counts[bool(paused)] += count
    return counts


def tags_of(session: Session, dag_ids: Iterable[str]) -> dict[str, list[str]]:
    ids = list(dag_ids)
    tags: dict[str, list[str]] = {}
    if ids:
        query = select(DagTag.dag_id, DagTag.name).where(DagTag.dag_id.in_(ids)).order_by(DagTag.name)
        for dag_id, name in session.execute(query):
            tags.setdefault(dag_id, []).append(name)
    return tags


def tag_names(session: Session) -> list[str]:
    """Every tag some non-stale DAG carries."""
    query = (
        select(DagTag.name)
        .join(Dag, Dag.dag_id == DagTag.dag_id)
        .where(Dag.is_stale.is_(False))
        .distinct()
        .order_by(DagTag.name)
    )
    return list(session.scalars(query))


def latest_runs(session: Session, dag_ids: Iterable[str]) -> dict[str, RunSummary]:
    """Each DAG's run with the latest logical date, for those that have runs."""
    ids = list(dag_ids)
    if not ids:
        return {}
    latest = (
        select(DagRun.dag_id, func.max(DagRun.logical_date).label("latest"))
        .where(DagRun.dag_id.in_(ids))
        .group_by(DagRun.dag_id)
        .subquery()
    )
    query = select(
        DagRun.id,
        DagRun.dag_id,
        DagRun.run_id,
        DagRun.run_type,
        DagRun.state,
        DagRun.logical_date,
        DagRun.start_date,
        DagRun.end_date,
    ).join(latest, (DagRun.dag_id == latest.c.dag_id) & (DagRun.logical_date == latest.c.latest))
    return {row.dag_id: RunSummary(*row) for row in session.execute(query)}


def run_state_counts(session: Session, dag_ids: Iterable[str]) -> dict[str, dict[str, int]]:
    """dag_id -> {run state: how many runs}."""
    ids = list(dag_ids)
    counts: dict[str, dict[str, int]] = {}
    if ids:
        query = (
            select(DagRun.dag_id, DagRun.state, func.count())
            .where(DagRun.dag_id.in_(ids))
            .group_by(DagRun.dag_id, DagRun.state)
        )
        for dag_id, state, count in session.execute(query):
            counts.setdefault(dag_id, {})[state] = count
    return counts


def recent_task_state_counts(
    session: Session, latest: Mapping[str, RunSummary], *, running: Collection[str]
) -> dict[str, dict[str, int]]:
    """dag_id -> {task state: how many task instances} over the DAG's running runs, or over its latest
    run when none is running (Airflow's "recent tasks"). `running` names the DAGs with a running run."""
    chosen: list[Any] = []
    if running:
        chosen.append(DagRun.dag_id.in_(list(running)) & (DagRun.state == RunState.RUNNING))
    fallback = [run.id for dag_id, run in latest.items() if dag_id not in running]
    if fallback:
        chosen.append(DagRun.id.in_(fallback))
    counts: dict[str, dict[str, int]] = {}
    if not chosen:
        return counts
    query = (
        select(TaskInstance.dag_id, TaskInstance.state, func.count())
        .join(DagRun, (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id))
        .where(or_(*chosen))
        .group_by(TaskInstance.dag_id, TaskInstance.state)
    )
    for dag_id, state, count in session.execute(query):
        counts.setdefault(dag_id, {})[state] = count
    return counts
