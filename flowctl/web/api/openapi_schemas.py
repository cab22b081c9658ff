"""The schemas of the OpenAPI document: what each endpoint answers and what each request body may hold.

Response schemas list every field the API returns (all required, nothing else allowed), so the document
and the answers cannot drift apart unnoticed; request schemas refuse unknown fields, as Airflow does.
OpenAPI 3.0 style: `nullable` marks fields that may be null.
"""

from __future__ import annotations

from typing import Any

from flowctl.state import RunState, RunType, TaskState

Schema = dict[str, Any]
MAX_INT = 2**31 - 1  # integers beyond what every backend stores are refused

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
DATETIME: Schema = {"type": "string", "format": "date-time"}
STRINGS: Schema = {"type": "array", "items": STRING}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"allOf": [schema], "nullable": True}
    return {**schema, "nullable": True}


def described(text: str, schema: Schema) -> Schema:
    return {**schema, "description": text}


def record(properties: dict[str, Schema], *, required: list[str] | None = None, description: str = "") -> Schema:
    """An object with exactly these properties (all of them required unless `required` says otherwise)."""
    schema: Schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def collection(field: str, item: str) -> Schema:
    return record(
        {
            field: {"type": "array", "items": ref(item)},
            "total_entries": described("How many objects match, before limit and offset.", INTEGER),
        }
    )


TIME_DELTA = record(
    {"__type": {"type": "string", "enum": ["TimeDelta"]}, "days": INTEGER, "seconds": INTEGER, "microseconds": INTEGER}
)
CRON_EXPRESSION = record({"__type": {"type": "string", "enum": ["CronExpression"]}, "value": STRING})
TASK_STATE: Schema = {"type": "string", "enum": [state.value for state in TaskState]}
DAG_STATE: Schema = {"type": "string", "enum": [state.value for state in RunState]}
HEALTH_STATUS: Schema = {"type": "string", "enum": ["healthy", "unhealthy"]}

_DAG = {
    "dag_id": STRING,
    "dag_display_name": STRING,
    "is_paused": BOOLEAN,
    "is_active": described("False once the DAG's file no longer defines it.", BOOLEAN),
    "last_parsed_time": nullable(DATETIME),
    "fileloc": STRING,
    "owners": STRINGS,
    "description": nullable(STRING),
    "schedule_interval": {
        "anyOf": [ref("TimeDelta"), ref("CronExpression")],
        "nullable": True,
        "description": "A cron expression or preset (CronExpression), a duration (TimeDelta), null for manual only.",
    },
    "schedule": described("flowctl: the schedule as `dags list` prints it.", nullable(STRING)),
    "timezone": described("flowctl: the time zone the schedule is evaluated in.", STRING),
    "tags": {"type": "array", "items": ref("Tag")},
    "max_active_tasks": INTEGER,
    "max_active_runs": INTEGER,
    "has_import_errors": BOOLEAN,
    "next_dagrun": nullable(DATETIME),
    "next_dagrun_data_interval_start": nullable(DATETIME),
    "next_dagrun_data_interval_end": nullable(DATETIME),
    "next_dagrun_create_after": nullable(DATETIME),
}

_TASK = {
    "class_ref": record({"class_name": STRING}),
    "task_id": STRING,
    "task_display_name": STRING,
    "owner": STRING,
    "start_date": nullable(DATETIME),
    "end_date": nullable(DATETIME),
    "trigger_rule": STRING,
    "extra_links": {"type": "array", "items": {"type": "object"}},
    "depends_on_past": BOOLEAN,
    "is_mapped": BOOLEAN,
    "wait_for_downstream": BOOLEAN,
    "retries": INTEGER,
    "queue": STRING,
    "pool": STRING,
    "pool_slots": INTEGER,
    "execution_timeout": nullable(ref("TimeDelta")),
    "retry_delay": ref("TimeDelta"),
    "retry_exponential_backoff": BOOLEAN,
    "priority_weight": INTEGER,
    "weight_rule": STRING,
    "ui_color": STRING,
    "template_fields": STRINGS,
    "downstream_task_ids": STRINGS,
    "upstream_task_ids": described("flowctl: the tasks this one depends on.", STRINGS),
    "doc_md": nullable(STRING),
}

_DAG_RUN = {
    "dag_run_id": STRING,
    "run_id": described("flowctl: the same as dag_run_id (the CLI's name).", STRING),
    "dag_id": STRING,
    "logical_date": DATETIME,
    "execution_date": described("The same as logical_date (Airflow's older name).", DATETIME),
    "data_interval_start": nullable(DATETIME),
    "data_interval_end": nullable(DATETIME),
    "queued_at": described("flowctl: when the run was created or last sent back to queued.", nullable(DATETIME)),
    "start_date": nullable(DATETIME),
    "end_date": nullable(DATETIME),
    "run_type": {"type": "string", "enum": [run_type.value for run_type in RunType]},
    "state": DAG_STATE,
    "external_trigger": BOOLEAN,
    "conf": {"type": "object"},
    "note": described("Always null: flowctl keeps no notes.", nullable(STRING)),
}

_TASK_INSTANCE = {
    "task_id": STRING,
    "task_display_name": STRING,
    "dag_id": STRING,
    "dag_run_id": STRING,
    "execution_date": described("The run's logical date.", DATETIME),
    "start_date": nullable(DATETIME),
    "end_date": nullable(DATETIME),
    "duration": nullable(NUMBER),
    "state": TASK_STATE,
    "try_number": described("The latest try (0 before the first).", INTEGER),
    "map_index": described("-1 for a task that is not mapped.", INTEGER),
    "max_tries": INTEGER,
    "hostname": described("Where the latest try ran; empty before the first.", STRING),
    "pid": nullable(INTEGER),
    "pool": STRING,
    "pool_slots": INTEGER,
    "queue": STRING,
    "priority_weight": INTEGER,
    "operator": nullable(STRING),
    "queued_when": nullable(DATETIME),
    "rendered_fields": described("The latest try's rendered template fields (secrets masked).", {"type": "object"}),
    "note": described("Always null: flowctl keeps no notes.", nullable(STRING)),
}

_TASK_INSTANCE_REFERENCE = {
    "task_id": STRING,
    "dag_id": STRING,
    "dag_run_id": STRING,
    "execution_date": DATETIME,
    "map_index": described("flowctl: -1 for a task that is not mapped.", INTEGER),
}

_XCOM_ITEM = {
    "key": STRING,
    "timestamp": DATETIME,
    "execution_date": DATETIME,
    "map_index": INTEGER,
    "task_id": STRING,
    "dag_id": STRING,
    "dag_run_id": described("flowctl: the run the value belongs to.", STRING),
}

_CONNECTION_ITEM = {
    "connection_id": STRING,
    "conn_type": STRING,
    "description": nullable(STRING),
    "host": nullable(STRING),
    "login": nullable(STRING),
    "schema": nullable(STRING),
    "port": nullable(INTEGER),
}

_POOL = {
    "name": STRING,
    "slots": INTEGER,
    "occupied_slots": described("Slots held by running and queued task instances.", INTEGER),
    "running_slots": INTEGER,
    "queued_slots": INTEGER,
    "scheduled_slots": INTEGER,
    "deferred_slots": described("Always 0: flowctl does not defer tasks.", INTEGER),
    "open_slots": INTEGER,
    "description": nullable(STRING),
    "include_deferred": described("Always false: flowctl does not defer tasks.", BOOLEAN),
}

_ID: Schema = {"type": "string", "minLength": 1}
_CONNECTION_FIELDS = {
    "connection_id": _ID,
    "conn_type": described(
        "Lower-case letters, digits, '_', '+' or '.', starting with a letter, at most 100 characters (the "
        "scheme of the connection's URI); a type flowctl does not know, as a plugin's, is accepted.",
        STRING,
    ),
    "description": nullable(STRING),
    "host": nullable(STRING),
    "login": nullable(STRING),
    "schema": nullable(STRING),
    "port": nullable({"type": "integer", "minimum": 1, "maximum": 65535}),
    "password": described("Write-only: never returned.", nullable({"type": "string", "format": "password"})),
    "extra": described("A JSON object, as text.", nullable(STRING)),
}
_POOL_FIELDS = {
    "name": _ID,
    "slots": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
    "description": nullable(STRING),
    "include_deferred": described("flowctl does not defer tasks: only false is accepted.", {"enum": [False]}),
}
_VARIABLE_FIELDS = {"key": _ID, "value": STRING}

REQUEST_SCHEMAS: dict[str, Schema] = {
    "UpdateDAG": record({"is_paused": BOOLEAN}),
    "TriggerDAGRun": record(
        {
            "dag_run_id": described("Defaults to manual__<logical date>.", nullable(_ID)),
            "logical_date": described("With a time zone; defaults to now.", nullable(DATETIME)),
            "execution_date": described("Airflow's older name of logical_date.", nullable(DATETIME)),
            "conf": described("Checked against the DAG's params.", nullable({"type": "object"})),
        },
        required=[],
    ),
    "ClearTaskInstances": record(
        {
            "dry_run": described("Only list what would be cleared.", {**BOOLEAN, "default": True}),
            "task_ids": {"type": "array", "items": STRING, "minItems": 1},
            "dag_run_id": nullable(STRING),
            "start_date": described("Runs with a logical date at or after this.", DATETIME),
            "end_date": described("Runs with a logical date at or before this.", DATETIME),
            "only_failed": described("Only failed and upstream_failed instances.", {**BOOLEAN, "default": True}),
            "only_running": described("flowctl: only false is accepted.", {"enum": [False]}),
            "reset_dag_runs": described("flowctl always sends finished runs back to queued.", {"enum": [True]}),
            "include_upstream": {**BOOLEAN, "default": False},
            "include_downstream": {**BOOLEAN, "default": False},
            "include_future": described("Also later runs.", {**BOOLEAN, "default": False}),
            "include_past": described("Also earlier runs.", {**BOOLEAN, "default": False}),
            "include_subdags": described("Accepted and ignored: flowctl has no subdags.", BOOLEAN),
            "include_parentdag": described("Accepted and ignored: flowctl has no subdags.", BOOLEAN),
        },
        required=[],
    ),
    "UpdateTaskInstance": record(
        {
            "dry_run": described("Only say which instance would change (flowctl's default: false).", BOOLEAN),
            "new_state": {"type": "string", "enum": [TaskState.SUCCESS.value, TaskState.FAILED.value]},
        },
        required=["new_state"],
    ),
    "NewConnection": record(_CONNECTION_FIELDS, required=["connection_id", "conn_type"]),
    "ConnectionUpdate": record(_CONNECTION_FIELDS, required=[]),
    "NewVariable": record(_VARIABLE_FIELDS, required=["key", "value"]),
    "VariableUpdate": record(_VARIABLE_FIELDS, required=[]),
    "NewPool": record(_POOL_FIELDS, required=["name", "slots"]),
    "PoolUpdate": record(_POOL_FIELDS, required=[]),
}

RESPONSE_SCHEMAS: dict[str, Schema] = {
    "Error": record(
        {"type": STRING, "title": STRING, "status": INTEGER, "detail": STRING},
        description="RFC 7807 problem details.",
    ),
    "HealthInfo": record(
        {
            "metadatabase": record({"status": HEALTH_STATUS}),
            "scheduler": record({"status": HEALTH_STATUS, "latest_scheduler_heartbeat": nullable(DATETIME)}),
        }
    ),
    "TimeDelta": TIME_DELTA,
    "CronExpression": CRON_EXPRESSION,
    "Tag": record({"name": STRING}),
    "DAG": record(_DAG),
    "DAGCollection": collection("dags", "DAG"),
    "Task": record(_TASK),
    "TaskCollection": collection("tasks", "Task"),
    "DAGRun": record(_DAG_RUN),
    "DAGRunCollection": collection("dag_runs", "DAGRun"),
    "TaskInstance": record(_TASK_INSTANCE),
    "TaskInstanceCollection": collection("task_instances", "TaskInstance"),
    "TaskInstanceReference": record(_TASK_INSTANCE_REFERENCE),
    "TaskInstanceReferenceCollection": record(
        {"task_instances": {"type": "array", "items": ref("TaskInstanceReference")}}
    ),
    "XComCollectionItem": record(_XCOM_ITEM),
    "XComCollection": collection("xcom_entries", "XComCollectionItem"),
    "XCom": record({**_XCOM_ITEM, "value": described("The value, as text unless stringify=false.", {})}),
    "ImportError": record(
        {"import_error_id": INTEGER, "timestamp": DATETIME, "filename": STRING, "stack_trace": STRING}
    ),
    "ImportErrorCollection": collection("import_errors", "ImportError"),
    "ConnectionCollectionItem": record(_CONNECTION_ITEM),
    "ConnectionCollection": collection("connections", "ConnectionCollectionItem"),
    "Connection": record(
        {**_CONNECTION_ITEM, "extra": described("Secret values are shown as ***.", nullable(STRING))},
        description="A connection; its password is write-only and never returned.",
    ),
    "VariableCollectionItem": record({"key": STRING, "description": nullable(STRING)}),
    "VariableCollection": collection("variables", "VariableCollectionItem"),
    "Variable": record(
        {
            "key": STRING,
            "value": described("The value, a sensitive key's too (only Ops and Admins read variables).", STRING),
            "description": nullable(STRING),
        }
    ),
    "Pool": record(_POOL),
    "PoolCollection": collection("pools", "Pool"),
}

SCHEMAS: dict[str, Schema] = {**RESPONSE_SCHEMAS, **REQUEST_SCHEMAS}
