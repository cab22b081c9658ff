"""The UI's pages, one blueprint per area."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

if TYPE_CHECKING:
    from flowctl.config import Settings


def register_views(app: Flask, settings: Settings) -> None:
    from flowctl.web import presenters
    from flowctl.web.views import admin, dags

    presenters.init_app(app, settings.ui_timezone)
    app.register_blueprint(dags.bp)
    app.register_blueprint(admin.bp)

    from flowctl.web.views import run_actions, runs

    app.register_blueprint(runs.bp)
    app.register_blueprint(run_actions.bp)

    from flowctl.web.views import dag_views

    app.register_blueprint(dag_views.bp)
