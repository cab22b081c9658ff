"""Errors as users should see them: a page for the UI, `{"title", "status", "detail"}` for the API, and
never a traceback. flowctl's own errors map to 4xx statuses (bad input 400, unknown 404, duplicate 409);
a metadata DB that does not answer (down, restarting, too busy) is 503, and its page is made without
asking the DB anything (not even who the user is)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from flowctl.exceptions import AlreadyExists, FlowctlError, NotFound

log = logging.getLogger(__name__)

# What the database driver or the pool raise when the server cannot be reached or is too busy to answer
# (SQLite's "database is locked" after its busy timeout is an OperationalError too).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_DETAIL = "the metadata database is not answering; try again in a few seconds"


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
    for error in DATABASE_UNAVAILABLE:
        app.register_error_handler(error, _database_unavailable)
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


def _database_unavailable(error: Exception) -> Any:
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    log.warning("%s %s: metadata DB unavailable: %s", request.method, request.path, reason[0] if reason else error)
    response = _respond(503, "Service Unavailable", UNAVAILABLE_DETAIL, without_db=True)
    response[0].headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _unexpected(error: Exception) -> Any:
    log.exception("unexpected error in %s %s", request.method, request.path)
    return _respond(500, "Internal Server Error", "an unexpected error happened; the webserver's log has the details")


def _respond(status: int, title: str, detail: str, *, without_db: bool = False) -> Any:
    if is_api_request():
        response = jsonify({"title": title, "status": status, "detail": detail, "type": "about:blank"})
        response.status_code = status
        return response, status
    return _page(status, title, detail, without_db=without_db)


def _page(status: int, title: str, detail: str, *, without_db: bool) -> Any:
    """The error page; when who is signed in cannot be known (that needs the DB), the page without it:
    an error page must not fail."""
    context = {"status": status, "title": title, "detail": detail}
    if without_db:
        return make_response(_render_without_db("error.html", **context), status), status
    try:
        body = render_template("error.html", **context)
    except DATABASE_UNAVAILABLE:
        body = _render_without_db("error.html", **context)
    return make_response(body, status), status


def _render_without_db(name: str, **context: Any) -> str:
    """`name` rendered without the app's context processors: Flask-Login's loads the signed-in user from
    the DB for every template. The template gets `without_db` to leave out what depends on the user."""
    from flask import current_app

    return current_app.jinja_env.get_template(name).render(without_db=True, **context)
