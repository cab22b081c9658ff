"""Placeholder home page until the DAGs list lands."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from flowctl.roles import Role
from flowctl.web.auth import require_role

bp = Blueprint("home", __name__)


@bp.get("/")
@require_role(Role.VIEWER)
def index() -> Any:
    return render_template("base.html")
