"""The run and task instance pages (SPEC §6): what they show to a Viewer, the live log tail, logs served
only from inside the logs folder, escaping of everything a DAG or a user wrote, masked secrets, clear and
mark confirmed and done through POST + CSRF by a User, and a query count that does not grow with rows."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from flowctl.config import Settings
from flowctl.db.models import DagRun, TaskInstance, TaskInstanceTry, XCom
from flowctl.logs import MaskingWriter, SecretMasker, task_log_path
from flowctl.roles import Role
from tests.web.conftest import Seed, Web

SOURCE = """
from datetime import datetime
from flowctl import DAG
from flowctl.operators.empty import EmptyOperator

with DAG("pipeline", schedule=None, start_date=datetime(2024, 1, 1), is_paused_upon_creation=False):
    extract = EmptyOperator(task_id="extract", retries=2)
    transform = EmptyOperator(task_id="transform", pool="default_pool")
    load = EmptyOperator(task_id="load")
    extract >> transform >> load
"""
XSS = "<script>alert(1)</script>"
ESCAPED_XSS = "&lt;script&gt;alert(1)&lt;/script&gt;"
PASSWD_MARK = "root:x:0:0"


def wide_source(dag_id: str, tasks: int) -> str:
    return f"""
from datetime import datetime
from flowctl import DAG
from flowctl.operators.empty import EmptyOperator

with DAG("{dag_id}", schedule=None, start_date=datetime(2024, 1, 1), is_paused_upon_creation=False):
    first = EmptyOperator(task_id="first")
    for n in range({tasks}):
        first >> EmptyOperator(task_id=f"t{{n}}")
"""


# --- helpers ---------------------------------------------------------------------------------------


def ti_url(dag_id: str, run_id: str, task_id: str, suffix: str = "") -> str:
    return f"/dags/{dag_id}/runs/{run_id}/tasks/{task_id}{suffix}"


def write_log(
    settings: Settings, dag_id: str, run_id: str, task_id: str, text: str, *, try_number: int = 1, map_index: int = -1
) -> Path:
    path = task_log_path(
        settings.logging.base_log_folder,
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        map_index=map_index,
        try_number=try_number,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)
    return path


def get_ti(factory: sessionmaker[Session], run_id: str, task_id: str, map_index: int = -1) -> TaskInstance:
    with factory() as session:
        ti = session.scalar(
            select(TaskInstance).where(
                TaskInstance.run_id == run_id, TaskInstance.task_id == task_id, TaskInstance.map_index == map_index
            )
        )
        assert ti is not None
        session.expunge(ti)
        return ti


def add_tries(factory: sessionmaker[Session], run_id: str, task_id: str, states: list[str], **last: Any) -> None:
    """Try rows 1..n with these states (the last one gets `last`'s columns); the TI's try number follows."""
    now = datetime.now(UTC)
    with factory.begin() as session:
        ti = session.scalar(select(TaskInstance).where(TaskInstance.run_id == run_id, TaskInstance.task_id == task_id))
        assert ti is not None
        for number, state in enumerate(states, start=1):
            extra = last if number == len(states) else {}
            session.add(
                TaskInstanceTry(
                    task_instance_id=ti.id,
                    try_number=number,
                    state=state,
                    hostname="worker-1",
                    pid=4000 + number,
                    queued_at=now - timedelta(seconds=30),
                    start_date=now - timedelta(seconds=20),
                    end_date=None if state == "running" else now,
                    duration=None if state == "running" else 20.0,
                    **extra,
                )
            )
        ti.try_number = len(states)


def add_xcoms(factory: sessionmaker[Session], run_id: str, task_id: str, values: dict[str, bytes]) -> None:
    with factory.begin() as session:
        ti = session.scalar(select(TaskInstance).where(TaskInstance.run_id == run_id, TaskInstance.task_id == task_id))
        assert ti is not None
        session.add_all(
            XCom(task_instance_id=ti.id, key=key, value=value, created_at=datetime.now(UTC))
            for key, value in values.items()
        )


def set_state(factory: sessionmaker[Session], run_id: str, task_id: str, state: str) -> None:
    with factory.begin() as session:
        ti = session.scalar(select(TaskInstance).where(TaskInstance.run_id == run_id, TaskInstance.task_id == task_id))
        assert ti is not None
        ti.state = state


def db_snapshot(factory: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with factory() as session:
        tis = session.execute(
            select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state, TaskInstance.try_number)
        ).all()
        runs = session.execute(select(DagRun.run_id, DagRun.state)).all()
        tries = session.execute(select(TaskInstanceTry.id, TaskInstanceTry.state)).all()
    return sorted(map(tuple, tis)) + sorted(map(tuple, runs)) + sorted(map(tuple, tries))


@contextmanager
def counted_queries(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


@pytest.fixture
def pipeline(seed: Seed) -> str:
    return seed.dag(SOURCE)


# --- what the pages show ---------------------------------------------------------------------------


def test_the_task_instance_page_shows_state_tries_logs_rendered_fields_and_xcoms_to_a_viewer(
    web: Web, seed: Seed, pipeline: str, session_factory: sessionmaker[Session], web_settings: Settings
) -> None:
    # Given a task that failed once and then succeeded, with a log per try, rendered fields and an XCom
    run_id = seed.run(pipeline, {"extract": "success"})
    add_tries(
        session_factory,
        run_id,
        "extract",
        ["failed", "success"],
        exit_code=0,
        rendered_fields={"bash_command": "echo hello", "env": {"A": 1}},
    )
    with session_factory.begin() as session:
        first = session.scalar(
            select(TaskInstanceTry).where(TaskInstanceTry.try_number == 1, TaskInstanceTry.state == "failed")
        )
        first.error, first.exit_code = "ValueError: boom", 1
    write_log(web_settings, pipeline, run_id, "extract", "first try output\n", try_number=1)
    write_log(web_settings, pipeline, run_id, "extract", "second try output\n", try_number=2)
    add_xcoms(session_factory, run_id, "extract", {"return_value": json.dumps({"rows": 42}).encode()})
    client = web.client(Role.VIEWER)

    # When a Viewer opens the page, then the first try's log
    page = client.get(ti_url(pipeline, run_id, "extract")).get_data(as_text=True)
    first_try = client.get(ti_url(pipeline, run_id, "extract", "?try_number=1")).get_data(as_text=True)

    # Then
    assert 'id="ti-state" class="state-label state-success">success<' in page
    assert "EmptyOperator" in page and "default_pool" in page and "worker-1" in page
    assert "ValueError: boom" in page  # the first try's error, in the tries table
    assert "second try output" in page and "first try output" not in page  # the latest try by default
    assert "echo hello" in page and "bash_command" in page
    assert "return_value" in page and "&#34;rows&#34;: 42" in page
    assert "/clear" not in page and "/mark/" not in page  # no actions for a Viewer
    assert "first try output" in first_try and "second try output" not in first_try


def test_a_mapped_task_without_map_index_lists_its_instances(
    web: Web, seed: Seed, pipeline: str, session_factory: sessionmaker[Session]
) -> None:
    run_id = seed.run(pipeline)
    with session_factory.begin() as session:
        session.add_all(
            TaskInstance(dag_id=pipeline, run_id=run_id, task_id="transform", map_index=i, state="success")
            for i in range(3)
        )
    client = web.client(Role.VIEWER)

    listing = client.get(ti_url(pipeline, run_id, "transform")).get_data(as_text=True)
    one = client.get(ti_url(pipeline, run_id, "transform", "?map_index=2"))

    assert "3 instances" in listing and "map_index=2" in listing
    assert one.status_code == 200 and "transform[2]" in one.get_data(as_text=True)
    assert client.get(ti_url(pipeline, run_id, "transform", "?map_index=7")).status_code == 404
    assert client.get(ti_url(pipeline, run_id, "transform", "?page=2")).status_code == 404
    assert client.get(ti_url(pipeline, run_id, "transform", "?page=x")).status_code == 400


def test_the_run_page_shows_conf_timings_version_and_task_states(web: Web, seed: Seed, pipeline: str) -> None:
    run_id = seed.run(pipeline, {"extract": "success", "transform": "running"}, conf={"day": "monday"})

    page = web.client(Role.VIEWER).get(f"/dags/{pipeline}/runs/{run_id}")
    text = page.get_data(as_text=True)

    assert page.status_code == 200
    assert "&#34;day&#34;: &#34;monday&#34;" in text
    assert 'data-task-id="transform"' in text and "state-running" in text
    assert "latest" in text  # the DAG version it ran with is the latest
    assert "Clear failed tasks" not in text  # Viewer: no actions


def test_the_state_json_of_a_run_and_a_task_instance_follow_the_db(
    web: Web, seed: Seed, pipeline: str, session_factory: sessionmaker[Session]
) -> None:
    run_id = seed.run(pipeline, {"extract": "running"})
    client = web.client(Role.VIEWER)

    before = client.get(f"/dags/{pipeline}/runs/{run_id}/states.json").get_json()
    set_state(session_factory, run_id, "extract", "success")
    after = client.get(f"/dags/{pipeline}/runs/{run_id}/states.json").get_json()
    ti_state = client.get(ti_url(pipeline, run_id, "extract", "/state.json")).get_json()

    states = {ti["task_id"]: ti["state"] for ti in before["task_instances"]}
    assert states == {"extract": "running", "transform": "none", "load": "none"}
    assert {ti["task_id"]: ti["state"] for ti in after["task_instances"]}["extract"] == "success"
    assert ti_state["state"] == "success" and ti_state["finished"] is True and ti_state["tries_allowed"] == 3


def test_why_isnt_it_running_explains_with_the_planner_and_the_limits(
    web: Web, seed: Seed, pipeline: str, session_factory: sessionmaker[Session]
) -> None:
    run_id = seed.run(pipeline, {"extract": "running"})
    with session_factory.begin() as session:
        from flowctl.db.models import Pool

        session.scalar(select(Pool).where(Pool.pool == "default_pool")).slots = 1
        session.scalar(select(TaskInstance).where(TaskInstance.task_id == "extract")).pool = "default_pool"
        ti = session.scalar(select(TaskInstance).where(TaskInstance.task_id == "transform"))
        ti.state = "scheduled"
    client = web.client(Role.VIEWER)

    load = client.get(ti_url(pipeline, run_id, "load")).get_data(as_text=True)
    transform = client.get(ti_url(pipeline, run_id, "transform")).get_data(as_text=True)
    done = client.get(ti_url(pipeline, run_id, "extract")).get_data(as_text=True)

    assert "Why isn't it running?" in load
    assert "trigger rule all_success: waiting for transform" in load
    assert "no scheduler is heartbeating" in load
    assert "already scheduled" in transform
    assert "pool &#39;default_pool&#39; has 0 of 1 slots open" in transform
    assert "Why isn't it running?" not in done  # it is


# --- logs ------------------------------------------------------------------------------------------


def test_log_json_returns_the_text_after_an_offset_and_says_when_the_try_is_finished(
    web: Web, seed: Seed, pipeline: str, session_factory: sessionmaker[Session], web_settings: Settings
) -> None:
    # Given a running try with some output
    run_id = seed.run(pipeline, {"extract": "running"})
    add_tries(session_factory, run_id, "extract", ["running"])
    write_log(web_settings, pipeline, run_id, "extract", "line one\n")
    client = web.client(Role.VIEWER)
    url = ti_url(pipeline, run_id, "extract", "/log.json?try_number=1")

    # When the page polls, the task writes more (a multi-byte character cut in half), then finishes
    page = client.get(ti_url(pipeline, run_id, "extract")).get_data(as_text=True)
    first = client.get(f"{url}&offset=0").get_json()
    path = write_log(web_settings, pipeline, run_id, "extract", "line two é")
    with path.open("ab") as handle:
        handle.write("€".encode()[:2])
    second = client.get(f"{url}&offset={first['offset']}").get_json()
    with path.open("ab") as handle:
        handle.write("€".encode()[2:] + b"\n")
    set_state(session_factory, run_id, "extract", "success")
    third = client.get(f"{url}&offset={second['offset']}").get_json()
    again = client.get(f"{url}&offset={third['offset']}").get_json()
    beyond = client.get(f"{url}&offset=999999").get_json()

    # Then each answer holds only new text, a character is never split, and the tail stops at the end
    assert 'data-live="1"' in page and "line one" in page
    assert (first["text"], first["offset"], first["finished"], first["state"]) == ("line one\n", 9, False, "running")
    assert second["text"] == "line two é" and second["finished"] is False
    assert third["text"] == "€\n" and third["finished"] is True and third["more"] is False
    assert again["text"] == "" and again["offset"] == third["offset"]
    assert beyond["reset"] is True and beyond["text"].startswith("line one")
    finished_page = client.get(ti_url(pipeline, run_id, "extract")).get_data(as_text=True)
    assert 'data-live="0"' in finished_page


def test_a_try_without_a_log_file_yet_is_an_empty_log(web: Web, seed: Seed, pipeline: str) -> None:
    run_id = seed.run(pipeline, {"extract": "queued"})
    client = web.client(Role.VIEWER)

    answer = client.get(ti_url(pipeline, run_id, "extract", "/log.json?try_number=1")).get_json()
    page = client.get(ti_url(pipeline, run_id, "extract")).get_data(as_text=True)

    assert answer["exists"] is False and answer["text"] == "" and answer["finished"] is False
    assert "No log file for try 1 yet" in page
    assert client.get(ti_url(pipeline, run_id, "extract", "/log.txt?try_number=1")).status_code == 404
    assert client.get(ti_url(pipeline, run_id, "load", "/log.json")).status_code == 404  # never tried


def test_a_long_log_shows_its_end_on_the_page_and_whole_as_text(
    web: Web, seed: Seed, pipeline: str, web_settings: Settings
) -> None:
    run_id = seed.run(pipeline, {"extract": "success"})
    lines = "".join(f"line {n:07d}\n" for n in range(100_000))  # 1.3 MB
    write_log(web_settings, pipeline, run_id, "extract", lines)
    client = web.client(Role.VIEWER)

    page = client.get(ti_url(pipeline, run_id, "extract")).get_data(as_text=True)
    whole = client.get(ti_url(pipeline, run_id, "extract", "/log.txt?try_number=1"))

    assert "line 0099999" in page and "line 0000000" not in page and "are left out" in page
    assert whole.get_data(as_text=True) == lines
    assert whole.mimetype == "text/plain"


TRAVERSALS = ["..", "%2e%2e", "%2e%2e%2f%2e%2e%2fetc", "..%2f..%2fetc%2fpasswd", "%2fetc%2fpasswd", "a%00b", "a%0ab"]


@pytest.mark.parametrize("segment", ["dag_id", "run_id", "task_id"])
def test_traversal_in_a_path_segment_is_refused(web: Web, seed: Seed, pipeline: str, segment: str) -> None:
    run_id = seed.run(pipeline, {"extract": "success"})
    client = web.client(Role.VIEWER)

    for hostile in TRAVERSALS:
        parts = {"dag_id": pipeline, "run_id": run_id, "task_id": "extract", segment: hostile}
        for suffix in ("", "/log.json?try_number=1", "/log.txt?try_number=1", "/state.json"):
            response = client.get(ti_url(parts["dag_id"], parts["run_id"], parts["task_id"], suffix))

            assert response.status_code in (400, 404), (hostile, suffix, response.status_code)
            assert PASSWD_MARK not in response.get_data(as_text=True)


BAD_TRIES = [
    "try_number=..%2f..%2f..%2fetc%2fpasswd",
    "try_number=%2fetc%2fpasswd",
    "try_number=%2e%2e",
    "try_number=a%00b",
    "try_number=0",
    "try_number=-1",
    "try_number=1e3",
    "try_number=%EF%BC%91",  # a full-width digit one
    "try_number=7",
    "try_number=1&map_index=..",
    "try_number=1&map_index=-2",
    "try_number=1&map_index=99999999999999",
    "try_number=99999999999999999999999",
]


def test_bad_try_numbers_offsets_and_map_indexes_are_refused(
    web: Web, seed: Seed, pipeline: str, web_settings: Settings
) -> None:
    run_id = seed.run(pipeline, {"extract": "success"})
    write_log(web_settings, pipeline, run_id, "extract", "fine\n")
    client = web.client(Role.VIEWER)
    cases = [(suffix, query) for suffix in ("", "/log.json", "/log.txt") for query in BAD_TRIES]
    cases += [("/log.json", f"try_number=1&offset={bad}") for bad in ("-5", "x", "1e3", "9" * 30)]
    cases += [("", "map_index=4294967296")]

    for suffix, query in cases:
        response = client.get(ti_url(pipeline, run_id, "extract", f"{suffix}?{query}"))

        assert response.status_code in (400, 404), (suffix, query, response.status_code)
        assert PASSWD_MARK not in response.get_data(as_text=True)
    assert client.get(ti_url(pipeline, run_id, "extract", "/log.json?try_number=1")).status_code == 200


def test_a_symlink_out_of_the_logs_folder_is_never_followed(
    web: Web, seed: Seed, pipeline: str, web_settings: Settings, tmp_path: Path
) -> None:
    # Given extract's log is a link to /etc/passwd, and load's log folder a link to a folder outside
    run_id = seed.run(pipeline, {"extract": "success", "load": "success"})
    path = write_log(web_settings, pipeline, run_id, "extract", "", try_number=1)
    path.unlink()
    os.symlink("/etc/passwd", path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "attempt=1.log").write_text("secret outside the logs folder\n")
    os.symlink(outside, path.parent.parent / "task_id=load")
    client = web.client(Role.VIEWER)

    # When / Then: the log endpoints refuse, the page says why and shows nothing of either file
    for task_id in ("extract", "load"):
        for suffix in ("/log.json?try_number=1", "/log.txt?try_number=1", ""):
            response = client.get(ti_url(pipeline, run_id, task_id, suffix))
            text = response.get_data(as_text=True)
            assert PASSWD_MARK not in text and "secret outside" not in text
            if suffix:
                assert response.status_code == 400
            else:
                assert response.status_code == 200 and "outside the logs folder" in text


def test_a_secret_masked_in_the_log_stays_masked(
    web: Web, seed: Seed, pipeline: str, web_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    # Given a connection whose password the task printed, masked by the runtime as it wrote the log
    from flowctl.connection import Connection
    from flowctl.services.actor import Actor
    from flowctl.services.connections import add_connection

    canary = "canary-Pa55w0rd-7f3c"
    with session_factory.begin() as session:
        add_connection(
            session,
            web.app.extensions["flowctl"].cipher,
            Connection.from_uri("warehouse", f"postgresql://etl:{canary}@db.example.com:5432/dw"),
            actor=Actor("test", datetime.now(UTC)),
        )
    run_id = seed.run(pipeline, {"extract": "running"})
    path = write_log(web_settings, pipeline, run_id, "extract", "")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND)
    writer = MaskingWriter(descriptor, SecretMasker([canary]))
    writer.write(f"connecting with password {canary}\n")
    writer.flush()
    os.close(descriptor)
    client = web.client(Role.ADMIN)

    page = client.get(ti_url(pipeline, run_id, "extract")).get_data(as_text=True)
    tail = client.get(ti_url(pipeline, run_id, "extract", "/log.json?try_number=1&offset=0")).get_data(as_text=True)

    assert "connecting with password ***" in page
    assert canary not in page and canary not in tail and "***" in tail


# --- escaping --------------------------------------------------------------------------------------


def test_what_dags_and_users_wrote_comes_back_escaped(
    web: Web, seed: Seed, pipeline: str, session_factory: sessionmaker[Session], web_settings: Settings
) -> None:
    # Given a hostile payload in a log line, the conf, an XCom, a rendered field and a try's error
    run_id = seed.run(pipeline, {"extract": "failed"}, conf={"note": XSS})
    add_tries(session_factory, run_id, "extract", ["failed"], error=f"RuntimeError: {XSS}", rendered_fields={"x": XSS})
    add_xcoms(session_factory, run_id, "extract", {f"key{XSS}": json.dumps(XSS).encode()})
    write_log(web_settings, pipeline, run_id, "extract", f"printed {XSS}\n")
    client = web.client(Role.USER)

    pages = [
        client.get(ti_url(pipeline, run_id, "extract")).get_data(as_text=True),
        client.get(f"/dags/{pipeline}/runs/{run_id}").get_data(as_text=True),
        client.post(ti_url(pipeline, run_id, "extract", "/clear"), data={"map_index": "-1"}).get_data(as_text=True),
    ]

    for page in pages:
        assert XSS not in page
    assert pages[0].count(ESCAPED_XSS) >= 5  # log, error, rendered field, XCom key and value
    assert "&lt;script&gt;" in pages[1]
    tail = client.get(ti_url(pipeline, run_id, "extract", "/log.json?try_number=1"))
    assert tail.mimetype == "application/json" and tail.get_json()["text"] == f"printed {XSS}\n"


def test_a_large_xcom_is_shown_cut(web: Web, seed: Seed, pipeline: str, session_factory: sessionmaker[Session]) -> None:
    run_id = seed.run(pipeline, {"extract": "success"})
    big = json.dumps(["x" * 1000] * 200).encode()  # ~200 kB
    add_xcoms(session_factory, run_id, "extract", {"big": big, "small": b'{"a": [1, 2]}'})

    page = web.client(Role.VIEWER).get(ti_url(pipeline, run_id, "extract")).get_data(as_text=True)

    assert f"the value is {len(big)} bytes" in page
    assert page.count("x" * 1000) < 100
    assert "&#34;a&#34;: [\n    1," in page


# --- actions ---------------------------------------------------------------------------------------


def test_clear_shows_what_it_will_change_then_clears_keeping_the_tries(
    web: Web, seed: Seed, pipeline: str, session_factory: sessionmaker[Session]
) -> None:
    # Given a failed run whose extract failed after two tries
    run_id = seed.run(
        pipeline, {"extract": "failed", "transform": "upstream_failed", "load": "upstream_failed"}, run_state="failed"
    )
    add_tries(session_factory, run_id, "extract", ["failed", "failed"])
    client = web.client(Role.USER)
    url = ti_url(pipeline, run_id, "extract", "/clear")

    # When a User asks to clear it with downstream
    confirm = client.post(url, data={"map_index": "-1", "downstream": "1"})
    unchanged = get_ti(session_factory, run_id, "extract").state
    done = client.post(url, data={"map_index": "-1", "downstream": "1", "confirmed": "1"})

    # Then the dry run listed the three, nothing changed until confirmed, and the tries were kept
    text = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "This will clear 3 task instances" in text
    assert unchanged == "failed"
    assert done.status_code == 302 and done.headers["Location"].endswith(ti_url(pipeline, run_id, "extract"))
    states = {t: get_ti(session_factory, run_id, t).state for t in ("extract", "transform", "load")}
    assert states == {"extract": "none", "transform": "none", "load": "none"}
    with session_factory() as session:
        assert len(session.scalars(select(TaskInstanceTry)).all()) == 2
        assert session.scalar(select(DagRun.state).where(DagRun.run_id == run_id)) == "queued"
    assert "Cleared: 3 task instances." in client.get(done.headers["Location"]).get_data(as_text=True)


def test_clear_only_failed_and_clear_all_failed_of_a_run(
    web: Web, seed: Seed, pipeline: str, session_factory: sessionmaker[Session]
) -> None:
    run_id = seed.run(pipeline, {"extract": "success", "transform": "failed", "load": "upstream_failed"})
    client = web.client(Role.USER)

    client.post(f"/dags/{pipeline}/runs/{run_id}/clear", data={"only_failed": "1", "confirmed": "1"})

    states = {t: get_ti(session_factory, run_id, t).state for t in ("extract", "transform", "load")}
    assert states == {"extract": "success", "transform": "none", "load": "none"}


def test_mark_success_and_failed_on_a_task_and_on_a_run(
    web: Web, seed: Seed, pipeline: str, session_factory: sessionmaker[Session]
) -> None:
    run_id = seed.run(pipeline, {"extract": "running"})
    client = web.client(Role.USER)
    mark_success = ti_url(pipeline, run_id, "extract", "/mark/success")

    confirm = client.post(mark_success, data={"map_index": "-1"})
    assert "This will mark 1 task instance success" in confirm.get_data(as_text=True)
    assert get_ti(session_factory, run_id, "extract").state == "running"
    assert client.post(mark_success, data={"map_index": "-1", "confirmed": "1"}).status_code == 302
    assert get_ti(session_factory, run_id, "extract").state == "success"

    run_confirm = client.post(f"/dags/{pipeline}/runs/{run_id}/mark/failed")
    assert "This will mark 3 task instances failed" in run_confirm.get_data(as_text=True)
    client.post(f"/dags/{pipeline}/runs/{run_id}/mark/failed", data={"confirmed": "1"})
    assert {get_ti(session_factory, run_id, t).state for t in ("extract", "transform", "load")} == {"failed"}

    nothing = client.post(f"/dags/{pipeline}/runs/{run_id}/mark/failed", data={"confirmed": "1"})
    assert nothing.status_code == 302
    assert client.post(f"/dags/{pipeline}/runs/{run_id}/mark/running").status_code == 404


ACTIONS = [
    ("tasks/extract/clear", {"map_index": "-1", "confirmed": "1"}),
    ("tasks/extract/mark/success", {"map_index": "-1", "confirmed": "1"}),
    ("tasks/extract/mark/failed", {"map_index": "-1", "confirmed": "1"}),
    ("clear", {"confirmed": "1"}),
    ("mark/success", {"confirmed": "1"}),
    ("mark/failed", {"confirmed": "1"}),
]


@pytest.mark.parametrize(("action", "data"), ACTIONS)
def test_actions_need_the_user_role_a_csrf_token_and_a_post(
    web: Web, seed: Seed, pipeline: str, session_factory: sessionmaker[Session], action: str, data: dict[str, str]
) -> None:
    run_id = seed.run(pipeline, {"extract": "up_for_retry", "transform": "running"})
    url = f"/dags/{pipeline}/runs/{run_id}/{action}"
    before = db_snapshot(session_factory)

    viewer = web.client(Role.VIEWER).post(url, data=data)
    no_csrf = web.client(Role.USER).post(url, data=data, csrf=False)
    get = web.client(Role.ADMIN).get(url)
    anonymous = web.client().post(url, data=data)

    assert (viewer.status_code, no_csrf.status_code, get.status_code) == (403, 400, 405)
    assert anonymous.status_code in (302, 400)
    assert db_snapshot(session_factory) == before
    assert web.client(Role.USER).post(url, data=data).status_code == 302
    assert db_snapshot(session_factory) != before


def test_get_requests_never_change_state(
    web: Web, seed: Seed, pipeline: str, session_factory: sessionmaker[Session], web_settings: Settings
) -> None:
    run_id = seed.run(pipeline, {"extract": "failed", "transform": "running"})
    write_log(web_settings, pipeline, run_id, "extract", "x\n")
    client = web.client(Role.ADMIN)
    before = db_snapshot(session_factory)

    for url in (
        f"/dags/{pipeline}/runs/{run_id}",
        f"/dags/{pipeline}/runs/{run_id}/states.json",
        ti_url(pipeline, run_id, "extract"),
        ti_url(pipeline, run_id, "extract", "/state.json"),
        ti_url(pipeline, run_id, "extract", "/log.json?try_number=1"),
        ti_url(pipeline, run_id, "extract", "/log.txt?try_number=1"),
        ti_url(pipeline, run_id, "extract", "/clear?confirmed=1"),
        f"/dags/{pipeline}/runs/{run_id}/mark/success?confirmed=1",
    ):
        assert client.get(url).status_code in (200, 405), url

    assert db_snapshot(session_factory) == before


def test_unknown_ids_are_404_pages(web: Web, seed: Seed, pipeline: str) -> None:
    run_id = seed.run(pipeline)
    client = web.client(Role.VIEWER)

    for url in (
        "/dags/nope/runs/r1",
        f"/dags/{pipeline}/runs/nope",
        ti_url(pipeline, run_id, "nope"),
        ti_url("nope", run_id, "extract", "/log.json?try_number=1"),
        f"/dags/{pipeline}/runs/nope/states.json",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Traceback" not in response.get_data(as_text=True)


# --- speed -----------------------------------------------------------------------------------------


def test_the_task_instance_page_query_count_does_not_grow_with_tries_xcoms_or_tasks(
    web: Web, seed: Seed, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    # Given a small DAG with one try and one XCom, and a wide one with many of each (t0 is waiting in both,
    # so the "why isn't it running" queries count too)
    small = seed.dag(wide_source("small", 2))
    wide = seed.dag(wide_source("wide", 60))
    small_run = seed.run(small, {"first": "success", "t0": "scheduled"}, run_id="small_run")
    wide_states = {"first": "success", **{f"t{n}": "failed" for n in range(30)}, "t0": "scheduled"}
    wide_run = seed.run(wide, wide_states, run_id="wide_run")
    add_tries(session_factory, small_run, "t0", ["failed"])
    add_tries(session_factory, wide_run, "t0", ["failed"] * 12)
    add_xcoms(session_factory, small_run, "t0", {"k": b"1"})
    add_xcoms(session_factory, wide_run, "t0", {f"k{n}": b"1" for n in range(25)})
    client = web.client(Role.USER)
    for dag_id, run_id in ((small, small_run), (wide, wide_run)):  # DAG versions cached, as in a warm server
        client.get(ti_url(dag_id, run_id, "t0"))

    counts = {}
    for dag_id, run_id in ((small, small_run), (wide, wide_run)):
        for name, url in (
            ("task instance", ti_url(dag_id, run_id, "t0")),
            ("run", f"/dags/{dag_id}/runs/{run_id}"),
            ("states", f"/dags/{dag_id}/runs/{run_id}/states.json"),
        ):
            with counted_queries(engine) as statements:
                assert client.get(url).status_code == 200
            counts[(dag_id, name)] = len(statements)

    for name in ("task instance", "run", "states"):
        assert counts[(small, name)] == counts[(wide, name)], (name, counts)
    assert counts[(wide, "task instance")] <= 16
