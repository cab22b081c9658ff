"""`/dags/{dag_id}/dagRuns`: list runs (of one DAG, or of all with `~`), read one, trigger a run."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from flowctl.db.models import DagRun
from flowctl.db.queries import listing
from flowctl.exceptions import InvalidInput
from flowctl.roles import Role
from flowctl.web import db
from flowctl.web.api import api_blueprint, arguments, require_api_role
from flowctl.web.api.formats import iso

ALL = "~"  # in place of an id: every DAG (or every run)


@api_blueprint.get("/dags/<dag_id>/dagRuns")
@require_api_role(Role.VIEWER)
def get_dag_runs(dag_id: str) -> Any:
    from flowctl.services.dags import require_dag

    values = arguments.query()
    session = db.session()
    if dag_id != ALL:
        require_dag(session, dag_id)
    runs, total = listing.page_runs(
        session,
        arguments.page(values),
        dag_id=None if dag_id == ALL else dag_id,
        states=values["state"],
        dates={
            "logical_date": arguments.between(values, "execution_date"),
            "start_date": arguments.between(values, "start_date"),
            "end_date": arguments.between(values, "end_date"),
            "updated_at": arguments.between(values, "updated_at"),
        },
    )
    return jsonify({"dag_runs": [run_json(run) for run in runs], "total_entries": total})


@api_blueprint.post("/dags/<dag_id>/dagRuns")
@require_api_role(Role.USER)
def post_dag_run(dag_id: str) -> Any:
    from flowctl.services.runs import trigger_dag
    from flowctl.services.wakeup import poke

    data = arguments.body("TriggerDAGRun")
    dates = {
        name: arguments.parse_datetime(name, data[name])
        for name in ("logical_date", "execution_date")
        if data.get(name) is not None
    }
    if len(set(dates.values())) > 1:
        raise InvalidInput("logical_date and execution_date name the same thing and differ")
    run = trigger_dag(
        db.session(),
        dag_id,
        actor=arguments.actor(),
        run_id=data.get("dag_run_id"),
        logical_date=next(iter(dates.values()), None),
        conf=data.get("conf"),
    )
    answer = run_json(run)
    db.commit()
    poke(db.settings().home)
    return jsonify(answer)


@api_blueprint.get("/dags/<dag_id>/dagRuns/<dag_run_id>")
@require_api_role(Role.VIEWER)
def get_dag_run(dag_id: str, dag_run_id: str) -> Any:
    from flowctl.services.runs import require_run

    return jsonify(run_json(require_run(db.session(), dag_id, dag_run_id)))


def run_json(run: DagRun) -> dict[str, Any]:
    return {
        "dag_run_id": run.run_id,
        "run_id": run.run_id,
        "dag_id": run.dag_id,
        "logical_date": iso(run.logical_date),
        "execution_date": iso(run.logical_date),
        "data_interval_start": iso(run.data_interval_start),
        "data_interval_end": iso(run.data_interval_end),
        "queued_at": iso(run.queued_at),
        "start_date": iso(run.start_date),
        "end_date": iso(run.end_date),
        "run_type": run.run_type,
        "state": run.state,
        "external_trigger": bool(run.external_trigger),
        "conf": run.conf if isinstance(run.conf, dict) else {},
        "note": None,
    }
