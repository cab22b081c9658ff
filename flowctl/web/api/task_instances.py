"""Task instances: list a run's (or every run's, with `~`), read one, mark one success or failed, and clear
(rerun) a selection of a DAG's instances; marking and clearing go through flowctl.services.clear."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import jsonify
from sqlalchemy.orm import Session

from flowctl.db.models import TaskInstance
from flowctl.db.queries import listing
from flowctl.exceptions import InvalidInput, NotFound
from flowctl.roles import Role
from flowctl.services.clear import Selection
from flowctl.web import db
from flowctl.web.api import api_blueprint, arguments, require_api_role
from flowctl.web.api.dag_runs import ALL
from flowctl.web.api.formats import iso
from flowctl.web.api.openapi_schemas import MAX_INT

TI_PATH = "/dags/<dag_id>/dagRuns/<dag_run_id>/taskInstances/<task_id>"


@api_blueprint.get("/dags/<dag_id>/dagRuns/<dag_run_id>/taskInstances")
@require_api_role(Role.VIEWER)
def get_task_instances(dag_id: str, dag_run_id: str) -> Any:
    from flowctl.services.dags import require_dag
    from flowctl.services.runs import require_run

    values = arguments.query()
    session = db.session()
    if dag_id != ALL and dag_run_id != ALL:
        require_run(session, dag_id, dag_run_id)
    elif dag_id != ALL:
        require_dag(session, dag_id)
    rows, total = listing.page_task_instances(
        session,
        arguments.page(values),
        dag_id=None if dag_id == ALL else dag_id,
        run_id=None if dag_run_id == ALL else dag_run_id,
        states=values["state"],
        pools=values["pool"],
        queues=values["queue"],
        ranges={
            name: arguments.between(values, parameter)
            for name, parameter in (
                ("logical_date", "execution_date"),
                ("start_date", "start_date"),
                ("end_date", "end_date"),
                ("updated_at", "updated_at"),
                ("duration", "duration"),
            )
        },
    )
    return jsonify({"task_instances": tis_json(session, rows), "total_entries": total})


@api_blueprint.get(TI_PATH)
@require_api_role(Role.VIEWER)
def get_task_instance(dag_id: str, dag_run_id: str, task_id: str) -> Any:
    return get_mapped_task_instance(dag_id, dag_run_id, task_id, -1)


@api_blueprint.get(TI_PATH + "/<int(signed=True):map_index>")
@require_api_role(Role.VIEWER)
def get_mapped_task_instance(dag_id: str, dag_run_id: str, task_id: str, map_index: int) -> Any:
    session = db.session()
    ti, logical_date = require_task_instance(session, dag_id, dag_run_id, task_id, map_index)
    return jsonify(tis_json(session, [(ti, logical_date)])[0])


@api_blueprint.patch(TI_PATH)
@require_api_role(Role.USER)
def patch_task_instance(dag_id: str, dag_run_id: str, task_id: str) -> Any:
    return patch_mapped_task_instance(dag_id, dag_run_id, task_id, -1)


@api_blueprint.patch(TI_PATH + "/<int(signed=True):map_index>")
@require_api_role(Role.USER)
def patch_mapped_task_instance(dag_id: str, dag_run_id: str, task_id: str, map_index: int) -> Any:
    """Mark success or failed (flowctl's dry_run defaults to false: the body `{"new_state": ...}` marks)."""
    from flowctl.services.clear import mark
    from flowctl.services.wakeup import poke
    from flowctl.state import TaskState

    data = arguments.body("UpdateTaskInstance")
    session = db.session()
    ti, logical_date = require_task_instance(session, dag_id, dag_run_id, task_id, map_index)
    answer = reference(ti, logical_date)
    if not data.get("dry_run", False):
        selection = Selection(run_ids=[dag_run_id], task_ids=[task_id], map_indexes=[map_index])
        mark(session, dag_id, selection, TaskState(data["new_state"]), actor=arguments.actor())
        db.commit()
        poke(db.settings().home)
    return jsonify(answer)


@api_blueprint.post("/dags/<dag_id>/clearTaskInstances")
@require_api_role(Role.USER)
def post_clear_task_instances(dag_id: str) -> Any:
    """Clear as Airflow does: dry_run and only_failed default to true."""
    from flowctl.services.clear import clear
    from flowctl.services.wakeup import poke

    data = arguments.body("ClearTaskInstances")
    session = db.session()
    dry_run = data.get("dry_run", True)
    cleared = clear(session, dag_id, _clear_selection(session, dag_id, data), actor=arguments.actor(), dry_run=dry_run)
    answer = references(session, dag_id, cleared)  # before the commit: clearing may delete mapped instances
    if not dry_run:
        db.commit()
        poke(db.settings().home)
    return jsonify({"task_instances": answer})


def _clear_selection(session: Session, dag_id: str, data: dict[str, Any]) -> Selection:
    from flowctl.services.dags import dag_spec
    from flowctl.services.runs import require_run

    task_ids = data.get("task_ids")
    if task_ids is not None:
        unknown = sorted(set(task_ids) - set(dag_spec(session, dag_id).tasks))
        if unknown:
            raise InvalidInput(f"DAG {dag_id!r} has no task {', '.join(map(repr, unknown))}")
    start, end = (
        arguments.parse_datetime(name, data[name]) if name in data else None for name in ("start_date", "end_date")
    )
    run_ids = None
    if data.get("dag_run_id") is not None:
        run = require_run(session, dag_id, data["dag_run_id"])
        if data.get("include_past") or data.get("include_future"):
            start, end = run.logical_date, run.logical_date
        else:
            run_ids = [run.run_id]
    return Selection(
        run_ids=run_ids,
        start=None if data.get("include_past") else start,
        end=None if data.get("include_future") else end,
        task_ids=task_ids,
        downstream=data.get("include_downstream", False),
        upstream=data.get("include_upstream", False),
        only_failed=data.get("only_failed", True),
    )


def require_task_instance(
    session: Session, dag_id: str, run_id: str, task_id: str, map_index: int
) -> tuple[TaskInstance, datetime]:
    """The task instance and its run's logical date; NotFound names what is missing."""
    from flowctl.db.queries.task_instances import get
    from flowctl.services.runs import require_run

    if not -1 <= map_index <= MAX_INT:
        raise NotFound(f"no map index {map_index}")
    run = require_run(session, dag_id, run_id)
    ti = get(session, dag_id, run_id, task_id, map_index)
    if ti is None:
        index = "" if map_index < 0 else f" (map index {map_index})"
        raise NotFound(f"run {run_id!r} of DAG {dag_id!r} has no task instance {task_id!r}{index}")
    return ti, run.logical_date


def tis_json(session: Session, rows: list[tuple[TaskInstance, datetime]]) -> list[dict[str, Any]]:
    """Task instances as the API shows them (their latest tries' rendered fields read in one query)."""
    rendered = listing.try_rendered_fields(session, [(ti.id, ti.try_number) for ti, _ in rows if ti.try_number])
    return [
        {
            "task_id": ti.task_id,
            "task_display_name": ti.task_id,
            "dag_id": ti.dag_id,
            "dag_run_id": ti.run_id,
            "execution_date": iso(logical_date),
            "start_date": iso(ti.start_date),
            "end_date": iso(ti.end_date),
            "duration": ti.duration,
            "state": ti.state,
            "try_number": ti.try_number,
            "map_index": ti.map_index,
            "max_tries": ti.max_tries,
            "hostname": ti.hostname or "",
            "pid": ti.pid,
            "pool": ti.pool,
            "pool_slots": ti.pool_slots,
            "queue": ti.queue,
            "priority_weight": ti.priority_weight,
            "operator": ti.operator,
            "queued_when": iso(ti.queued_at),
            "rendered_fields": _object(rendered.get((ti.id, ti.try_number))),
            "note": None,
        }
        for ti, logical_date in rows
    ]


def reference(ti: TaskInstance, logical_date: datetime) -> dict[str, Any]:
    return {
        "task_id": ti.task_id,
        "dag_id": ti.dag_id,
        "dag_run_id": ti.run_id,
        "execution_date": iso(logical_date),
        "map_index": ti.map_index,
    }


def references(session: Session, dag_id: str, tis: list[TaskInstance]) -> list[dict[str, Any]]:
    from flowctl.db.queries.runs import logical_dates

    dates = logical_dates(session, dag_id, {ti.run_id for ti in tis})
    return [reference(ti, dates[ti.run_id]) for ti in tis]


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
