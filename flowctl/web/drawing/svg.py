"""The graph and the Gantt chart as server-side SVG (inline in the page, styled by dag.css classes).

Every id, label and time is escaped here; links come from the caller. Colours are `state-<state>`
classes, so the page script can recolour nodes when states change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pendulum
from markupsafe import Markup

from flowctl.serialization import DagSpec
from flowctl.web.drawing.graph_layout import ClusterBox, Layout, cluster_boxes, layered_layout
from flowctl.web.presenters import duration

CHAR_WIDTH = 7.2  # node labels are 12px monospace
NODE_MIN_WIDTH, NODE_MAX_WIDTH = 110.0, 300.0
ARROW = (
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
    'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>'
)


@dataclass(frozen=True, slots=True)
class GraphDrawing:
    """A version's graph, laid out once: node boxes, edge routes and the task group boxes."""

    layout: Layout
    groups: tuple[ClusterBox, ...]


def lay_out_graph(spec: DagSpec, groups: Mapping[str, tuple[str, ...]]) -> GraphDrawing:
    widths = {task_id: _node_width(task_id, task.operator) for task_id, task in spec.tasks.items()}
    edges = [(up, task_id) for task_id, task in spec.tasks.items() for up in task.upstream if up in spec.tasks]
    layout = layered_layout(list(spec.tasks), edges, widths=widths, clusters=groups)
    return GraphDrawing(layout, tuple(cluster_boxes(layout, groups)))


def _node_width(task_id: str, operator: str) -> float:
    chars = max(len(task_id), len(operator) * 0.85)
    return min(NODE_MAX_WIDTH, max(NODE_MIN_WIDTH, chars * CHAR_WIDTH + 24))


def _fit(text: str, width: float, char_width: float = CHAR_WIDTH) -> str:
    room = int((width - 20) / char_width)
    return text if len(text) <= room else text[: max(1, room - 1)] + "…"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def graph_svg(
    spec: DagSpec,
    drawing: GraphDrawing,
    *,
    states: Mapping[str, str],
    link: Callable[[str], str | None],
) -> Markup:
    """The DAG left to right: a node per task coloured by `states` (task_id -> state; no run: none), an
    arrow per dependency with its Label if any, and a box per task group that has room for one."""
    layout = drawing.layout
    edges, labels = _edges(spec, layout)
    return Markup("").join(
        [
            Markup(
                '<svg xmlns="http://www.w3.org/2000/svg" class="dag-graph" width="{w}" height="{h}" '
                'viewBox="0 0 {w} {h}" role="img" aria-label="{label}">'
            ).format(w=_num(layout.width), h=_num(layout.height), label=f"Graph of DAG {spec.dag_id}"),
            Markup(ARROW),
            Markup('<g class="groups">'),
            *(_group(box) for box in drawing.groups),
            Markup('</g><g class="edges">'),
            *edges,
            Markup('</g><g class="edge-labels">'),
            *labels,
            Markup('</g><g class="nodes">'),
            *(
                _node(task_id, task.operator, layout, states.get(task_id), link(task_id))
                for task_id, task in spec.tasks.items()
            ),
            Markup("</g></svg>"),
        ]
    )


def _group(box: ClusterBox) -> Markup:
    return Markup(
        '<g class="group" data-group-id="{id}"><rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8"/>'
        '<text x="{tx}" y="{ty}">{id}</text></g>'
    ).format(
        id=box.cluster,
        x=_num(box.x),
        y=_num(box.y),
        w=_num(box.width),
        h=_num(box.height),
        tx=_num(box.x + 8),
        ty=_num(box.y + 13),
    )


def _edges(spec: DagSpec, layout: Layout) -> tuple[list[Markup], list[Markup]]:
    """An arrow per edge, and a text per labelled edge (drawn after all arrows, so none hides one)."""
    edges, labels = [], []
    for route in layout.edges:
        edges.append(
            Markup('<path class="edge" data-from="{a}" data-to="{b}" d="{d}" marker-end="url(#arrow)"/>').format(
                a=route.source, b=route.target, d=_curve(route.points)
            )
        )
        text = spec.edge_labels.get((route.source, route.target))
        if text:
            x, y = _middle(route.points)
            labels.append(
                Markup('<text class="edge-label" x="{x}" y="{y}">{t}</text>').format(x=_num(x), y=_num(y - 4), t=text)
            )
    return edges, labels


def _node(task_id: str, operator: str, layout: Layout, state: str | None, href: str | None) -> Markup:
    box = layout.nodes[task_id]
    node = Markup(
        '<g class="node state-{state}" data-task-id="{id}" transform="translate({x} {y})">'
        "<title>{id} ({operator}){shown}</title>"
        '<rect width="{w}" height="{h}" rx="5"/>'
        '<text class="task-id" x="10" y="15">{label}</text>'
        '<text class="operator" x="10" y="29">{op_label}</text></g>'
    ).format(
        state=state or "none",
        id=task_id,
        x=_num(box.x),
        y=_num(box.y),
        operator=operator,
        shown=f" · {state}" if state else "",
        w=_num(box.width),
        h=_num(box.height),
        label=_fit(task_id, box.width),
        op_label=_fit(operator, box.width, CHAR_WIDTH * 0.85),
    )
    return Markup('<a href="{href}">{node}</a>').format(href=href, node=node) if href else node


def _curve(points: Sequence[tuple[float, float]]) -> str:
    """A smooth path through the points: horizontal tangents at each, so it leaves and enters sideways."""
    (x, y), rest = points[0], points[1:]
    path = [f"M{_num(x)},{_num(y)}"]
    for next_x, next_y in rest:
        if next_y == y:
            path.append(f"L{_num(next_x)},{_num(next_y)}")
        else:
            bend = (next_x - x) / 2
            path.append(
                f"C{_num(x + bend)},{_num(y)} {_num(next_x - bend)},{_num(next_y)} {_num(next_x)},{_num(next_y)}"
            )
        x, y = next_x, next_y
    return " ".join(path)


def _middle(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    if len(points) % 2:
        return points[len(points) // 2]
    (ax, ay), (bx, by) = points[len(points) // 2 - 1], points[len(points) // 2]
    return (ax + bx) / 2, (ay + by) / 2


# --- Gantt ---------------------------------------------------------------------------------------------

ROW_HEIGHT, BAR_HEIGHT, AXIS_HEIGHT = 22.0, 14.0, 30.0
RIGHT_ROOM = 44.0  # room right of the time axis for half of its last label ("MM-DD HH:mm")
MIN_PLOT_WIDTH = 360.0  # narrower than this, the chart scrolls sideways
MIN_BAR_PERCENT = 0.15  # a try of no time still shows as a sliver
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)


@dataclass(frozen=True, slots=True)
class GanttTry:
    task_id: str
    map_index: int
    try_number: int
    state: str
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None


def gantt_svg(
    rows: Sequence[tuple[str, int]],
    tries: Sequence[GanttTry],
    *,
    now: datetime,
    zone: str,
    link: Callable[[GanttTry], str],
) -> Markup:
    """A row per task instance (`rows`: (task_id, map_index) in drawing order), a bar per try on a shared
    time axis: the queued part (queued -> start) lighter than the running part (start -> end).

    The chart is as wide as its box: the SVG is 100% wide, its padding keeps the task labels' column on
    the left (drawn at negative x, in the padding) and room for the last time label on the right, so its
    viewport is the plot itself and times are placed in percentages of it, while text keeps its size."""
    times = [t for attempt in tries for t in (attempt.queued_at, attempt.start_date, attempt.end_date) if t]
    first = min(times, default=now)
    last = max([*times, *(now for attempt in tries if attempt.end_date is None)], default=now)
    span = max((last - first).total_seconds(), 1.0)
    label_width = min(320.0, max(120.0, max((len(_row_label(*row)) for row in rows), default=0) * CHAR_WIDTH + 16))
    height = AXIS_HEIGHT + ROW_HEIGHT * max(len(rows), 1) + 8

    def x_of(at: datetime) -> float:
        """Percent of the plot's width."""
        return (at - first).total_seconds() / span * 100

    parts = [
        Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" class="gantt" width="100%" height="{h}" overflow="visible" '
            'style="padding: 0 {right}px 0 {left}px; min-width: {min}px" role="img" aria-label="Gantt chart">'
        ).format(
            h=_num(height), right=_num(RIGHT_ROOM), left=_num(label_width), min=_num(label_width + MIN_PLOT_WIDTH)
        ),
        _axis(first, span, height=height, zone=zone),
    ]
    index = {row: i for i, row in enumerate(rows)}
    parts += [_row(i, row, label_width) for i, row in enumerate(rows)]
    drawn = sorted(
        (t for t in tries if (t.task_id, t.map_index) in index),
        key=lambda t: (index[(t.task_id, t.map_index)], t.try_number),
    )
    for attempt in drawn:
        row_y = AXIS_HEIGHT + index[(attempt.task_id, attempt.map_index)] * ROW_HEIGHT
        parts.append(_bar(attempt, row_y, x_of, now=now, zone=zone, href=link(attempt)))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _percent(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") + "%"


def _row(number: int, row: tuple[str, int], label_width: float) -> Markup:
    y = AXIS_HEIGHT + number * ROW_HEIGHT
    return Markup(
        '<g class="row" data-task-id="{id}"><rect class="band" x="{x}" y="{y}" width="{lw}" height="{h}"/>'
        '<rect class="band" x="0" y="{y}" width="100%" height="{h}"/>'
        '<text class="task-id" x="{tx}" y="{ty}">{label}</text></g>'
    ).format(
        id=row[0],
        x=_num(-label_width),
        y=_num(y),
        lw=_num(label_width),
        h=_num(ROW_HEIGHT),
        tx=_num(6 - label_width),
        ty=_num(y + 15),
        label=_fit(_row_label(*row), label_width + 14),
    )


def _row_label(task_id: str, map_index: int) -> str:
    return task_id if map_index < 0 else f"{task_id} [{map_index}]"


def _axis(first: datetime, span: float, *, height: float, zone: str) -> Markup:
    step = next((s for s in TICK_STEPS if span / s <= 10), None) or 86400 * math.ceil(span / 10 / 86400)
    local_first = pendulum.instance(first).in_timezone(zone)
    midnight = local_first.start_of("day")
    since = (local_first - midnight).total_seconds()
    if step < 86400:  # ticks on round times of the day: 12:05, 12:10...
        tick = midnight.add(seconds=math.ceil(since / step) * step)
    else:  # on midnights
        tick = midnight if since == 0 else midnight.add(days=1)
    fmt = "YYYY-MM-DD" if step >= 86400 else "MM-DD HH:mm" if span >= 86400 else "HH:mm" if step >= 60 else "HH:mm:ss"
    parts = [Markup('<g class="axis">')]
    offset = (tick - local_first).total_seconds()
    while offset <= span:
        x = _percent(offset / span * 100)
        parts.append(
            Markup('<line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}"/><text x="{x}" y="{ty}">{label}</text>').format(
                x=x,
                top=_num(AXIS_HEIGHT - 6),
                bottom=_num(height - 8),
                ty=_num(AXIS_HEIGHT - 10),
                label=local_first.add(seconds=offset).format(fmt),
            )
        )
        offset += step
    parts.append(Markup("</g>"))
    return Markup("").join(parts)


def _bar(
    attempt: GanttTry, row_y: float, x_of: Callable[[datetime], float], *, now: datetime, zone: str, href: str
) -> Markup:
    running = attempt.end_date is None and attempt.state in ("running", "queued", "restarting")
    end = attempt.end_date or (now if running else attempt.start_date or attempt.queued_at or now)
    y = row_y + (ROW_HEIGHT - BAR_HEIGHT) / 2
    rects = []
    if attempt.queued_at is not None:
        queued_end = attempt.start_date or end
        rects.append(_rect("queued", x_of(attempt.queued_at), x_of(queued_end), y))
    if attempt.start_date is not None:
        rects.append(_rect("run", x_of(attempt.start_date), x_of(end), y))
    return Markup(
        '<a href="{href}"><g class="try state-{state}" data-task-id="{id}" data-try="{n}">'
        "<title>{title}</title>{rects}</g></a>"
    ).format(
        href=href,
        state=attempt.state,
        id=attempt.task_id,
        n=attempt.try_number,
        title=_try_title(attempt, end if running else attempt.end_date, zone=zone),
        rects=Markup("").join(rects),
    )


def _rect(kind: str, left: float, right: float, y: float) -> Markup:
    """`left` and `right` in percent of the plot's width."""
    left = min(left, 100 - MIN_BAR_PERCENT)
    return Markup('<rect class="{kind}" x="{x}" y="{y}" width="{w}" height="{h}" rx="2"/>').format(
        kind=kind, x=_percent(left), y=_num(y), w=_percent(max(right - left, MIN_BAR_PERCENT)), h=_num(BAR_HEIGHT)
    )


def _try_title(attempt: GanttTry, end: datetime | None, *, zone: str) -> str:
    def at(value: datetime | None) -> str:
        return "-" if value is None else pendulum.instance(value).in_timezone(zone).format("YYYY-MM-DD HH:mm:ss")

    lines = [f"{_row_label(attempt.task_id, attempt.map_index)} · try {attempt.try_number} · {attempt.state}"]
    lines.append(f"queued {at(attempt.queued_at)}")
    if attempt.queued_at and attempt.start_date:
        lines[-1] += f" (waited {duration((attempt.start_date - attempt.queued_at).total_seconds())})"
    lines.append(f"started {at(attempt.start_date)}")
    lines.append(f"ended {at(attempt.end_date)}")
    if attempt.start_date and end:
        lines[-1] += f" (ran {duration((end - attempt.start_date).total_seconds())})"
    return "\n".join(lines)
