"""`/importErrors`: the DAG files that failed to import, with their tracebacks."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from flowctl.db.models import DagImportError
from flowctl.db.queries import listing
from flowctl.exceptions import NotFound
from flowctl.roles import Role
from flowctl.web import db
from flowctl.web.api import api_blueprint, arguments, require_api_role
from flowctl.web.api.formats import iso
from flowctl.web.api.openapi_schemas import MAX_INT


@api_blueprint.get("/importErrors")
@require_api_role(Role.VIEWER)
def get_import_errors() -> Any:
    errors, total = listing.page_import_errors(db.session(), arguments.page(arguments.query()))
    return jsonify({"import_errors": [import_error_json(error) for error in errors], "total_entries": total})


@api_blueprint.get("/importErrors/<import_error_id>")
@require_api_role(Role.VIEWER)
def get_import_error(import_error_id: str) -> Any:
    from flowctl.exceptions import InvalidInput

    if not import_error_id.isascii() or not import_error_id.isdigit() or int(import_error_id) > MAX_INT:
        raise InvalidInput(f"import_error_id must be a positive integer, got {import_error_id!r}")
    error = db.session().get(DagImportError, int(import_error_id))
    if error is None:
        raise NotFound(f"no import error {import_error_id}")
    return jsonify(import_error_json(error))


def import_error_json(error: DagImportError) -> dict[str, Any]:
    return {
        "import_error_id": error.id,
        "timestamp": iso(error.timestamp),
        "filename": error.filename,
        "stack_trace": error.stack_trace,
    }
