"""The per-DAG pages: Grid (runs by tasks), Graph, Gantt and Code, and the JSON their scripts poll.

Each run is drawn with the DAG version it ran with. Every page reads what it needs in a handful of
queries whatever the number of tasks and runs; versions are deserialized (and laid out) once each.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, abort, jsonify, render_template, request
from markupsafe import Markup

from flowctl.db.models import Dag
from flowctl.db.queries import runs as run_queries
from flowctl.db.queries import task_instances as ti_queries
from flowctl.exceptions import NotFound
from flowctl.roles import Role
from flowctl.services.dags import require_dag
from flowctl.services.runs import require_run
from flowctl.state import FINISHED_RUN_STATES
from flowctl.web import db
from flowctl.web.auth import require_role
from flowctl.web.dag_versions import DagVersion, load_versions, version_number
from flowctl.web.drawing import grid as grid_drawing
from flowctl.web.drawing.svg import GanttTry, gantt_svg, graph_svg, lay_out_graph

bp = Blueprint("dag_views", __name__)

DAG = "/dags/<dag_id>"
DEFAULT_RUNS, MAX_RUNS = 25, 100
RUN_CHOICES = 25  # runs offered in the run picker of the graph, Gantt and code pages


@dataclass(frozen=True, slots=True)
class ShownRun:
    """The run a page draws (None of it when the DAG has no run) and the recent runs to choose from."""

    run: Any  # a runs_before row or a DagRun: run_id, state, logical_date, dag_version_id...
    choices: list[Any]


# --- Grid ----------------------------------------------------------------------------------------


@bp.get(f"{DAG}/grid")
@require_role(Role.VIEWER)
def grid(dag_id: str) -> Any:
    dag = require_dag(db.session(), dag_id)
    data = _grid_data(dag)
    longest = max((run["duration"] or 0 for run in data["runs"]), default=0) or 1
    return render_template(
        "dag/grid.html",
        dag=dag,
        active_tab="grid",
        grid=data,
        cell_rows=_cell_rows(data),
        bar_heights=[max(8, round(100 * (run["duration"] or 0) / longest)) for run in data["runs"]],
        num_runs=_num_runs(),
        before=request.args.get("before") or None,
        run_id=request.args.get("run_id") or None,  # highlighted, and kept by the tabs
    )


def _cell_rows(data: dict[str, Any]) -> list[Markup]:
    """Each task's cells as HTML, made from constant strings only (25 000 cells in milliseconds)."""
    plain = [f'<td class="state-{state}"></td>' for state in data["states"]]
    mapped = [f'<td class="state-{state} mapped"></td>' for state in data["states"]]
    rows = []
    for task, codes in zip(data["tasks"], data["cells"], strict=True):
        shapes = mapped if task["mapped"] else plain
        rows.append(Markup("".join("<td></td>" if code is None else shapes[code] for code in codes)))
    return rows


@bp.get(f"{DAG}/grid.json")
@require_role(Role.VIEWER)
def grid_json(dag_id: str) -> Any:
    return jsonify(_grid_data(require_dag(db.session(), dag_id)))


def _grid_data(dag: Dag) -> dict[str, Any]:
    """Runs (one query), their versions (cached), task instance states (one query, columns only)."""
    session = db.session()
    limit = _num_runs()
    rows = run_queries.runs_before(session, dag.dag_id, limit=limit + 1, before=_before())
    shown = rows[:limit][::-1]
    versions = load_versions(session, [dag.latest_version_id, *(row.dag_version_id for row in shown)])
    newest_first = [dag.latest_version_id, *(row.dag_version_id for row in reversed(shown))]
    specs = [versions[v].spec for v in dict.fromkeys(newest_first) if v in versions]
    cells = grid_drawing.summarize(ti_queries.states_for_runs(session, dag.dag_id, [row.run_id for row in shown]))
    return grid_drawing.grid_json(
        dag.dag_id,
        [grid_drawing.GridRun(*row[:7]) for row in shown],
        grid_drawing.task_rows(specs),
        cells,
        older=shown[0].logical_date if len(rows) > limit else None,
        now=datetime.now(UTC),
    )


def _num_runs() -> int:
    raw = request.args.get("num_runs", "")
    if not raw:
        return DEFAULT_RUNS
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_RUNS):
        abort(400, description=f"num_runs must be a whole number from 1 to {MAX_RUNS}")
    return int(raw)


def _before() -> datetime | None:
    raw = request.args.get("before", "")
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace(" ", "+"))  # an unencoded "+00:00" arrives as " 00:00"
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        abort(400, description="before must be an ISO 8601 date and time, like 2024-01-31T00:00:00+00:00")


# --- Graph ---------------------------------------------------------------------------------------


@bp.get(f"{DAG}/graph")
@require_role(Role.VIEWER)
def graph(dag_id: str) -> Any:
    session = db.session()
    dag = require_dag(session, dag_id)
    shown = _shown_run(dag)
    version = _version_of(dag, shown.run)
    drawing = version.drawing("graph", lambda: lay_out_graph(version.spec, version.groups))
    states = _task_states(dag.dag_id, shown.run)
    svg = graph_svg(
        version.spec,
        drawing,
        states=states,
        link=(lambda task_id: ti_url(dag.dag_id, shown.run.run_id, task_id)) if shown.run else (lambda _: None),
    )
    return render_template(
        "dag/graph.html",
        dag=dag,
        active_tab="graph",
        shown=shown,
        version=version,
        svg=svg,
        task_count=len(states),
    )


@bp.get(f"{DAG}/graph.json")
@require_role(Role.VIEWER)
def graph_json(dag_id: str) -> Any:
    """The chosen run's task states, for the graph page to recolour its nodes."""
    dag = require_dag(db.session(), dag_id)
    run = _shown_run(dag, choices=1).run
    return jsonify(
        {
            "run_id": run.run_id if run else None,
            "run_state": run.state if run else None,
            "finished": run is None or run.state in FINISHED_RUN_STATES,
            "states": _task_states(dag.dag_id, run),
        }
    )


def _task_states(dag_id: str, run: Any) -> dict[str, str]:
    if run is None:
        return {}
    rows = ti_queries.states_for_runs(db.session(), dag_id, [run.run_id])
    return grid_drawing.summarize(rows).of_run(run.run_id)


# --- Gantt ---------------------------------------------------------------------------------------


@bp.get(f"{DAG}/gantt")
@require_role(Role.VIEWER)
def gantt(dag_id: str) -> Any:
    session = db.session()
    dag = require_dag(session, dag_id)
    shown = _shown_run(dag)
    svg = _gantt_svg(dag, shown.run) if shown.run else None
    return render_template("dag/gantt.html", dag=dag, active_tab="gantt", shown=shown, svg=svg)


@bp.get(f"{DAG}/gantt.svg")
@require_role(Role.VIEWER)
def gantt_image(dag_id: str) -> Any:
    """The chart alone, for the Gantt page to redraw while the run goes on."""
    dag = require_dag(db.session(), dag_id)
    run = _shown_run(dag, choices=1).run
    if run is None:
        abort(404, description=f"DAG {dag_id!r} has no run yet")
    response = Response(_gantt_svg(dag, run), mimetype="image/svg+xml")
    response.headers["X-Run-Finished"] = "1" if run.state in FINISHED_RUN_STATES else "0"
    return response


def _gantt_svg(dag: Dag, run: Any) -> Markup:
    session = db.session()
    tries = [GanttTry(*row) for row in ti_queries.tries_for_run(session, dag.dag_id, run.run_id)]
    version = _version_of(dag, run)
    indexes: dict[str, set[int]] = {}
    for attempt in tries:
        indexes.setdefault(attempt.task_id, set()).add(attempt.map_index)
    rows = [(task_id, i) for task_id in version.spec.tasks for i in sorted(indexes.get(task_id) or {-1})]
    rows += [
        (task_id, i) for task_id in sorted(set(indexes) - set(version.spec.tasks)) for i in sorted(indexes[task_id])
    ]
    return gantt_svg(
        rows,
        tries,
        now=datetime.now(UTC),
        zone=db.settings().ui_timezone,
        link=lambda attempt: ti_url(
            dag.dag_id, run.run_id, attempt.task_id, map_index=attempt.map_index, try_number=attempt.try_number
        ),
    )


# --- Code ----------------------------------------------------------------------------------------


@bp.get(f"{DAG}/code")
@require_role(Role.VIEWER)
def code(dag_id: str) -> Any:
    from flowctl.db.queries.dags import version_source

    session = db.session()
    dag = require_dag(session, dag_id)
    shown = _shown_run(dag)
    version_id = (shown.run.dag_version_id if shown.run else None) or dag.latest_version_id
    stored = version_source(session, version_id) if version_id is not None else None
    fileloc, source = stored if stored else (dag.fileloc, None)
    return render_template(
        "dag/code.html",
        dag=dag,
        active_tab="code",
        shown=shown,
        version_id=version_id,
        version_number=version_number(session, version_id),
        fileloc=fileloc,
        highlighted=_highlight(source) if source is not None else None,
    )


def _highlight(source: str) -> Markup:
    """The source as HTML, every character escaped by Pygments, colours as classes (see code.css)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    return Markup(highlight(source, PythonLexer(), HtmlFormatter(linenos="table", cssclass="highlight", wrapcode=True)))


@bp.get("/code-highlight.css")
def code_css() -> Any:
    """Pygments' colours for highlighted code, made from the installed Pygments (no login: no data)."""
    response = Response(_pygments_css(), mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@functools.cache
def _pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(style="default").get_style_defs(".highlight")


# --- shared --------------------------------------------------------------------------------------


def _shown_run(dag: Dag, *, choices: int = RUN_CHOICES) -> ShownRun:
    """`?run_id=` (404 if the DAG has no such run), else the latest run; and the recent runs."""
    recent = run_queries.runs_before(db.session(), dag.dag_id, limit=choices)
    wanted = request.args.get("run_id") or None
    if wanted is None:
        return ShownRun(recent[0] if recent else None, recent)
    run = next((row for row in recent if row.run_id == wanted), None)
    if run is None:
        run = require_run(db.session(), dag.dag_id, wanted)
        recent = [run, *recent]
    return ShownRun(run, recent)


def _version_of(dag: Dag, run: Any) -> DagVersion:
    """The version `run` ran with (the latest when there is no run or its version is gone)."""
    wanted = run.dag_version_id if run is not None and run.dag_version_id is not None else dag.latest_version_id
    found = load_versions(db.session(), {wanted, dag.latest_version_id})
    version = found.get(wanted) or found.get(dag.latest_version_id)  # type: ignore[arg-type]
    if version is None:
        raise NotFound(f"DAG {dag.dag_id!r} has no stored version yet")
    return version


def ti_url(
    dag_id: str, run_id: str, task_id: str, *, map_index: int | None = None, try_number: int | None = None
) -> str:
    """The task instance page (views/runs.py); a mapped task's page without map_index lists its instances."""
    ids = [quote(value, safe="") for value in (dag_id, run_id, task_id)]
    url = "{}/dags/{}/runs/{}/tasks/{}".format(request.script_root, *ids)
    query = [f"map_index={map_index}"] if map_index is not None and map_index >= 0 else []
    query += [f"try_number={try_number}"] if try_number is not None else []
    return f"{url}?{'&'.join(query)}" if query else url
