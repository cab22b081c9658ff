"""Endpoint modules of the API; each registers its routes on api_blueprint when imported."""

from flowctl.web.api import health  # noqa: F401
