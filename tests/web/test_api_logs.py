"""`GET .../logs/{try}`: JSON chunks with a continuation token or raw text, served only from inside the
logs folder whatever the ids, encodings or symlinks say."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowctl.roles import Role
from tests.web.conftest import Seed, Web

pytestmark = pytest.mark.sqlite_only  # what it checks does not depend on the metadata DB

DAG = """
import pendulum
from flowctl import DAG
from flowctl.operators import EmptyOperator

with DAG("logged", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    EmptyOperator(task_id="a")
    EmptyOperator(task_id="waiting")
"""
BASE = "/api/v1/dags/logged/dagRuns/r1/taskInstances/a/logs"


@pytest.fixture
def log_file(web: Web, seed: Seed) -> Path:
    """The log of try 1 of task `a` (finished) in run r1."""
    from flowctl.logs import task_log_path

    seed.dag(DAG)
    seed.run("logged", {"a": "success"}, run_id="r1", logical_date=datetime(2024, 1, 2, tzinfo=UTC))
    path = task_log_path(
        seed.settings.logging.base_log_folder, dag_id="logged", run_id="r1", task_id="a", map_index=-1, try_number=1
    )
    path.parent.mkdir(parents=True)
    path.write_text("line one\n<script>alert(1)</script>\nline three\n")
    return path


def _get(web: Web, url: str, **headers: str):
    return web.app.test_client().get(url, headers={**web.basic_auth(Role.VIEWER), **headers})


def test_the_log_as_json_with_a_token_to_read_on(web: Web, log_file: Path) -> None:
    first = _get(web, f"{BASE}/1")

    assert first.status_code == 200 and first.mimetype == "application/json"
    body = first.get_json()
    assert set(body) == {"continuation_token", "content"}
    assert body["content"] == "line one\n<script>alert(1)</script>\nline three\n"
    with log_file.open("a") as handle:
        handle.write("line four\n")
    more = _get(web, f"{BASE}/1?token={body['continuation_token']}").get_json()
    assert more["content"] == "line four\n"
    assert _get(web, f"{BASE}/1?full_content=true").get_json()["content"].endswith("line four\n")


def test_the_log_as_raw_text_when_asked_for_text_plain(web: Web, log_file: Path) -> None:
    response = _get(web, f"{BASE}/1", Accept="text/plain")

    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == log_file.read_text()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/dags/%2e%2e/dagRuns/r1/taskInstances/a/logs/1",
        "/api/v1/dags/logged/dagRuns/%2E%2E/taskInstances/a/logs/1",
        "/api/v1/dags/logged/dagRuns/r1/taskInstances/../logs/1",
        "/api/v1/dags/logged/dagRuns/r1/taskInstances/..%5C..%5Cetc/logs/1",
        "/api/v1/dags/logged/dagRuns/r1/taskInstances/a%00/logs/1",
        "/api/v1/dags/logged/dagRuns/r1/taskInstances/%2Fetc%2Fpasswd/logs/1",
        "/api/v1/dags/logged/dagRuns/r1/taskInstances/..%2F..%2F..%2Fetc/logs/1",
        "/api/v1/dags/logged/dagRuns/..%252F..%252Fetc/taskInstances/a/logs/1",
        "/api/v1/dags/logged/dagRuns/r1/taskInstances/a/logs/..%2F1",
        "/api/v1/dags/logged/dagRuns/r1/taskInstances/a/logs/1?map_index=-2",
    ],
)
def test_paths_that_try_to_leave_the_logs_folder_are_400_or_404(web: Web, log_file: Path, url: str) -> None:
    response = _get(web, url)

    assert response.status_code in (400, 404), response.status_code
    assert response.mimetype == "application/json"
    assert "root:" not in response.get_data(as_text=True)


def test_a_symlink_out_of_the_logs_folder_is_refused(web: Web, log_file: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("the secret outside")
    log_file.unlink()
    log_file.symlink_to(secret)

    file_link = _get(web, f"{BASE}/1")
    text_link = _get(web, f"{BASE}/1", Accept="text/plain")

    assert file_link.status_code == 400 and text_link.status_code == 400
    assert "the secret" not in file_link.get_data(as_text=True) + text_link.get_data(as_text=True)


def test_a_symlinked_folder_out_of_the_logs_folder_is_refused(web: Web, log_file: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "attempt=1.log").write_text("the secret outside")
    folder = log_file.parent
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()
    os.symlink(outside, folder)

    response = _get(web, f"{BASE}/1")

    assert response.status_code == 400
    assert "the secret" not in response.get_data(as_text=True)


def test_try_numbers_must_be_whole_numbers_from_1_and_a_try_that_never_ran_is_404(web: Web, log_file: Path) -> None:
    for text in ("0", "-1", "abc", "1.5", "%201", "99999999999999999999"):
        assert _get(web, f"{BASE}/{text}").status_code == 400, text
    assert _get(web, f"{BASE}/2").status_code == 404


def test_unknown_instances_missing_files_and_bad_tokens(web: Web, log_file: Path) -> None:
    assert _get(web, "/api/v1/dags/logged/dagRuns/r1/taskInstances/nope/logs/1").status_code == 404
    assert _get(web, "/api/v1/dags/logged/dagRuns/r9/taskInstances/a/logs/1").status_code == 404
    assert _get(web, f"{BASE}/1?token=forged").status_code == 400
    log_file.unlink()
    assert _get(web, f"{BASE}/1").status_code == 404
