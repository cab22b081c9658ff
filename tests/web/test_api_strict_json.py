"""JSON bodies of the REST API are standard JSON: NaN and Infinity, which strict JSON clients cannot
read back, and nesting deep enough to exhaust the parser are a 400 naming the problem, never stored."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from flowctl.roles import Role
from tests.web.conftest import Seed, Web

OTHER = """
import pendulum
from flowctl import DAG
from flowctl.operators import EmptyOperator

with DAG("other", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    EmptyOperator(task_id="b")
"""


def _runs(session_factory) -> int:
    from flowctl.db.models import DagRun

    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(DagRun))


def _post(web: Web, url: str, text: str):
    return web.app.test_client().post(
        url, data=text, content_type="application/json", headers=web.basic_auth(Role.ADMIN)
    )


@pytest.mark.parametrize("depth", [150, 990, 5000, 100_000])
def test_a_deeply_nested_conf_is_400_naming_the_nesting_and_creates_no_run(
    web: Web, seed: Seed, session_factory, depth: int
) -> None:
    seed.dag(OTHER)
    body = '{"conf": {"a": ' + "[" * depth + "]" * depth + "}}"

    response = _post(web, "/api/v1/dags/other/dagRuns", body)

    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "nested" in response.get_json()["detail"]
    assert _runs(session_factory) == 0


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_conf_holding_a_number_json_cannot_carry_is_400_and_creates_no_run(
    web: Web, seed: Seed, session_factory, number: str
) -> None:
    seed.dag(OTHER)

    response = _post(web, "/api/v1/dags/other/dagRuns", '{"conf": {"x": [1, ' + number + "]}}")

    assert response.status_code == 400
    assert number.lstrip("-") in response.get_json()["detail"]
    assert _runs(session_factory) == 0
