"""Endpoint modules of the API; each registers its routes on api_blueprint when imported."""

from flowctl.web.api import (  # noqa: F401
    connections,
    dag_runs,
    dags,
    health,
    import_errors,
    logs,
    openapi,
    pools,
    task_instances,
    variables,
    xcoms,
)
