"""Errors as users should see them: a page for the UI, `{"title", "status", "detail"}` for the API, and
never a traceback. flowctl's own errors map to 4xx statuses (bad input 400, unknown 404, duplicate 409)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from flowctl.exceptions import AlreadyExists, FlowctlError, NotFound

log = logging.getLogger(__name__)


def status_of(error: FlowctlError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, AlreadyExists):
        return 409
    return 400


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, lambda e: _respond(400, "Bad Request", f"CSRF check failed: {e.description}"))
    app.register_error_handler(FlowctlError, lambda e: _respond(status_of(e), _title(status_of(e)), str(e)))
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def _title(status: int) -> str:
    from werkzeug.http import HTTP_STATUS_CODES

    return HTTP_STATUS_CODES.get(status, "Error")


def _http_error(error: HTTPException) -> Any:
    status = error.code or 500
    response = _respond(status, _title(status), error.description or _title(status))
    if status == 401 and is_api_request():
        response[0].headers["WWW-Authenticate"] = 'Basic realm="flowctl"'
    if status == 405 and error.get_response().headers.get("Allow"):
        response[0].headers["Allow"] = error.get_response().headers["Allow"]
    return response


def _unexpected(error: Exception) -> Any:
    log.exception("unexpected error in %s %s", request.method, request.path)
    return _respond(500, "Internal Server Error", "an unexpected error happened; the webserver's log has the details")


def _respond(status: int, title: str, detail: str) -> Any:
    if is_api_request():
        response = jsonify({"title": title, "status": status, "detail": detail, "type": "about:blank"})
        response.status_code = status
        return response, status
    return _page(status, title, detail)


def _page(status: int, title: str, detail: str) -> Any:
    from flask import make_response

    response = make_response(render_template("error.html", status=status, title=title, detail=detail), status)
    return response, status
