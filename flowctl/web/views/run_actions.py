"""Clear and mark, from the run and task instance pages (User role, POST with CSRF): a first post shows
what would change (a dry run of services.clear) and asks to confirm; the confirmed post does it through the
same services as the CLI and the API, wakes the scheduler and goes back to the page with a message."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from flowctl.db.models import TaskInstance
from flowctl.db.queries import run_details
from flowctl.exceptions import NotFound
from flowctl.roles import Role
from flowctl.services.actor import Actor
from flowctl.services.clear import Selection, clear, mark, select_task_instances
from flowctl.services.dags import require_dag
from flowctl.services.wakeup import poke
from flowctl.state import TaskState
from flowctl.web import db, run_pages
from flowctl.web.auth import actor_name, require_role
from flowctl.web.views.runs import RUN, TASK

bp = Blueprint("run_actions", __name__)

AFFECTED_SHOWN = 200  # a confirmation lists this many task instances, then counts the rest
MARKABLE = {"success": TaskState.SUCCESS, "failed": TaskState.FAILED}
_TRUE = frozenset({"1", "on", "true", "yes"})


@bp.post(f"{TASK}/clear")
@require_role(Role.USER)
def clear_task(dag_id: str, run_id: str, task_id: str) -> Any:
    ti = _ti_from_form(dag_id, run_id, task_id)
    options = {name: _flag(name) for name in ("downstream", "upstream", "only_failed")}
    return _act(
        dag_id,
        _task_selection(ti, **options),
        state=None,
        what=f"Clear task instance {_label(ti)}",
        action=url_for(".clear_task", dag_id=dag_id, run_id=run_id, task_id=task_id),
        fields={"map_index": str(ti.map_index), **{k: "1" for k, v in options.items() if v}},
        back=_ti_url(ti),
    )


@bp.post(f"{TASK}/mark/<state>")
@require_role(Role.USER)
def mark_task(dag_id: str, run_id: str, task_id: str, state: str) -> Any:
    target = _markable(state)
    ti = _ti_from_form(dag_id, run_id, task_id)
    options = {name: _flag(name) for name in ("downstream", "upstream")}
    return _act(
        dag_id,
        _task_selection(ti, **options),
        state=target,
        what=f"Mark task instance {_label(ti)} {target}",
        action=url_for(".mark_task", dag_id=dag_id, run_id=run_id, task_id=task_id, state=state),
        fields={"map_index": str(ti.map_index), **{k: "1" for k, v in options.items() if v}},
        back=_ti_url(ti),
    )


@bp.post(f"{RUN}/clear")
@require_role(Role.USER)
def clear_run(dag_id: str, run_id: str) -> Any:
    run_pages.load_run(db.session(), dag_id, run_id)
    only_failed = _flag("only_failed")
    return _act(
        dag_id,
        Selection(run_ids=[run_id], only_failed=only_failed),
        state=None,
        what=f"Clear {'the failed task instances of ' if only_failed else ''}run {run_id}",
        action=url_for(".clear_run", dag_id=dag_id, run_id=run_id),
        fields={"only_failed": "1"} if only_failed else {},
        back=url_for("runs.run", dag_id=dag_id, run_id=run_id),
    )


@bp.post(f"{RUN}/mark/<state>")
@require_role(Role.USER)
def mark_run(dag_id: str, run_id: str, state: str) -> Any:
    """No service marks a run itself: its task instances are marked (removed ones left out) and the
    scheduler then gives the run the state that follows from them."""
    target = _markable(state)
    session = db.session()
    run_pages.load_run(session, dag_id, run_id)
    rows = run_details.task_states(session, dag_id, run_id)
    task_ids = sorted({row.task_id for row in rows if row.state != TaskState.REMOVED})
    return _act(
        dag_id,
        Selection(run_ids=[run_id], task_ids=task_ids),
        state=target,
        what=f"Mark run {run_id} {target}",
        action=url_for(".mark_run", dag_id=dag_id, run_id=run_id, state=state),
        fields={},
        back=url_for("runs.run", dag_id=dag_id, run_id=run_id),
    )


def _act(
    dag_id: str,
    selection: Selection,
    *,
    state: TaskState | None,
    what: str,
    action: str,
    fields: dict[str, str],
    back: str,
) -> Any:
    """Without `confirmed`: a page listing what would change (a dry run). With it: clear (state None) or
    mark, commit, wake the scheduler, and go back with a message."""
    session = db.session()
    actor = Actor(actor_name(), datetime.now(UTC))
    verb = "clear" if state is None else f"mark {state}"
    if not _flag("confirmed"):
        if state is None:
            affected = clear(session, dag_id, selection, actor=actor, dry_run=True)
        else:
            affected = [ti for ti in select_task_instances(session, dag_id, selection) if ti.state != state]
        if not affected:
            flash(f"Nothing to {verb}: no task instance matches.", "info")
            return redirect(back)
        return render_template(
            "run/confirm.html",
            dag=require_dag(session, dag_id),  # for the DAG header and its tabs
            run_id=selection.run_ids[0] if selection.run_ids and len(selection.run_ids) == 1 else None,
            what=what,
            verb=verb,
            new_state=state or TaskState.NONE,
            affected=affected[:AFFECTED_SHOWN],
            count=len(affected),
            action=action,
            fields=fields,
            back=back,
        )
    if state is None:
        changed = clear(session, dag_id, selection, actor=actor)
    else:
        changed = mark(session, dag_id, selection, state, actor=actor)
    db.commit()
    poke(db.settings().home)
    flash(f"{'Cleared' if state is None else f'Marked {state}'}: {_count(len(changed))}.", "success")
    return redirect(back)


def _task_selection(ti: TaskInstance, *, downstream: bool, upstream: bool, only_failed: bool = False) -> Selection:
    # A map index limits every task of the selection, so relatives are taken whole.
    narrow = ti.map_index >= 0 and not (downstream or upstream)
    return Selection(
        run_ids=[ti.run_id],
        task_ids=[ti.task_id],
        map_indexes=[ti.map_index] if narrow else None,
        downstream=downstream,
        upstream=upstream,
        only_failed=only_failed,
    )


def _ti_from_form(dag_id: str, run_id: str, task_id: str) -> TaskInstance:
    session = db.session()
    _dag, dag_run = run_pages.load_run(session, dag_id, run_id)
    map_index = run_pages.parse_int("map_index", request.form.get("map_index"), minimum=-1)
    return run_pages.require_ti(session, dag_run, task_id, -1 if map_index is None else map_index)


def _markable(state: str) -> TaskState:
    if state not in MARKABLE:
        raise NotFound(f"a task instance can be marked success or failed, not {state[:40]!r}")
    return MARKABLE[state]


def _flag(name: str) -> bool:
    return request.form.get(name, "").lower() in _TRUE


def _label(ti: TaskInstance) -> str:
    return ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"


def _ti_url(ti: TaskInstance) -> str:
    extra = {"map_index": ti.map_index} if ti.map_index >= 0 else {}
    return url_for("runs.task_instance", dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, **extra)


def _count(n: int) -> str:
    return f"{n} task instance{'' if n == 1 else 's'}"
