"""The operations of `/api/v1` as the OpenAPI document lists them: each path, method, parameter, request
body, answer and error status, and the role each operation needs."""

from __future__ import annotations

from typing import Any

from flowctl.web.api.openapi_schemas import BOOLEAN, DATETIME, MAX_INT, NUMBER, STRING, STRINGS, Schema, ref

MAX_PAGE_LIMIT = 1000
ERROR_STATUSES = {
    400: ("BadRequest", "The request is malformed or a value is invalid."),
    401: ("Unauthenticated", "No valid credentials: use HTTP basic auth or a browser session."),
    403: ("PermissionDenied", "The user's role does not allow this."),
    404: ("NotFound", "Something named in the request does not exist."),
    409: ("AlreadyExists", "The object to create exists already."),
}
_READ, _WRITE, _CREATE = (400, 401, 403, 404), (400, 401, 403, 404), (400, 401, 403, 404, 409)


def _query(name: str, schema: Schema, description: str, **extra: Any) -> Schema:
    return {"in": "query", "name": name, "required": False, "schema": schema, "description": description, **extra}


def _path(name: str, schema: Schema, description: str) -> Schema:
    return {"in": "path", "name": name, "required": True, "schema": schema, "description": description}


def _range(name: str, schema: Schema, what: str) -> dict[str, Schema]:
    return {
        f"{name}_gte": _query(f"{name}_gte", schema, f"Only objects whose {what} is at or after this."),
        f"{name}_lte": _query(f"{name}_lte", schema, f"Only objects whose {what} is at or before this."),
    }


PARAMETERS: dict[str, Schema] = {
    "limit": _query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_INT, "default": 100},
        f"How many objects to return (at most {MAX_PAGE_LIMIT}; more is cut to {MAX_PAGE_LIMIT}).",
    ),
    "offset": _query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_INT, "default": 0}, "Objects to skip."),
    "order_by": _query("order_by", STRING, "The field to order by; prefix it with - for descending order."),
    "update_mask": _query(
        "update_mask", STRINGS, "The fields to change (comma-separated); all given fields when absent.", style="form"
    )
    | {"explode": False},
    "dag_id": _path("dag_id", STRING, "The DAG ID."),
    "dag_id_or_all": _path("dag_id", STRING, "The DAG ID, or ~ for every DAG."),
    "dag_run_id": _path("dag_run_id", STRING, "The DAG run ID."),
    "dag_run_id_or_all": _path("dag_run_id", STRING, "The DAG run ID, or ~ for every run."),
    "task_id": _path("task_id", STRING, "The task ID."),
    "map_index": _path("map_index", {"type": "integer", "minimum": -1, "maximum": MAX_INT}, "The map index."),
    "task_try_number": _path(
        "task_try_number", {"type": "integer", "minimum": 1, "maximum": MAX_INT}, "The try number (1 for the first)."
    ),
    "xcom_key": _path("xcom_key", STRING, "The XCom key."),
    "import_error_id": _path(
        "import_error_id", {"type": "integer", "minimum": 1, "maximum": MAX_INT}, "The import error ID."
    ),
    "connection_id": _path("connection_id", STRING, "The connection ID."),
    "variable_key": _path("variable_key", STRING, "The variable key."),
    "pool_name": _path("pool_name", STRING, "The pool name."),
    **_range("execution_date", DATETIME, "run's logical date"),
    **_range("start_date", DATETIME, "start date"),
    **_range("end_date", DATETIME, "end date"),
    **_range("updated_at", DATETIME, "last change"),
    **_range("duration", NUMBER, "duration in seconds"),
    "state": _query("state", STRINGS, "Only objects in one of these states (repeat the parameter)."),
    "pool": _query("pool", STRINGS, "Only task instances in one of these pools."),
    "queue": _query("queue", STRINGS, "Only task instances in one of these queues."),
    "tags": _query("tags", STRINGS, "Only DAGs with at least one of these tags (repeat the parameter)."),
    "only_active": _query("only_active", {**BOOLEAN, "default": True}, "Leave out DAGs whose file is gone."),
    "paused": _query("paused", BOOLEAN, "Only paused (true) or only unpaused (false) DAGs."),
    "dag_id_pattern": _query("dag_id_pattern", STRING, "Only DAGs whose ID contains this (any case)."),
    "map_index_filter": _query(
        "map_index", {"type": "integer", "minimum": -1, "maximum": MAX_INT}, "The map index (-1: not mapped)."
    ),
    "xcom_key_filter": _query("xcom_key", STRING, "Only XComs with this key."),
    "full_content": _query("full_content", BOOLEAN, "The whole log from the token's position, not one chunk."),
    "token": _query("token", STRING, "The continuation_token of the previous answer: read on from there."),
    "deserialize": _query("deserialize", {**BOOLEAN, "default": False}, "Accepted for compatibility; no effect."),
    "stringify": _query(
        "stringify", {**BOOLEAN, "default": True}, "The value as text (true) or as the JSON it holds (false)."
    ),
}

_PAGE = ("limit", "offset", "order_by")
_RUN_FILTERS = ("execution_date", "start_date", "end_date", "updated_at")
_RUN = ("dag_id", "dag_run_id")
_TI = (*_RUN, "task_id")


def _ranges(*names: str) -> tuple[str, ...]:
    return tuple(f"{name}_{end}" for name in names for end in ("gte", "lte"))


def _operation(
    operation_id: str,
    summary: str,
    tag: str,
    role: str | None,
    *,
    params: tuple[str, ...] = (),
    body: str | None = None,
    answer: str | None = None,
    errors: tuple[int, ...] = _READ,
    description: str = "",
    responses: dict[str, Any] | None = None,
) -> Schema:
    """One operation; `answer` names the 200 schema (None: 204 No Content); `role` None means open."""
    operation: Schema = {"operationId": operation_id, "summary": summary, "tags": [tag]}
    text = description + (f"\n\nNeeds the {role} role (or a higher one)." if role else "")
    if text.strip():
        operation["description"] = text.strip()
    if params:
        operation["parameters"] = [{"$ref": f"#/components/parameters/{name}"} for name in params]
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
    if responses is None:
        responses = (
            {"200": {"description": "Success.", "content": {"application/json": {"schema": ref(answer)}}}}
            if answer
            else {"204": {"description": "Done."}}
        )
    operation["responses"] = responses | {
        str(s): {"$ref": f"#/components/responses/{ERROR_STATUSES[s][0]}"} for s in errors
    }
    if role is None:
        operation["security"] = []
    else:
        operation["x-flowctl-role"] = role
    return operation


_LOG_RESPONSES = {
    "200": {
        "description": "The log: JSON by default, the raw text with `Accept: text/plain`.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"continuation_token": STRING, "content": STRING},
                    "required": ["continuation_token", "content"],
                    "additionalProperties": False,
                }
            },
            "text/plain": {"schema": STRING},
        },
    }
}
_TI_PATH = "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}"
_TI_FILTERS = ("limit", "offset", *_ranges(*_RUN_FILTERS, "duration"), "state", "pool", "queue")

PATHS: dict[str, dict[str, Schema]] = {
    "/health": {
        "get": _operation(
            "get_health",
            "Is the metadata DB reachable, is a scheduler alive",
            "Monitoring",
            None,
            answer="HealthInfo",
            errors=(),
        ),
    },
    "/openapi.json": {
        "get": _operation(
            "get_openapi",
            "This document",
            "Monitoring",
            None,
            errors=(),
            responses={
                "200": {
                    "description": "The OpenAPI document.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        ),
    },
    "/dags": {
        "get": _operation(
            "get_dags",
            "List DAGs",
            "DAG",
            "Viewer",
            answer="DAGCollection",
            errors=(400, 401, 403),
            params=(*_PAGE, "tags", "only_active", "paused", "dag_id_pattern"),
        ),
    },
    "/dags/{dag_id}": {
        "get": _operation("get_dag", "Get a DAG", "DAG", "Viewer", params=("dag_id",), answer="DAG"),
        "patch": _operation(
            "patch_dag",
            "Pause or unpause a DAG",
            "DAG",
            "User",
            params=("dag_id", "update_mask"),
            body="UpdateDAG",
            answer="DAG",
            errors=_WRITE,
            description="Only `is_paused` can change; unpausing wakes the scheduler.",
        ),
    },
    "/dags/{dag_id}/tasks": {
        "get": _operation(
            "get_tasks",
            "List a DAG's tasks",
            "DAG",
            "Viewer",
            params=("dag_id", "order_by"),
            answer="TaskCollection",
            description="From the DAG's latest stored version.",
        ),
    },
    "/dags/{dag_id}/tasks/{task_id}": {
        "get": _operation("get_task", "Get a task", "DAG", "Viewer", params=("dag_id", "task_id"), answer="Task"),
    },
    "/dags/{dag_id}/dagRuns": {
        "get": _operation(
            "get_dag_runs",
            "List DAG runs",
            "DAGRun",
            "Viewer",
            answer="DAGRunCollection",
            params=("dag_id_or_all", *_PAGE, *_ranges(*_RUN_FILTERS), "state"),
        ),
        "post": _operation(
            "post_dag_run",
            "Trigger a DAG run",
            "DAGRun",
            "User",
            params=("dag_id",),
            body="TriggerDAGRun",
            answer="DAGRun",
            errors=_CREATE,
            description="Creates a queued manual run (conf checked against the DAG's params) and "
            "wakes the scheduler; a paused DAG's run waits until it is unpaused.",
        ),
    },
    "/dags/{dag_id}/dagRuns/{dag_run_id}": {
        "get": _operation("get_dag_run", "Get a DAG run", "DAGRun", "Viewer", params=_RUN, answer="DAGRun"),
    },
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances": {
        "get": _operation(
            "get_task_instances",
            "List task instances",
            "TaskInstance",
            "Viewer",
            params=("dag_id_or_all", "dag_run_id_or_all", *_TI_FILTERS),
            answer="TaskInstanceCollection",
        ),
    },
    _TI_PATH: {
        "get": _operation(
            "get_task_instance", "Get a task instance", "TaskInstance", "Viewer", params=_TI, answer="TaskInstance"
        ),
        "patch": _operation(
            "patch_task_instance",
            "Mark a task instance success or failed",
            "TaskInstance",
            "User",
            params=_TI,
            body="UpdateTaskInstance",
            answer="TaskInstanceReference",
            errors=_WRITE,
        ),
    },
    _TI_PATH + "/{map_index}": {
        "get": _operation(
            "get_mapped_task_instance",
            "Get a mapped task instance",
            "TaskInstance",
            "Viewer",
            params=(*_TI, "map_index"),
            answer="TaskInstance",
        ),
        "patch": _operation(
            "patch_mapped_task_instance",
            "Mark a mapped task instance success or failed",
            "TaskInstance",
            "User",
            params=(*_TI, "map_index"),
            body="UpdateTaskInstance",
            answer="TaskInstanceReference",
            errors=_WRITE,
        ),
    },
    _TI_PATH + "/logs/{task_try_number}": {
        "get": _operation(
            "get_log",
            "Get a try's log",
            "TaskInstance",
            "Viewer",
            responses=_LOG_RESPONSES,
            params=(*_TI, "task_try_number", "full_content", "map_index_filter", "token"),
            description="One chunk from the token's position (the start without one) and a token "
            "to read on; `full_content` for everything.",
        ),
    },
    _TI_PATH + "/xcomEntries": {
        "get": _operation(
            "get_xcom_entries",
            "List a task instance's XComs",
            "XCom",
            "Viewer",
            params=(*_TI, "map_index_filter", "xcom_key_filter", "limit", "offset"),
            answer="XComCollection",
            description="Without values: get one entry for its value.",
        ),
    },
    _TI_PATH + "/xcomEntries/{xcom_key}": {
        "get": _operation(
            "get_xcom_entry",
            "Get an XCom value",
            "XCom",
            "Viewer",
            params=(*_TI, "xcom_key", "map_index_filter", "deserialize", "stringify"),
            answer="XCom",
        ),
    },
    "/dags/{dag_id}/clearTaskInstances": {
        "post": _operation(
            "post_clear_task_instances",
            "Clear (rerun) task instances",
            "DAG",
            "User",
            params=("dag_id",),
            body="ClearTaskInstances",
            answer="TaskInstanceReferenceCollection",
            errors=_WRITE,
            description="As in Airflow, dry_run and only_failed default to true.",
        ),
    },
    "/importErrors": {
        "get": _operation(
            "get_import_errors",
            "List import errors",
            "ImportError",
            "Viewer",
            params=_PAGE,
            answer="ImportErrorCollection",
            errors=(400, 401, 403),
        ),
    },
    "/importErrors/{import_error_id}": {
        "get": _operation(
            "get_import_error",
            "Get an import error",
            "ImportError",
            "Viewer",
            params=("import_error_id",),
            answer="ImportError",
        ),
    },
    "/connections": {
        "get": _operation(
            "get_connections",
            "List connections",
            "Connection",
            "Op",
            params=_PAGE,
            answer="ConnectionCollection",
            errors=(400, 401, 403),
        ),
        "post": _operation(
            "post_connection",
            "Create a connection",
            "Connection",
            "Op",
            body="NewConnection",
            answer="Connection",
            errors=(400, 401, 403, 409),
        ),
    },
    "/connections/{connection_id}": {
        "get": _operation(
            "get_connection", "Get a connection", "Connection", "Op", params=("connection_id",), answer="Connection"
        ),
        "patch": _operation(
            "patch_connection",
            "Change a connection",
            "Connection",
            "Op",
            params=("connection_id", "update_mask"),
            body="ConnectionUpdate",
            answer="Connection",
            errors=_WRITE,
        ),
        "delete": _operation(
            "delete_connection", "Delete a connection", "Connection", "Op", params=("connection_id",), errors=_WRITE
        ),
    },
    "/variables": {
        "get": _operation(
            "get_variables",
            "List variables",
            "Variable",
            "Op",
            params=_PAGE,
            answer="VariableCollection",
            errors=(400, 401, 403),
            description="Keys only: get one variable for its value.",
        ),
        "post": _operation(
            "post_variables",
            "Set a variable",
            "Variable",
            "Op",
            body="NewVariable",
            answer="Variable",
            errors=(400, 401, 403),
        ),
    },
    "/variables/{variable_key}": {
        "get": _operation(
            "get_variable", "Get a variable", "Variable", "Op", params=("variable_key",), answer="Variable"
        ),
        "patch": _operation(
            "patch_variable",
            "Change a variable",
            "Variable",
            "Op",
            params=("variable_key", "update_mask"),
            body="VariableUpdate",
            answer="Variable",
            errors=_WRITE,
        ),
        "delete": _operation(
            "delete_variable", "Delete a variable", "Variable", "Op", params=("variable_key",), errors=_WRITE
        ),
    },
    "/pools": {
        "get": _operation(
            "get_pools", "List pools", "Pool", "Viewer", params=_PAGE, answer="PoolCollection", errors=(400, 401, 403)
        ),
        "post": _operation(
            "post_pool", "Create a pool", "Pool", "Op", body="NewPool", answer="Pool", errors=(400, 401, 403, 409)
        ),
    },
    "/pools/{pool_name}": {
        "get": _operation("get_pool", "Get a pool", "Pool", "Viewer", params=("pool_name",), answer="Pool"),
        "patch": _operation(
            "patch_pool",
            "Change a pool",
            "Pool",
            "Op",
            params=("pool_name", "update_mask"),
            body="PoolUpdate",
            answer="Pool",
            errors=_WRITE,
        ),
        "delete": _operation(
            "delete_pool",
            "Delete a pool",
            "Pool",
            "Op",
            params=("pool_name",),
            errors=_WRITE,
            description="default_pool cannot be deleted.",
        ),
    },
}
