"""`GET .../taskInstances/{task_id}/logs/{task_try_number}`: a try's log, as JSON chunks with a continuation
token, or the raw text with `Accept: text/plain`.

Served only from inside the logs folder: the ids are checked before any path is built, the path is
resolved through symlinks and must stay inside the folder (flowctl.web.task_logs).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Response, jsonify, request
from itsdangerous import BadSignature, URLSafeSerializer

from flowctl.exceptions import InvalidInput, NotFound
from flowctl.logs import check_path_id
from flowctl.roles import Role
from flowctl.web import db
from flowctl.web.api import api_blueprint, arguments, require_api_role
from flowctl.web.api.openapi_schemas import MAX_INT
from flowctl.web.api.task_instances import TI_PATH, require_task_instance

TOKEN_SALT = "flowctl.api.log-position"


@api_blueprint.get(TI_PATH + "/logs/<task_try_number>")
@require_api_role(Role.VIEWER)
def get_log(dag_id: str, dag_run_id: str, task_id: str, task_try_number: str) -> Any:
    from flowctl.web.task_logs import CHUNK_BYTES, LIVE_STATES, log_file, read_chunk

    for kind, value in (("dag_id", dag_id), ("dag_run_id", dag_run_id), ("task_id", task_id)):
        check_path_id(kind, value)
    try_number = _try_number(task_try_number)
    values = arguments.query()
    map_index = -1 if values["map_index"] is None else values["map_index"]
    position = _position(values["token"])
    ti, _ = require_task_instance(db.session(), dag_id, dag_run_id, task_id, map_index)
    if try_number > ti.try_number:
        raise NotFound(f"task instance {task_id!r} has no try {try_number} (its latest is {ti.try_number})")
    path = log_file(
        db.settings().logging.base_log_folder,
        dag_id=dag_id,
        run_id=dag_run_id,
        task_id=task_id,
        map_index=map_index,
        try_number=try_number,
    )
    live = ti.try_number == try_number and ti.state in LIVE_STATES
    if request.accept_mimetypes.best_match(["application/json", "text/plain"]) == "text/plain":
        first = read_chunk(path, offset=position, limit=CHUNK_BYTES)
        if not first.exists and not live:
            raise NotFound(f"try {try_number} of {task_id!r} has no log file")
        return Response(_text(path, first.offset, first.text), mimetype="text/plain")
    chunk = read_chunk(path, offset=position, limit=CHUNK_BYTES)
    if not chunk.exists and not live:
        raise NotFound(f"try {try_number} of {task_id!r} has no log file")
    parts = [chunk.text]
    while values["full_content"] and chunk.more and chunk.text:
        chunk = read_chunk(path, offset=chunk.offset, limit=CHUNK_BYTES)
        parts.append(chunk.text)
    token = {"log_pos": chunk.offset, "end_of_log": not live and not chunk.more}
    return jsonify({"continuation_token": _serializer().dumps(token), "content": "".join(parts)})


def _text(path: Path, offset: int, first: str) -> Iterator[str]:
    """The log from where the first chunk ended, chunk by chunk (no request or DB needed while streaming)."""
    from flowctl.web.task_logs import CHUNK_BYTES, read_chunk

    yield first
    while first:
        chunk = read_chunk(path, offset=offset, limit=CHUNK_BYTES)
        if chunk.reset or not chunk.text:
            return
        offset, first = chunk.offset, chunk.text
        yield first


def _try_number(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_INT:
        raise InvalidInput(f"task_try_number must be an integer from 1 (the first try), got {text!r}")
    return int(text)


def _position(token: str | None) -> int:
    if not token:
        return 0
    try:
        data = _serializer().loads(token)
    except BadSignature:
        raise InvalidInput("token is not a continuation_token of this log endpoint") from None
    position = data.get("log_pos") if isinstance(data, dict) else None
    if type(position) is not int or position < 0:
        raise InvalidInput("token holds no log position")
    return position


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(db.settings().webserver.secret_key, salt=TOKEN_SALT)
