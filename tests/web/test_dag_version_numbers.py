"""DAG versions are numbered per DAG, 1 for its first stored version (issue 10, item 17), not by the
row id that every DAG's versions share."""

from __future__ import annotations

import re

from flowctl.roles import Role
from tests.web.conftest import Seed, Web
from tests.web.test_dag_views import PIPELINE_V1, PIPELINE_V2, at, wide_dag


def test_pages_number_a_dag_s_versions_from_one(web: Web, seed: Seed) -> None:
    # Given: two other DAGs stored first (so "pipeline"'s version rows are not the first ones), then two
    # versions of pipeline, with a run on each
    seed.dag(wide_dag("first", 3))
    seed.dag(wide_dag("second", 3))
    dag_id = seed.dag(PIPELINE_V1)
    seed.run(dag_id, {"extract": "success"}, run_id="old", logical_date=at(0))
    seed.dag(PIPELINE_V2)
    seed.run(dag_id, {"extract": "success"}, run_id="new", logical_date=at(60))
    client = web.client(Role.VIEWER)

    def shown(path: str) -> str:
        page = client.get(path).get_data(as_text=True)
        match = re.search(r"DAG version</dt>\s*<dd>\s*(\d+)|DAG version (\d+)", page)
        assert match, f"no DAG version on {path}"
        return match.group(1) or match.group(2)

    # Then: the old run's version is 1 and the new one's 2, on the graph, code and run pages
    assert shown(f"/dags/{dag_id}/graph?run_id=old") == "1"
    assert shown(f"/dags/{dag_id}/graph?run_id=new") == "2"
    assert shown(f"/dags/{dag_id}/code?run_id=old") == "1"
    assert shown(f"/dags/{dag_id}/code") == "2"
    assert shown(f"/dags/{dag_id}/runs/old") == "1"
    assert shown(f"/dags/{dag_id}/runs/new") == "2"
    assert shown("/dags/second/graph") == "1"
