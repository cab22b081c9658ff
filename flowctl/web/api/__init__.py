"""REST API v1 (`/api/v1`): paths, parameters and shapes of Apache Airflow 2's stable REST API for the
endpoints of SPEC §7, on the same services as the CLI and the UI.

Authentication is HTTP basic with a flowctl user or the browser session; a session-authenticated change
needs the CSRF token (header `X-CSRFToken`), a basic-authenticated one does not (no cookie is involved).
`/api/v1/health` is open.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, g, request

from flowctl.roles import Role
from flowctl.web import auth

F = TypeVar("F", bound=Callable[..., Any])

api_blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
auth.csrf.exempt(api_blueprint)
OPEN_ENDPOINTS = frozenset({"api.health", "api.openapi"})
CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@api_blueprint.before_request
def _authenticate() -> None:
    if request.endpoint in OPEN_ENDPOINTS:
        return
    user = auth.basic_auth_user()
    if user is not None:
        g.api_user = user
        return
    if request.authorization is not None:
        abort(401, description="wrong username or password")
    session_user = auth.current_user()
    if not session_user.is_authenticated:
        if request.method not in CHANGING_METHODS and session_user.can(Role.VIEWER):
            return  # [webserver] auth = none: anonymous reads
        abort(401, description="authentication required: HTTP basic or a browser session")
    if request.method in CHANGING_METHODS:
        auth.csrf.protect()  # a browser session's change must carry its CSRF token


def require_api_role(role: Role) -> Callable[[F], F]:
    """An endpoint for `role` and above (403 otherwise)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = auth.current_user()
            if not user.can(role):
                if not user.is_authenticated:  # `[webserver] auth = none`: as the pages, a login first
                    abort(401, description=f"authentication required: this needs the {role} role")
                abort(403, description=f"this needs the {role} role")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


from flowctl.web.api import endpoints  # noqa: E402,F401  (registers the routes on api_blueprint)
