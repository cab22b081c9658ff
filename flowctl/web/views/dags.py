"""The DAGs page (`/`): every DAG with its schedule, next and last run, run counts and recent task states,
with tag / search / paused filters, paging and the import-errors banner; and the DAG actions: pause or
unpause, trigger (a form built from the DAG's params) and delete. static/dags.js refreshes the states
from `/dags.json` without reloading the page.

A page costs the same handful of queries whatever number of DAGs it shows (flowctl.db.queries.dag_overview).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pendulum
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional

from flowctl.db.queries import dag_overview as overview
from flowctl.db.queries.dags import dags_by_id, list_import_errors
from flowctl.db.types import ID_LEN
from flowctl.exceptions import AlreadyExists, InvalidInput
from flowctl.roles import Role
from flowctl.services.actor import Actor
from flowctl.services.dags import dag_spec, delete_dag, require_dag, set_paused
from flowctl.services.runs import trigger_dag
from flowctl.services.wakeup import poke
from flowctl.state import RunState
from flowctl.web import db
from flowctl.web.auth import actor_name, require_role
from flowctl.web.security import safe_next
from flowctl.web.views.trigger_form import conf_from_form, param_fields

bp = Blueprint("dags", __name__)

PAGE_SIZE = 50
MAX_POLLED_DAGS = 200
RUN_STATES = (RunState.QUEUED, RunState.RUNNING, RunState.SUCCESS, RunState.FAILED)
STATUS_FILTERS: dict[str, bool | None] = {"all": None, "active": False, "paused": True}


@dataclass(frozen=True, slots=True)
class DagStates:
    """What changes while the page is open: the latest run, run counts and recent task states."""

    last_run: overview.RunSummary | None
    run_counts: dict[str, int]
    task_counts: dict[str, int]


def dag_url(dag_id: str, page: str) -> str:
    """A page of one DAG (grid, graph, code...), whichever blueprint serves it."""
    return f"{request.script_root}/dags/{quote(dag_id, safe='')}/{page}"


@bp.get("/")
@require_role(Role.VIEWER)
def index() -> Any:
    session = db.session()
    status = request.args.get("status", "all")
    status = status if status in STATUS_FILTERS else "all"
    wanted = overview.DagFilter(
        search=request.args.get("search", "").strip()[:ID_LEN],
        tags=tuple(sorted({tag for tag in request.args.getlist("tags") if tag}))[:50],
        paused=STATUS_FILTERS[status],
        include_stale=request.args.get("stale") == "1",
    )
    counts = overview.count_by_paused(session, wanted)
    total = counts[True] + counts[False] if wanted.paused is None else counts[wanted.paused]
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    dags = overview.dag_page(session, wanted, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    dag_ids = [dag.dag_id for dag in dags]
    return render_template(
        "dags/list.html",
        dags=dags,
        states=_states(session, dag_ids),
        tags=overview.tags_of(session, dag_ids),
        all_tags=overview.tag_names(session),
        import_errors=list_import_errors(session),
        wanted=wanted,
        status=status,
        counts=counts,
        total=total,
        page=page,
        pages=pages,
        page_url=_page_url,
        run_states=RUN_STATES,
        dag_url=dag_url,
    )


def _page_url(**changes: Any) -> str:
    """This page's URL with some query arguments changed (None drops one)."""
    args: dict[str, Any] = {key: request.args.getlist(key) for key in request.args}
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return url_for("dags.index", **args)


def _states(session: Session, dag_ids: list[str]) -> dict[str, DagStates]:
    latest = overview.latest_runs(session, dag_ids)
    run_counts = overview.run_state_counts(session, dag_ids)
    running = {dag_id for dag_id, counts in run_counts.items() if counts.get(RunState.RUNNING)}
    task_counts = overview.recent_task_state_counts(session, latest, running=running)
    return {
        dag_id: DagStates(latest.get(dag_id), run_counts.get(dag_id, {}), task_counts.get(dag_id, {}))
        for dag_id in dag_ids
    }


@bp.get("/dags.json")
@require_role(Role.VIEWER)
def states() -> Any:
    """`{"dags": {dag_id: {is_paused, last_run, run_counts, task_counts}}}` for `?dag_ids=a&dag_ids=b`."""
    dag_ids = list(dict.fromkeys(request.args.getlist("dag_ids")))
    if len(dag_ids) > MAX_POLLED_DAGS or any(not dag_id or len(dag_id) > ID_LEN for dag_id in dag_ids):
        abort(400, description=f"dag_ids: 1 to {MAX_POLLED_DAGS} ids of at most {ID_LEN} characters")
    session = db.session()
    rows = dags_by_id(session, dag_ids)
    found = [dag_id for dag_id in dag_ids if dag_id in rows]
    answer = {}
    for dag_id, current in _states(session, found).items():
        run = current.last_run
        answer[dag_id] = {
            "is_paused": rows[dag_id].is_paused,
            "last_run": None
            if run is None
            else {"run_id": run.run_id, "state": run.state, "logical_date": _time_parts(run.logical_date)},
            "run_counts": {state: current.run_counts.get(state, 0) for state in RUN_STATES},
            "task_counts": current.task_counts,
        }
    return jsonify({"dags": answer})


def _time_parts(value: datetime) -> dict[str, str]:
    """An instant as the `when` filter shows it, for the page script to write into a <time>."""
    moment = pendulum.instance(value)
    return {
        "iso": moment.in_timezone("UTC").isoformat(),
        "utc": moment.in_timezone("UTC").format("YYYY-MM-DD HH:mm:ss") + " UTC",
        "local": moment.in_timezone(db.settings().ui_timezone).format("YYYY-MM-DD HH:mm:ss zz"),
    }


def _actor() -> Actor:
    return Actor(actor_name(), datetime.now(UTC))


def _back() -> Any:
    return redirect(safe_next(request.form.get("next"), url_for("dags.index")))


@bp.post("/dags/<dag_id>/pause")
@require_role(Role.USER)
def pause(dag_id: str) -> Any:
    wanted = request.form.get("paused")
    if wanted not in ("true", "false"):
        abort(400, description="paused must be true or false")
    paused = wanted == "true"
    set_paused(db.session(), dag_id, paused, actor=_actor())
    db.commit()
    if not paused:
        poke(db.settings().home)
    flash(f"{dag_id} is {'paused' if paused else 'active'}.", "success")
    return _back()


class TriggerForm(FlaskForm):
    logical_date = StringField("Logical date", validators=[Optional(), Length(max=64)])
    run_id = StringField("Run id", validators=[Optional(), Length(max=ID_LEN)])
    conf = TextAreaField("Conf (JSON object)", validators=[Optional(), Length(max=1_000_000)])


@bp.route("/dags/<dag_id>/trigger", methods=["GET", "POST"])
@require_role(Role.USER)
def trigger(dag_id: str) -> Any:
    session = db.session()
    dag = require_dag(session, dag_id)
    params = dag_spec(session, dag_id).params
    form = TriggerForm()
    if request.method != "POST":
        return _trigger_page(dag, form, param_fields(params))
    submitted = request.form.to_dict()
    conf, errors, conf_error = conf_from_form(params, submitted, form.conf.data or "")
    logical_date, date_error = _logical_date(form.logical_date.data)
    problem = None
    if form.validate_on_submit() and not (errors or conf_error or date_error):
        try:
            run = trigger_dag(
                session, dag_id, actor=_actor(), run_id=form.run_id.data or None, logical_date=logical_date, conf=conf
            )
        except (InvalidInput, AlreadyExists) as exc:
            session.rollback()
            problem = str(exc)
        else:
            db.commit()
            poke(db.settings().home)
            flash(f"Triggered {dag_id}: run {run.run_id}.", "success")
            return redirect(dag_url(dag_id, "grid"))
    fields = param_fields(params, submitted, errors)
    return _trigger_page(dag, form, fields, conf_error=conf_error, date_error=date_error, problem=problem)


def _trigger_page(dag: Any, form: TriggerForm, fields: list[Any], **errors: str | None) -> Any:
    return render_template("dags/trigger.html", dag=dag, form=form, fields=fields, dag_url=dag_url, **errors)


def _logical_date(text: str | None) -> tuple[datetime | None, str | None]:
    """(the date, None) or (None, what is wrong); a date without an offset is in the UI's time zone."""
    text = (text or "").strip()
    if not text:
        return None, None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None, f"{text!r} is not an ISO 8601 date and time, e.g. 2024-01-31T06:00:00+00:00"
    if value.tzinfo is None:
        value = pendulum.instance(value, tz=db.settings().ui_timezone)
    return value.astimezone(UTC), None


# Deleting a DAG erases its history (runs, task instances, XComs, versions) for everyone: an Op's call,
# not something the User role (which may trigger, clear and pause) should do; Airflow guards it with a
# permission of its own (can_delete on DAGs) that its User role lacks too.
@bp.route("/dags/<dag_id>/delete", methods=["GET", "POST"])
@require_role(Role.OP)
def delete(dag_id: str) -> Any:
    session = db.session()
    dag = require_dag(session, dag_id)
    if request.method != "POST":  # GET or HEAD (which Flask routes here too): only the confirmation page
        runs = sum(overview.run_state_counts(session, [dag_id]).get(dag_id, {}).values())
        return render_template("dags/delete.html", dag=dag, runs=runs, dag_url=dag_url)
    delete_dag(session, dag_id, actor=_actor())
    db.commit()
    flash(f"Deleted {dag_id} and its history; its file will be parsed again if it still defines it.", "success")
    return redirect(url_for("dags.index"))
