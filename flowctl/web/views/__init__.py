"""The UI's pages, one blueprint per area."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

if TYPE_CHECKING:
    from flowctl.config import Settings


def register_views(app: Flask, settings: Settings) -> None:
    from flowctl.web import presenters
    from flowctl.web.views import home

    presenters.init_app(app, settings.ui_timezone)
    app.register_blueprint(home.bp)
