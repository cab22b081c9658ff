"""The run page and the task instance page (SPEC §6): states, timings, tries and their logs with a live
tail, rendered fields, XComs and why a task instance waits; the JSON their scripts poll; a try's whole log.
Ids are checked before any lookup or log path. Clear and mark are in run_actions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request

from flowctl.db.models import Dag, DagRun, TaskInstance
from flowctl.db.queries import run_details
from flowctl.db.queries import task_instances as ti_queries
from flowctl.exceptions import InvalidInput, NotFound
from flowctl.logs import check_path_id
from flowctl.roles import Role
from flowctl.services.waiting import waiting_reasons
from flowctl.state import FINISHED_RUN_STATES, FINISHED_TASK_STATES
from flowctl.web import db, run_pages, task_logs
from flowctl.web.auth import require_role
from flowctl.web.presenters import duration, time_parts
from flowctl.web.secret_masking import request_masker

bp = Blueprint("runs", __name__)

RUN = "/dags/<dag_id>/runs/<run_id>"
TASK = f"{RUN}/tasks/<task_id>"
MAPPED_PAGE_SIZE = 200


# --- pages ---------------------------------------------------------------------------------------


@bp.get(RUN)
@require_role(Role.VIEWER)
def run(dag_id: str, run_id: str) -> Any:
    dag, dag_run = _load_run(dag_id, run_id)
    session = db.session()
    tis = ti_queries.for_run(session, dag_id, run_id)
    now = datetime.now(UTC)
    return render_template(
        "run/run.html",
        dag=dag,
        run=dag_run,
        version=run_pages.run_version(session, dag_run, dag),
        conf=run_pages.pretty_json(dag_run.conf if dag_run.conf is not None else {}),
        run_duration=_run_duration(dag_run, now),
        tis=tis,
        durations={ti.id: run_pages.ti_duration(ti, now) for ti in tis},
    )


@bp.get(TASK)
@require_role(Role.VIEWER)
def task_instance(dag_id: str, run_id: str, task_id: str) -> Any:
    dag, dag_run = _load_run(dag_id, run_id)
    check_path_id("task_id", task_id)  # before it names anything
    session = db.session()
    map_index = run_pages.parse_int("map_index", request.args.get("map_index"), minimum=-1)
    if map_index is None:
        count = run_details.count_mapped_instances(session, dag_id, run_id, task_id)
        if count:
            return _mapped_instances(dag, dag_run, task_id, count)
        map_index = -1
    ti = run_pages.require_ti(session, dag_run, task_id, map_index)
    tries = run_details.tries(session, ti.id)
    last_try = max([ti.try_number, *(t.try_number for t in tries)])
    try_number = run_pages.parse_int("try_number", request.args.get("try_number"), minimum=1)
    if try_number is not None and try_number > last_try:
        raise NotFound(f"task instance {task_id!r} has no try {try_number}")
    try_number = try_number or ti.try_number or None
    version = run_pages.run_version(session, dag_run, dag)
    spec = version.spec if version else None
    rendered = run_details.rendered_fields(session, ti.id, try_number) if try_number else None
    now = datetime.now(UTC)
    return render_template(
        "run/task_instance.html",
        dag=dag,
        run=dag_run,
        ti=ti,
        task=spec.tasks.get(task_id) if spec else None,
        version=version,
        ti_duration=run_pages.ti_duration(ti, now),
        host_and_pid=run_pages.host_and_pid(ti),
        tries=tries,
        try_numbers=list(range(1, last_try + 1)),
        try_number=try_number,
        log=_page_log(ti, try_number) if try_number else None,
        rendered=run_pages.rendered_entries(rendered),
        xcoms=run_pages.xcom_entries(session, ti.id, masker=request_masker),
        xcom_keys_shown=run_pages.XCOM_KEYS_SHOWN,
        waiting=waiting_reasons(session, dag_run, dag, spec, ti, now=now),
        finished=ti.state in FINISHED_TASK_STATES,
    )


def _mapped_instances(dag: Dag, dag_run: DagRun, task_id: str, count: int) -> Any:
    pages = max((count + MAPPED_PAGE_SIZE - 1) // MAPPED_PAGE_SIZE, 1)
    page = run_pages.parse_int("page", request.args.get("page"), minimum=1) or 1
    if page > pages:
        raise NotFound(f"there are only {pages} pages of mapped instances")
    rows = run_details.mapped_instances(
        db.session(),
        dag.dag_id,
        dag_run.run_id,
        task_id,
        limit=MAPPED_PAGE_SIZE,
        offset=(page - 1) * MAPPED_PAGE_SIZE,
    )
    now = datetime.now(UTC)
    return render_template(
        "run/mapped_instances.html",
        dag=dag,
        run=dag_run,
        task_id=task_id,
        rows=[(row, run_pages.ti_duration(row, now)) for row in rows],
        count=count,
        page=page,
        pages=pages,
    )


def _page_log(ti: TaskInstance, try_number: int) -> dict[str, Any]:
    """The end of a try's log for the page, or why it cannot be shown; `live` when the JS should tail it."""
    live = ti.try_number == try_number and ti.state in task_logs.LIVE_STATES
    try:
        chunk = task_logs.read_tail(_log_file(ti, try_number))
    except (InvalidInput, NotFound) as exc:
        return {"chunk": None, "error": str(exc), "live": False}
    return {"chunk": chunk, "error": None, "live": live}


# --- JSON for the page scripts, and the raw log -------------------------------------------------


@bp.get(f"{RUN}/states.json")
@require_role(Role.VIEWER)
def run_states(dag_id: str, run_id: str) -> Any:
    _dag, dag_run = _load_run(dag_id, run_id)
    now = datetime.now(UTC)
    rows = run_details.task_states(db.session(), dag_id, run_id)
    return jsonify(
        state=dag_run.state,
        finished=dag_run.state in FINISHED_RUN_STATES,
        duration=duration(_run_duration(dag_run, now)),
        task_instances=[
            {
                "task_id": row.task_id,
                "map_index": row.map_index,
                "state": row.state,
                "try_number": row.try_number,
                "duration": duration(row.duration),
            }
            for row in rows
        ],
    )


@bp.get(f"{TASK}/state.json")
@require_role(Role.VIEWER)
def task_instance_state(dag_id: str, run_id: str, task_id: str) -> Any:
    """The facts the page shows of the task instance's current try, all read at once: after a clear or a
    retry the page shows the new try's state with that try's times, never the previous try's."""
    ti = _ti_from_request(dag_id, run_id, task_id)
    return jsonify(
        state=ti.state,
        try_number=ti.try_number,
        tries_allowed=ti.max_tries + 1,
        duration=duration(run_pages.ti_duration(ti, datetime.now(UTC))),
        finished=ti.state in FINISHED_TASK_STATES,
        queued_at=time_parts(ti.queued_at),
        start_date=time_parts(ti.start_date),
        end_date=time_parts(ti.end_date),
        host=run_pages.host_and_pid(ti),
    )


@bp.get(f"{TASK}/log.json")
@require_role(Role.VIEWER)
def task_log(dag_id: str, run_id: str, task_id: str) -> Any:
    """New log text of a try from byte `offset`, the task instance's state, and whether the try may write
    more (`finished`: stop polling once `more` is false too)."""
    ti = _ti_from_request(dag_id, run_id, task_id)
    try_number = _requested_try(ti)
    offset = run_pages.parse_int("offset", request.args.get("offset"), minimum=0, maximum=2**62) or 0
    chunk = task_logs.read_chunk(_log_file(ti, try_number), offset=offset)
    live = ti.try_number == try_number and ti.state in task_logs.LIVE_STATES
    return jsonify(
        text=chunk.text,
        start=chunk.start,
        offset=chunk.offset,
        more=chunk.more,
        reset=chunk.reset,
        exists=chunk.exists,
        state=ti.state,
        try_number=ti.try_number,
        finished=not live,
    )


@bp.get(f"{TASK}/log.txt")
@require_role(Role.VIEWER)
def task_log_text(dag_id: str, run_id: str, task_id: str) -> Any:
    """A try's whole log as plain text (the page shows only its end)."""
    ti = _ti_from_request(dag_id, run_id, task_id)
    path = _log_file(ti, _requested_try(ti))
    first = task_logs.read_chunk(path, offset=0)
    if not first.exists:
        raise NotFound("no log file for this try yet")

    def chunks() -> Iterator[str]:
        chunk = first
        yield chunk.text
        while chunk.text and chunk.more:
            chunk = task_logs.read_chunk(path, offset=chunk.offset)
            yield chunk.text

    return Response(chunks(), mimetype="text/plain")


# --- lookups and request parsing ----------------------------------------------------------------


def _load_run(dag_id: str, run_id: str) -> tuple[Dag, DagRun]:
    return run_pages.load_run(db.session(), dag_id, run_id)


def _ti_from_request(dag_id: str, run_id: str, task_id: str) -> TaskInstance:
    _dag, dag_run = _load_run(dag_id, run_id)
    map_index = run_pages.parse_int("map_index", request.args.get("map_index"), minimum=-1)
    return run_pages.require_ti(db.session(), dag_run, task_id, -1 if map_index is None else map_index)


def _requested_try(ti: TaskInstance) -> int:
    try_number = run_pages.parse_int("try_number", request.args.get("try_number"), minimum=1)
    if try_number is None:
        if ti.try_number < 1:
            raise NotFound(f"task instance {ti.task_id!r} has not run yet")
        return ti.try_number
    if try_number > ti.try_number:
        raise NotFound(f"task instance {ti.task_id!r} has no try {try_number}")
    return try_number


def _log_file(ti: TaskInstance, try_number: int) -> Any:
    return task_logs.log_file(
        db.settings().logging.base_log_folder,
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        task_id=ti.task_id,
        map_index=ti.map_index,
        try_number=try_number,
    )


def _run_duration(dag_run: DagRun, now: datetime) -> float | None:
    if dag_run.start_date is None:
        return None
    return max(((dag_run.end_date or now) - dag_run.start_date).total_seconds(), 0.0)
