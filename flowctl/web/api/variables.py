"""`/variables`: list keys, read, set, change and delete variables; all of it needs the Op role, as the
admin pages do (a Viewer or User reads neither there nor here). An Op, who may edit a variable anyway, is
given a sensitive key's value too, as in Airflow's API."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from flowctl.db.queries import listing
from flowctl.exceptions import InvalidInput
from flowctl.roles import Role
from flowctl.web import db
from flowctl.web.api import api_blueprint, arguments, require_api_role


@api_blueprint.get("/variables")
@require_api_role(Role.OP)
def get_variables() -> Any:
    rows, total = listing.page_variables(db.session(), arguments.page(arguments.query()))
    items = [{"key": key, "description": description} for key, description in rows]
    return jsonify({"variables": items, "total_entries": total})


@api_blueprint.post("/variables")
@require_api_role(Role.OP)
def post_variables() -> Any:
    from flowctl.services.variables import set_variable

    data = arguments.body("NewVariable")
    set_variable(db.session(), db.cipher(), data["key"], data["value"], actor=arguments.actor())
    db.commit()
    return jsonify(variable_json(data["key"], data["value"]))


@api_blueprint.get("/variables/<path:variable_key>")
@require_api_role(Role.OP)
def get_variable(variable_key: str) -> Any:
    from flowctl.services.variables import get_variable as stored

    return jsonify(variable_json(variable_key, stored(db.session(), db.cipher(), variable_key)))


@api_blueprint.patch("/variables/<path:variable_key>")
@require_api_role(Role.OP)
def patch_variable(variable_key: str) -> Any:
    from flowctl.services.variables import get_variable as stored
    from flowctl.services.variables import set_variable

    data = arguments.body("VariableUpdate")
    if data.get("key", variable_key) != variable_key:
        raise InvalidInput("key cannot be changed: it must match the key in the path")
    changes = arguments.masked(data, arguments.query()["update_mask"], {"value"})
    value = stored(db.session(), db.cipher(), variable_key)
    if "value" in changes:
        value = changes["value"]
        set_variable(db.session(), db.cipher(), variable_key, value, actor=arguments.actor())
        db.commit()
    return jsonify(variable_json(variable_key, value))


@api_blueprint.delete("/variables/<path:variable_key>")
@require_api_role(Role.OP)
def delete_variable(variable_key: str) -> Any:
    from flowctl.services.variables import delete_variable as delete

    delete(db.session(), variable_key, actor=arguments.actor())
    db.commit()
    return "", 204


def variable_json(key: str, value: str) -> dict[str, Any]:
    from flowctl.db.queries.variables import get_variable as row_of

    row = row_of(db.session(), key)
    return {"key": key, "value": value, "description": row.description if row is not None else None}
