"""The DAGs page: listing, filters, paging, import errors, live states, pause, trigger and delete; roles,
escaping, and a query count that does not grow with the number of DAGs."""

from __future__ import annotations

import html
import socket
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select, update

from flowctl.db.models import Dag, DagRun, LogEvent
from flowctl.roles import Role
from tests.web.conftest import Seed, Web

DAILY = """
from datetime import datetime
from flowctl import DAG
from flowctl.operators.empty import EmptyOperator

with DAG(
    "{dag_id}",
    schedule="{schedule}",
    start_date=datetime(2024, 1, 1),
    tags={tags!r},
    default_args={{"owner": "{owner}"}},
):
    EmptyOperator(task_id="first") >> EmptyOperator(task_id="second")
"""

WITH_PARAMS = """
from datetime import datetime
from flowctl import DAG
from flowctl.operators.empty import EmptyOperator
from flowctl.params import Param

with DAG(
    "with_params",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    params={
        "count": Param(3, type="integer", minimum=1, maximum=10, description="How many rows"),
        "color": Param("red", enum=["red", "blue"]),
        "dry_run": Param(False, type="boolean"),
        "names": Param(["a"], type="array"),
        "options": Param({"k": 1}, type="object"),
        "note": Param("hello", type="string"),
    },
):
    EmptyOperator(task_id="t")
"""

XSS = "<script>alert('x')</script>"


def write_dags(seed: Seed, count: int, *, prefix: str = "bulk", tags: tuple[str, ...] = ()) -> list[str]:
    """`count` two-task DAGs in their own files, parsed in one pass; returns their ids."""
    from flowctl.parsing.processor import refresh

    dag_ids = [f"{prefix}_{number:03d}" for number in range(count)]
    for dag_id in dag_ids:
        source = DAILY.format(dag_id=dag_id, schedule="@daily", tags=list(tags), owner="team")
        (seed.settings.core.dags_folder / f"{dag_id}.py").write_text(source)
    refresh(seed.settings, seed.factory, now=datetime.now(UTC), force=True)
    return dag_ids


def daily(dag_id: str, *, tags: tuple[str, ...] = (), owner: str = "team", schedule: str = "@daily") -> str:
    return DAILY.format(dag_id=dag_id, schedule=schedule, tags=list(tags), owner=owner)


def page_text(response: Any) -> str:
    return response.get_data(as_text=True)


def listed(response: Any) -> list[str]:
    """dag_ids of the rows of a DAGs page, in order."""
    import re

    return [html.unescape(m) for m in re.findall(r'<tr data-dag-id="([^"]+)"', page_text(response))]


@pytest.fixture
def wakeups(web_settings: Any) -> Any:
    """A stand-in scheduler wake-up socket; `wakeups()` says how many pokes arrived since the last call."""
    from flowctl.services.wakeup import socket_name

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(socket_name(web_settings.home))
    listener.setblocking(False)

    def received() -> int:
        count = 0
        while True:
            try:
                listener.recv(64)
            except BlockingIOError:
                return count
            count += 1

    yield received
    listener.close()


# Listing ---------------------------------------------------------------------------------------------


def test_each_dag_shows_owner_tags_schedule_next_run_interval_last_run_and_state_counts(web: Web, seed: Seed) -> None:
    dag_id = seed.dag(daily("reports", tags=("finance", "daily"), owner="alice"))
    seed.run(dag_id, {"first": "success", "second": "failed"}, run_state="failed")

    page = web.client(Role.VIEWER).get("/")
    text = page_text(page)

    assert page.status_code == 200
    assert listed(page) == ["reports"]
    assert 'href="/dags/reports/grid"' in text
    assert "alice" in text and ">finance<" in text and ">daily<" in text
    assert "<code>@daily</code>" in text
    assert 'class="muted interval"' in text and "covers" in text  # the next run's data interval
    assert 'class="state-label state-failed">failed<' in text  # last run
    assert 'title="1 failed run"' in text and 'title="0 running runs"' in text
    assert 'title="1 success"' in text and 'title="1 failed"' in text  # recent task states
    assert "/static/dags.js" in text


def test_stale_dags_are_hidden_unless_asked_for(web: Web, seed: Seed, session_factory: Any) -> None:
    seed.dag(daily("kept"))
    seed.dag(daily("gone"))
    with session_factory.begin() as session:
        session.execute(update(Dag).where(Dag.dag_id == "gone").values(is_stale=True))
    client = web.client(Role.VIEWER)

    assert listed(client.get("/")) == ["kept"]
    assert listed(client.get("/?stale=1")) == ["gone", "kept"]


def test_tags_search_and_paused_filters_narrow_the_list(web: Web, seed: Seed, session_factory: Any) -> None:
    seed.dag(daily("sales_daily", tags=("sales",), owner="bob"))
    seed.dag(daily("sales_hourly", tags=("sales", "fast"), owner="bob"))
    seed.dag(daily("hr_report", tags=("hr",), owner="carol"))
    seed.dag(daily("odd_one", owner="dave 100%"))
    with session_factory.begin() as session:
        session.execute(update(Dag).where(Dag.dag_id == "sales_hourly").values(is_paused=False))
    client = web.client(Role.VIEWER)

    assert listed(client.get("/?tags=sales")) == ["sales_daily", "sales_hourly"]
    assert listed(client.get("/?tags=hr&tags=fast")) == ["hr_report", "sales_hourly"]
    assert listed(client.get("/?search=HOURLY")) == ["sales_hourly"]
    assert listed(client.get("/?search=carol")) == ["hr_report"]  # owners are searched too
    assert listed(client.get("/?search=0%25")) == ["odd_one"]  # % is a character, not a wildcard
    assert listed(client.get("/?search=_1")) == []
    assert listed(client.get("/?status=active")) == ["sales_hourly"]
    assert listed(client.get("/?status=paused&tags=sales")) == ["sales_daily"]
    assert listed(client.get("/?status=bogus")) == ["hr_report", "odd_one", "sales_daily", "sales_hourly"]
    tabs = page_text(client.get("/?tags=sales"))
    assert 'All <span class="muted">2</span>' in tabs and 'Active <span class="muted">1</span>' in tabs


def test_the_list_is_paged_fifty_dags_at_a_time(web: Web, seed: Seed) -> None:
    dag_ids = write_dags(seed, 55)
    client = web.client(Role.VIEWER)

    first, second = client.get("/"), client.get("/?page=2")

    assert listed(first) == dag_ids[:50]
    assert listed(second) == dag_ids[50:]
    assert "Page 1 of 2" in page_text(first) and "page=2" in page_text(first)
    assert listed(client.get("/?page=99")) == dag_ids[50:]  # past the end: the last page
    assert listed(client.get("/?page=x")) == dag_ids[:50]


def test_the_import_errors_banner_lists_each_broken_file_with_its_traceback_escaped(web: Web, seed: Seed) -> None:
    from flowctl.parsing.processor import refresh

    broken = seed.settings.core.dags_folder / "broken.py"
    broken.write_text(f"from flowctl import DAG\nraise ValueError({XSS!r})\n")
    refresh(seed.settings, seed.factory, now=datetime.now(UTC), force=True)

    text = page_text(web.client(Role.VIEWER).get("/"))

    assert "1 DAG file failed to import" in text
    assert "<details>" in text and str(broken) in text
    assert "ValueError" in text
    assert XSS not in text and html.escape(XSS, quote=False) in text.replace("&#39;", "'")


def test_dag_description_and_tags_come_back_escaped(web: Web, seed: Seed) -> None:
    seed.dag(
        """
        from datetime import datetime
        from flowctl import DAG
        from flowctl.operators.empty import EmptyOperator
        with DAG("xss", start_date=datetime(2024, 1, 1), description="<img src=x onerror=alert(1)>",
                 tags=["<b>bold</b>"], doc_md="<script>alert(2)</script>"):
            EmptyOperator(task_id="t")
        """
    )

    text = page_text(web.client(Role.VIEWER).get("/"))

    assert "<img src=x" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "<b>bold</b>" not in text and "&lt;b&gt;bold&lt;/b&gt;" in text
    assert "<script>alert(2)" not in text


def test_a_viewer_sees_no_actions_and_anonymous_visitors_go_to_the_login_page(web: Web, seed: Seed) -> None:
    seed.dag(daily("reports"))

    viewer = page_text(web.client(Role.VIEWER).get("/"))
    user = page_text(web.client(Role.USER).get("/"))
    op = page_text(web.client(Role.OP).get("/"))

    assert "/dags/reports/trigger" not in viewer and "/dags/reports/pause" not in viewer
    assert "/dags/reports/trigger" in user and "/dags/reports/pause" in user and "/dags/reports/delete" not in user
    assert "/dags/reports/delete" in op
    assert web.client().get("/").status_code == 302
    assert web.client().get("/dags.json?dag_ids=reports").status_code == 302


# The page's cost -------------------------------------------------------------------------------------


def count_queries(engine: Any, request: Any) -> int:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = request()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200
    return len(statements)


def test_the_page_costs_the_same_queries_with_10_dags_as_with_60(web: Web, seed: Seed, engine: Any) -> None:
    client = web.client(Role.VIEWER)
    few = write_dags(seed, 10, prefix="few", tags=("t",))
    for dag_id in few:
        seed.run(dag_id, {"first": "success"})
    client.get("/")  # warm up: the first request loads the user and templates
    with_ten = count_queries(engine, lambda: client.get("/"))
    with_ten_json = count_queries(engine, lambda: client.get("/dags.json?" + "&".join(f"dag_ids={d}" for d in few)))

    many = write_dags(seed, 50, prefix="many", tags=("t",))
    for dag_id in many:
        seed.run(dag_id, {"first": "success", "second": "running"})
    with_sixty = count_queries(engine, lambda: client.get("/"))
    every = few + many
    with_sixty_json = count_queries(engine, lambda: client.get("/dags.json?" + "&".join(f"dag_ids={d}" for d in every)))

    assert with_sixty == with_ten <= 12
    assert with_sixty_json == with_ten_json <= 8


# Live states -----------------------------------------------------------------------------------------


def test_the_states_endpoint_gives_each_dags_last_run_run_counts_and_recent_task_states(web: Web, seed: Seed) -> None:
    dag_id = seed.dag(daily("reports"))
    seed.dag(daily("idle"))
    run_id = seed.run(dag_id, {"first": "success", "second": "running"})

    answer = web.client(Role.VIEWER).get("/dags.json?dag_ids=reports&dag_ids=idle&dag_ids=unknown").get_json()

    reports = answer["dags"]["reports"]
    assert reports["last_run"]["run_id"] == run_id and reports["last_run"]["state"] == "running"
    assert reports["last_run"]["logical_date"]["utc"].endswith(" UTC")
    assert reports["run_counts"] == {"queued": 0, "running": 1, "success": 0, "failed": 0}
    assert reports["task_counts"] == {"success": 1, "running": 1}
    assert answer["dags"]["idle"] == {
        "is_paused": True,
        "last_run": None,
        "run_counts": {"queued": 0, "running": 0, "success": 0, "failed": 0},
        "task_counts": {},
    }
    assert "unknown" not in answer["dags"]


def test_the_states_endpoint_refuses_oversized_requests(web: Web) -> None:
    client = web.client(Role.VIEWER)

    assert client.get("/dags.json?" + "&".join(f"dag_ids=d{n}" for n in range(201))).status_code == 400
    assert client.get("/dags.json?dag_ids=" + "x" * 251).status_code == 400
    assert client.get("/dags.json").get_json() == {"dags": {}}


# Pause -----------------------------------------------------------------------------------------------


def test_a_user_unpauses_and_pauses_a_dag_and_the_scheduler_is_poked_on_unpause(
    web: Web, seed: Seed, session_factory: Any, wakeups: Any
) -> None:
    dag_id = seed.dag(daily("reports"))
    client = web.client(Role.USER)

    unpaused = client.post(f"/dags/{dag_id}/pause", data={"paused": "false", "next": "/?tags=x"})
    pokes_after_unpause = wakeups()
    paused = client.post(f"/dags/{dag_id}/pause", data={"paused": "true", "next": "https://evil.example/"})

    assert (unpaused.status_code, unpaused.headers["Location"]) == (302, "/?tags=x")
    assert (paused.status_code, paused.headers["Location"]) == (302, "/")
    assert pokes_after_unpause == 1 and wakeups() == 0
    with session_factory() as session:
        assert session.get(Dag, dag_id).is_paused is True
        events = list(session.scalars(select(LogEvent.event).where(LogEvent.dag_id == dag_id).order_by(LogEvent.id)))
    assert events == ["dag.unpause", "dag.pause"]


def test_pausing_needs_the_user_role_a_post_and_the_csrf_token(web: Web, seed: Seed, session_factory: Any) -> None:
    dag_id = seed.dag(daily("reports"))

    assert web.client(Role.VIEWER).post(f"/dags/{dag_id}/pause", data={"paused": "false"}).status_code == 403
    anonymous = web.client().post(f"/dags/{dag_id}/pause", data={"paused": "false"})
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    user = web.client(Role.USER)
    assert user.post(f"/dags/{dag_id}/pause", data={"paused": "false"}, csrf=False).status_code == 400
    assert user.get(f"/dags/{dag_id}/pause").status_code == 405
    assert user.post(f"/dags/{dag_id}/pause", data={"paused": "maybe"}).status_code == 400
    assert user.post("/dags/nope/pause", data={"paused": "false"}).status_code == 404
    with session_factory() as session:
        assert session.get(Dag, dag_id).is_paused is True


# Trigger ---------------------------------------------------------------------------------------------


def runs_of(session_factory: Any, dag_id: str) -> list[DagRun]:
    with session_factory() as session:
        return list(session.scalars(select(DagRun).where(DagRun.dag_id == dag_id)))


def test_the_trigger_form_has_one_input_per_param_chosen_from_its_schema(web: Web, seed: Seed) -> None:
    dag_id = seed.dag(WITH_PARAMS)

    text = page_text(web.client(Role.USER).get(f"/dags/{dag_id}/trigger"))

    assert 'type="number"' in text and 'min="1"' in text and 'max="10"' in text and 'value="3"' in text
    assert "How many rows" in text
    assert '<option value="0" selected>red</option>' in text and ">blue</option>" in text
    assert 'type="checkbox"' in text
    assert ">a</textarea>" in text  # a list of strings: one per line
    assert "&#34;k&#34;: 1" in text  # an object: JSON
    assert 'value="hello"' in text
    assert 'name="conf"' in text and 'name="logical_date"' in text


def test_a_valid_trigger_creates_the_run_with_the_forms_conf_and_goes_to_the_grid(
    web: Web, seed: Seed, session_factory: Any, wakeups: Any
) -> None:
    dag_id = seed.dag(WITH_PARAMS)
    form = {
        "param-0": "1",  # params are listed in the stored order: color, count, dry_run, names, note, options
        "param-1": "7",
        "param-2": "true",
        "param-3": "x\ny\n\n",
        "param-4": "bye",
        "param-5": '{"k": 2}',
        "conf": '{"extra": true}',
        "logical_date": "2024-03-01T06:00:00+00:00",
    }
    page = web.client(Role.USER).get(f"/dags/{dag_id}/trigger")
    assert page_text(page).index('name="param-0"') < page_text(page).index('name="param-1"')
    assert '<label for="param-0">color</label>' in page_text(page)

    response = web.client(Role.USER).post(f"/dags/{dag_id}/trigger", data=form)

    assert response.status_code == 302 and response.headers["Location"] == f"/dags/{dag_id}/grid"
    (run,) = runs_of(session_factory, dag_id)
    assert run.conf == {
        "color": "blue",
        "count": 7,
        "dry_run": True,
        "names": ["x", "y"],
        "note": "bye",
        "options": {"k": 2},
        "extra": True,
    }
    assert run.logical_date == datetime(2024, 3, 1, 6, tzinfo=UTC)
    assert run.external_trigger
    assert wakeups() == 1


def test_an_invalid_trigger_shows_the_errors_keeps_the_input_and_creates_no_run(
    web: Web, seed: Seed, session_factory: Any
) -> None:
    dag_id = seed.dag(WITH_PARAMS)
    client = web.client(Role.USER)

    out_of_range = client.post(f"/dags/{dag_id}/trigger", data={"param-0": "0", "param-1": "42", "param-4": "kept"})
    not_a_number = client.post(f"/dags/{dag_id}/trigger", data={"param-0": "0", "param-1": "many"})
    bad_conf = client.post(f"/dags/{dag_id}/trigger", data={"param-0": "0", "param-1": "2", "conf": "[1, 2"})
    bad_date = client.post(f"/dags/{dag_id}/trigger", data={"param-0": "0", "param-1": "2", "logical_date": "soon"})
    conf_overrides = client.post(
        f"/dags/{dag_id}/trigger", data={"param-0": "0", "param-1": "2", "conf": '{"count": 0}'}
    )

    for response in (out_of_range, not_a_number, bad_conf, bad_date, conf_overrides):
        assert response.status_code == 200
        assert 'class="error"' in page_text(response)
    assert "42 is greater than the maximum of 10" in page_text(out_of_range)
    assert 'value="42"' in page_text(out_of_range) and 'value="kept"' in page_text(out_of_range)
    assert "&#39;many&#39; is not a number" in page_text(not_a_number)
    assert "not valid JSON" in page_text(bad_conf) and "[1, 2</textarea>" in page_text(bad_conf)
    assert "is not an ISO 8601 date" in page_text(bad_date)
    assert "0 is less than the minimum of 1" in page_text(conf_overrides)
    assert runs_of(session_factory, dag_id) == []


def test_a_second_run_at_the_same_logical_date_is_refused_in_the_form(
    web: Web, seed: Seed, session_factory: Any
) -> None:
    dag_id = seed.dag(daily("reports"))
    client = web.client(Role.USER)
    data = {"logical_date": "2024-01-05T00:00:00Z"}

    first = client.post(f"/dags/{dag_id}/trigger", data=data)
    second = client.post(f"/dags/{dag_id}/trigger", data=data)
    bad_run_id = client.post(f"/dags/{dag_id}/trigger", data={"run_id": "../escape"})

    assert first.status_code == 302
    assert second.status_code == 200 and "already has a run" in page_text(second)
    assert bad_run_id.status_code == 200 and 'class="flash flash-error"' in page_text(bad_run_id)
    assert len(runs_of(session_factory, dag_id)) == 1


def test_triggering_needs_the_user_role(web: Web, seed: Seed, session_factory: Any) -> None:
    dag_id = seed.dag(daily("reports"))

    assert web.client(Role.VIEWER).get(f"/dags/{dag_id}/trigger").status_code == 403
    assert web.client(Role.VIEWER).post(f"/dags/{dag_id}/trigger", data={}).status_code == 403
    assert web.client().post(f"/dags/{dag_id}/trigger", data={}).status_code == 302
    assert web.client(Role.USER).post(f"/dags/{dag_id}/trigger", data={}, csrf=False).status_code == 400
    assert web.client(Role.USER).get("/dags/nope/trigger").status_code == 404
    assert runs_of(session_factory, dag_id) == []


def test_params_descriptions_defaults_and_choices_come_back_escaped_in_the_trigger_form(web: Web, seed: Seed) -> None:
    dag_id = seed.dag(
        """
        from datetime import datetime
        from flowctl import DAG
        from flowctl.operators.empty import EmptyOperator
        from flowctl.params import Param
        with DAG("xss_params", start_date=datetime(2024, 1, 1), schedule=None, params={
            "a": Param("<script>alert(1)</script>", type="string", description="<img src=x onerror=alert(2)>"),
            "b": Param("<b>x</b>", enum=["<b>x</b>", "y"]),
            "<i>name</i>": 1,
        }):
            EmptyOperator(task_id="t")
        """
    )

    text = page_text(web.client(Role.USER).get(f"/dags/{dag_id}/trigger"))

    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img src=x" not in text and "<b>x</b>" not in text and "<i>name</i>" not in text


# Delete ----------------------------------------------------------------------------------------------


def test_deleting_a_dag_takes_a_confirmation_and_the_op_role(web: Web, seed: Seed, session_factory: Any) -> None:
    dag_id = seed.dag(daily("reports"))
    seed.run(dag_id, {"first": "success"})

    assert web.client(Role.USER).get(f"/dags/{dag_id}/delete").status_code == 403
    assert web.client(Role.USER).post(f"/dags/{dag_id}/delete").status_code == 403
    op = web.client(Role.OP)
    confirm = op.get(f"/dags/{dag_id}/delete")
    assert confirm.status_code == 200 and "1 run " in page_text(confirm) and 'method="post"' in page_text(confirm)
    with session_factory() as session:
        assert session.get(Dag, dag_id) is not None  # GET changed nothing
    assert op.post(f"/dags/{dag_id}/delete", csrf=False).status_code == 400

    deleted = op.post(f"/dags/{dag_id}/delete")

    assert (deleted.status_code, deleted.headers["Location"]) == (302, "/")
    with session_factory() as session:
        assert session.get(Dag, dag_id) is None
        assert session.scalars(select(DagRun).where(DagRun.dag_id == dag_id)).first() is None
        assert session.scalar(select(LogEvent.event).where(LogEvent.event == "dag.delete")) == "dag.delete"
    assert op.post(f"/dags/{dag_id}/delete").status_code == 404
