"""`.../taskInstances/{task_id}/xcomEntries`: a task instance's XComs (keys only), and one with its value,
every known secret in it masked."""

from __future__ import annotations

import json
from typing import Any

from flask import jsonify

from flowctl.db.models import XCom
from flowctl.db.queries import listing
from flowctl.exceptions import NotFound
from flowctl.logs import SecretMasker
from flowctl.roles import Role
from flowctl.web import db
from flowctl.web.api import api_blueprint, arguments, require_api_role
from flowctl.web.api.formats import iso
from flowctl.web.api.task_instances import TI_PATH
from flowctl.web.secret_masking import request_masker


@api_blueprint.get(TI_PATH + "/xcomEntries")
@require_api_role(Role.VIEWER)
def get_xcom_entries(dag_id: str, dag_run_id: str, task_id: str) -> Any:
    from flowctl.services.runs import require_run

    values = arguments.query()
    session = db.session()
    run = require_run(session, dag_id, dag_run_id)
    rows, total = listing.page_xcoms(
        session,
        arguments.page(values),
        dag_id=dag_id,
        run_id=dag_run_id,
        task_id=task_id,
        map_index=values["map_index"],
        key=values["xcom_key"],
    )
    entries = [_entry(xcom, dag_id, dag_run_id, task_id, map_index, run.logical_date) for xcom, map_index in rows]
    return jsonify({"xcom_entries": entries, "total_entries": total})


@api_blueprint.get(TI_PATH + "/xcomEntries/<xcom_key>")
@require_api_role(Role.VIEWER)
def get_xcom_entry(dag_id: str, dag_run_id: str, task_id: str, xcom_key: str) -> Any:
    from flowctl.db.queries.xcoms import get_xcom
    from flowctl.services.runs import require_run

    values = arguments.query()
    map_index = -1 if values["map_index"] is None else values["map_index"]
    session = db.session()
    run = require_run(session, dag_id, dag_run_id)
    xcom = get_xcom(session, dag_id=dag_id, run_id=dag_run_id, task_id=task_id, map_index=map_index, key=xcom_key)
    if xcom is None:
        raise NotFound(f"task instance {task_id!r} of run {dag_run_id!r} has no XCom {xcom_key!r}")
    entry = _entry(xcom, dag_id, dag_run_id, task_id, map_index, run.logical_date)
    entry["value"] = _value(xcom.value, stringify=values["stringify"], masker=request_masker())
    return jsonify(entry)


def _entry(xcom: XCom, dag_id: str, run_id: str, task_id: str, map_index: int, logical_date: Any) -> dict[str, Any]:
    return {
        "key": xcom.key,
        "timestamp": iso(xcom.created_at),
        "execution_date": iso(logical_date),
        "map_index": map_index,
        "task_id": task_id,
        "dag_id": dag_id,
        "dag_run_id": run_id,
    }


def _value(stored: bytes, *, stringify: bool, masker: SecretMasker) -> Any:
    """The stored JSON as data, or (stringify) as text: a string value is given as itself. Every known
    secret is masked (the stored value keeps it for the tasks downstream)."""
    text = stored.decode("utf-8", errors="replace") if isinstance(stored, bytes) else str(stored)
    try:
        data = json.loads(text)
    except ValueError:
        return masker.mask(text)
    masked = masker.mask_value(data)
    if not stringify or isinstance(masked, str):
        return masked
    return text if masked == data else json.dumps(masked)
