"""`GET /api/v1/health`: is the metadata DB reachable, is a scheduler heartbeating (no login needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from flowctl.web import db
from flowctl.web.api import api_blueprint

SCHEDULER_HEALTHY_SECONDS = 30.0  # a heartbeat older than this means no live scheduler


@api_blueprint.get("/health")
def health() -> Any:
    from flowctl.db.queries.jobs import latest_heartbeat

    body: dict[str, Any] = {
        "metadatabase": {"status": "unhealthy"},
        "scheduler": {"status": "unhealthy", "latest_scheduler_heartbeat": None},
    }
    try:
        session = db.session()
        session.execute(text("SELECT 1"))
        body["metadatabase"]["status"] = "healthy"
        beat = latest_heartbeat(session, "scheduler")
    except SQLAlchemyError:
        return jsonify(body)
    if beat is not None:
        body["scheduler"]["latest_scheduler_heartbeat"] = beat.isoformat()
        if (datetime.now(UTC) - beat).total_seconds() <= SCHEDULER_HEALTHY_SECONDS:
            body["scheduler"]["status"] = "healthy"
    return jsonify(body)
