"""`flowctl dags show --save FILE`: a DAG's graph written to a file, in the format its extension names.

`.dot` is the Graphviz text `--format dot` prints; `.svg` is the web UI's own drawing (the same layered
layout), with the page's styles inlined so the file stands alone. `.png` would need a raster renderer
(Graphviz's `dot`, or cairo) that flowctl does not ship, so it is refused with what to do instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowctl.exceptions import InvalidInput

FORMATS = (".dot", ".svg")

# The graph rules of flowctl/web/static/dag.css with the page's colour variables written out.
_SVG_STYLE = """<style>
svg.dag-graph { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #fff; }
.edge { fill: none; stroke: #8c959f; stroke-width: 1.3; }
marker path { fill: #8c959f; }
.edge-label { font-size: 11px; fill: #1f2328; text-anchor: middle; paint-order: stroke; stroke: #fff;
  stroke-width: 4px; }
.group rect { fill: rgba(11, 92, 173, .04); stroke: #9fb3c8; stroke-dasharray: 4 3; }
.group text { fill: #57606a; font-size: 11px; }
.node rect { fill: #fff; stroke: #afb8c1; stroke-width: 1.5; }
.node .task-id { fill: #1f2328; }
.node .operator { fill: #57606a; font-size: 10px; font-family: system-ui, sans-serif; }
</style>"""


def check_graph_file(path: Path) -> None:
    """Refuse, before any work, a file name whose extension names no format flowctl can write."""
    suffix = path.suffix.lower()
    if suffix == ".png":
        raise InvalidInput(
            f"cannot save {path.name}: PNG needs a raster renderer flowctl does not ship; save as .svg "
            f"(any browser shows it) or .dot and run Graphviz: dot -Tpng {path.with_suffix('.dot').name} -o {path.name}"
        )
    if suffix not in FORMATS:
        raise InvalidInput(f"cannot save {path.name}: the file name must end in .svg or .dot")


def save_graph(serialized: dict[str, Any], path: Path) -> None:
    """Write the graph of a stored DAG version to `path` in the format of its extension (.dot or .svg)."""
    check_graph_file(path)
    text = graph_dot(serialized) if path.suffix.lower() == ".dot" else graph_svg_document(serialized)
    try:
        path.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None


def graph_dot(serialized: dict[str, Any]) -> str:
    from flowctl.cli.graph_text import dag_as_dot
    from flowctl.serialization import deserialize_dag

    return dag_as_dot(deserialize_dag(serialized))


def graph_svg_document(serialized: dict[str, Any]) -> str:
    """The UI's graph of a DAG version (no run: every node uncoloured) as a standalone SVG document."""
    # Imported here: the web package imports Flask, which only this format needs.
    from flowctl.web.dag_versions import DagVersion
    from flowctl.web.drawing.svg import graph_svg, lay_out_graph

    version = DagVersion.from_data(0, 0, "", serialized)  # the spec with each task's task groups
    drawing = lay_out_graph(version.spec, version.groups)
    svg = str(graph_svg(version.spec, drawing, states={}, link=lambda _task_id: None))
    head, separator, body = svg.partition(">")  # after the opening <svg ...> tag
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + head + separator + _SVG_STYLE + body
