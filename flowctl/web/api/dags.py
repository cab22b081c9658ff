"""`/dags`: list and read DAGs, pause or unpause one, and read a DAG's tasks (from its latest stored version)."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from sqlalchemy.orm import Session

from flowctl.db.models import Dag
from flowctl.db.queries import listing
from flowctl.exceptions import InvalidInput, NotFound
from flowctl.roles import Role
from flowctl.serialization import TaskSpec
from flowctl.web import db
from flowctl.web.api import api_blueprint, arguments, require_api_role
from flowctl.web.api.formats import iso, schedule_interval, time_delta

TASK_ORDER = frozenset(
    {"task_id", "owner", "trigger_rule", "retries", "pool", "pool_slots", "queue", "priority_weight", "weight_rule"}
)


@api_blueprint.get("/dags")
@require_api_role(Role.VIEWER)
def get_dags() -> Any:
    values = arguments.query()
    session = db.session()
    dags, total = listing.page_dags(
        session,
        arguments.page(values),
        tags=values["tags"],
        paused=values["paused"],
        only_active=values["only_active"],
        dag_id_pattern=values["dag_id_pattern"],
    )
    return jsonify({"dags": dags_json(session, dags), "total_entries": total})


@api_blueprint.get("/dags/<dag_id>")
@require_api_role(Role.VIEWER)
def get_dag(dag_id: str) -> Any:
    from flowctl.services.dags import require_dag

    session = db.session()
    return jsonify(dags_json(session, [require_dag(session, dag_id)])[0])


@api_blueprint.patch("/dags/<dag_id>")
@require_api_role(Role.USER)
def patch_dag(dag_id: str) -> Any:
    from flowctl.services.dags import require_dag, set_paused
    from flowctl.services.wakeup import poke

    values = arguments.query()
    change = arguments.masked(arguments.body("UpdateDAG"), values["update_mask"], {"is_paused"})
    session = db.session()
    set_paused(session, dag_id, change["is_paused"], actor=arguments.actor())
    db.commit()
    if not change["is_paused"]:
        poke(db.settings().home)
    return jsonify(dags_json(session, [require_dag(session, dag_id)])[0])


@api_blueprint.get("/dags/<dag_id>/tasks")
@require_api_role(Role.VIEWER)
def get_tasks(dag_id: str) -> Any:
    from flowctl.services.dags import dag_spec

    order_by = arguments.query()["order_by"] or "task_id"
    key = order_by.removeprefix("-")
    if key not in TASK_ORDER:
        raise InvalidInput(f"cannot order tasks by {order_by!r}: expected one of {', '.join(sorted(TASK_ORDER))}")
    tasks = [task_json(task) for task in dag_spec(db.session(), dag_id).tasks.values()]
    tasks.sort(key=lambda task: (task[key] is None, task[key]), reverse=order_by.startswith("-"))
    return jsonify({"tasks": tasks, "total_entries": len(tasks)})


@api_blueprint.get("/dags/<dag_id>/tasks/<task_id>")
@require_api_role(Role.VIEWER)
def get_task(dag_id: str, task_id: str) -> Any:
    from flowctl.services.dags import dag_spec

    task = dag_spec(db.session(), dag_id).tasks.get(task_id)
    if task is None:
        raise NotFound(f"DAG {dag_id!r} has no task {task_id!r}")
    return jsonify(task_json(task))


def dags_json(session: Session, dags: list[Dag]) -> list[dict[str, Any]]:
    """Each DAG as the API shows it (tags and import-error flags read in one query each)."""
    tags = listing.tags_of(session, [dag.dag_id for dag in dags])
    broken = listing.files_with_import_errors(session, {dag.fileloc for dag in dags})
    return [
        {
            "dag_id": dag.dag_id,
            "dag_display_name": dag.dag_id,
            "is_paused": dag.is_paused,
            "is_active": not dag.is_stale,
            "last_parsed_time": iso(dag.last_parsed_at),
            "fileloc": dag.fileloc,
            "owners": [owner for owner in dag.owners.split(", ") if owner],
            "description": dag.description,
            "schedule_interval": schedule_interval(dag.schedule),
            "schedule": dag.schedule,
            "timezone": dag.timezone,
            "tags": [{"name": name} for name in tags[dag.dag_id]],
            "max_active_tasks": dag.max_active_tasks,
            "max_active_runs": dag.max_active_runs,
            "has_import_errors": dag.fileloc in broken,
            "next_dagrun": iso(dag.next_dagrun),
            "next_dagrun_data_interval_start": iso(dag.next_dagrun_data_interval_start),
            "next_dagrun_data_interval_end": iso(dag.next_dagrun_data_interval_end),
            "next_dagrun_create_after": iso(dag.next_dagrun_create_after),
        }
        for dag in dags
    ]


def task_json(task: TaskSpec) -> dict[str, Any]:
    return {
        "class_ref": {"class_name": task.operator},
        "task_id": task.task_id,
        "task_display_name": task.task_id,
        "owner": task.owner,
        "start_date": iso(task.start_date),
        "end_date": iso(task.end_date),
        "trigger_rule": task.trigger_rule,
        "extra_links": [],
        "depends_on_past": task.depends_on_past,
        "is_mapped": task.is_mapped,
        "wait_for_downstream": task.wait_for_downstream,
        "retries": task.retries,
        "queue": task.queue,
        "pool": task.pool,
        "pool_slots": task.pool_slots,
        "execution_timeout": time_delta(task.execution_timeout),
        "retry_delay": time_delta(task.retry_delay),
        "retry_exponential_backoff": task.retry_exponential_backoff,
        "priority_weight": task.priority_weight,
        "weight_rule": task.weight_rule,
        "ui_color": task.ui_color,
        "template_fields": list(task.template_fields),
        "downstream_task_ids": list(task.downstream),
        "upstream_task_ids": list(task.upstream),
        "doc_md": task.doc_md,
    }
