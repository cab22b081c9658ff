"""The graph page's layered layout: columns follow the edges, nothing overlaps, crossings go away where
they can, task groups stay together, and a 1 000-task DAG lays out fast."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from flowctl.web.drawing.graph_layout import (
    Layout,
    assign_layers,
    cluster_boxes,
    count_crossings,
    layered_layout,
)


def random_dag(size: int, *, seed: int = 7, reach: int = 30) -> tuple[list[str], list[tuple[str, str]]]:
    rng = random.Random(seed)
    nodes = [f"task_{i}" for i in range(size)]
    edges = {(nodes[rng.randint(max(0, i - reach), i - 1)], nodes[i]) for i in range(1, size) for _ in range(2)}
    return nodes, sorted(edges)


def crossings_of(layout: Layout, edges: list[tuple[str, str]]) -> int:
    """Crossings between edges joining the same two adjacent columns, from the drawn heights."""
    count = 0
    boxes = layout.nodes
    for (a, b), (c, d) in itertools.combinations(edges, 2):
        same_columns = (boxes[a].layer, boxes[b].layer) == (boxes[c].layer, boxes[d].layer)
        if same_columns and a != c and b != d and (boxes[a].y - boxes[c].y) * (boxes[b].y - boxes[d].y) < 0:
            count += 1
    return count


def test_every_edge_points_right_to_a_later_column_and_sources_start_the_first() -> None:
    nodes, edges = random_dag(200)

    layout = layered_layout(nodes, edges)

    for source, target in edges:
        assert layout.nodes[source].layer < layout.nodes[target].layer
        assert layout.nodes[source].x + layout.nodes[source].width < layout.nodes[target].x
    sources = set(nodes) - {target for _, target in edges}
    assert {layout.nodes[node].layer for node in sources} == {0}


def test_a_node_sits_one_column_after_its_furthest_upstream() -> None:
    layers = assign_layers(["a", "b", "c", "d"], [("a", "b"), ("b", "c"), ("a", "c"), ("a", "d")])

    assert layers == {"a": 0, "b": 1, "c": 2, "d": 1}


def test_no_two_nodes_overlap_and_every_node_is_inside_the_drawing() -> None:
    nodes, edges = random_dag(250, seed=3)
    widths = {node: 80.0 + 5 * (i % 9) for i, node in enumerate(nodes)}

    layout = layered_layout(nodes, edges, widths=widths)

    boxes = list(layout.nodes.values())
    assert len({(box.x, box.y) for box in boxes}) == len(boxes)
    for first, second in itertools.combinations(boxes, 2):
        assert not first.overlaps(second)
    assert all(box.x >= 0 and box.y >= 0 for box in boxes)
    assert all(box.x + box.width <= layout.width and box.y + box.height <= layout.height for box in boxes)
    assert all(layout.nodes[node].width == widths[node] for node in nodes)


def test_edges_run_from_the_source_s_right_side_to_the_target_s_left_side_through_waypoints() -> None:
    nodes = ["a", "b", "c", "d"]
    edges = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")]

    layout = layered_layout(nodes, edges)

    routes = {(route.source, route.target): route.points for route in layout.edges}
    assert set(routes) == set(edges)
    a, d = layout.nodes["a"], layout.nodes["d"]
    long_edge = routes[("a", "d")]
    assert long_edge[0] == (a.x + a.width, a.y + a.height / 2)
    assert long_edge[-1] == (d.x, d.y + d.height / 2)
    assert len(long_edge) == 2 + 2 * 2  # a waypoint (in and out) in each of the two columns crossed
    for x, y in long_edge[1:-1]:  # the long edge passes beside b and c, not through them
        for node in ("b", "c"):
            box = layout.nodes[node]
            assert not (box.x <= x <= box.x + box.width and box.y < y < box.y + box.height)


def test_counting_crossings_between_two_layers() -> None:
    edges = [(0, 11), (0, 10), (1, 10), (2, 12), (2, 10)]

    assert count_crossings([0, 1, 2], [10, 11, 12], edges) == 2  # 0-11 crosses 1-10 and 2-10
    assert count_crossings([0, 1, 2], [11, 10, 12], edges) == 0
    assert count_crossings([0, 1], [10, 11], []) == 0


def test_barycenter_ordering_removes_a_crossing_the_first_order_has() -> None:
    # a is met first, so p then q; b -> p then crosses a -> q unless q moves above p
    nodes, edges = ["a", "b", "p", "q"], [("a", "p"), ("a", "q"), ("b", "p")]

    layout = layered_layout(nodes, edges)

    assert layout.nodes["q"].y < layout.nodes["p"].y
    assert crossings_of(layout, edges) == 0


def test_ordering_untangles_a_crossed_ladder() -> None:
    # two chains cross-wired: the best drawing has no crossing at all
    nodes = ["a1", "b1", "a2", "b2", "a3", "b3"]
    edges = [("a1", "b2"), ("b1", "a2"), ("a2", "b3"), ("b2", "a3")]

    layout = layered_layout(nodes, edges)

    assert crossings_of(layout, edges) == 0


def test_a_chain_draws_on_one_row() -> None:
    nodes = [f"t{i}" for i in range(6)]

    layout = layered_layout(nodes, list(itertools.pairwise(nodes)))

    assert len({layout.nodes[node].y for node in nodes}) == 1


def test_members_of_a_task_group_stay_together_and_get_a_box_covering_only_them() -> None:
    nodes = ["start", "g.a", "other", "g.b", "g.c", "end"]
    edges = [("start", n) for n in ("g.a", "other", "g.b")] + [("g.a", "g.c"), ("g.b", "g.c")]
    edges += [("g.c", "end"), ("other", "end")]
    clusters = {"g.a": ("g",), "g.b": ("g",), "g.c": ("g",)}

    layout = layered_layout(nodes, edges, clusters=clusters)
    boxes = cluster_boxes(layout, clusters)

    column = sorted(("g.a", "other", "g.b"), key=lambda n: layout.nodes[n].y)
    assert column.index("other") != 1  # not between the group's members
    assert [box.cluster for box in boxes] == ["g"]
    box = boxes[0]
    for node, placed in layout.nodes.items():
        inside = box.x <= placed.x and placed.x + placed.width <= box.x + box.width
        inside = inside and box.y <= placed.y and placed.y + placed.height <= box.y + box.height
        assert inside == (node in clusters), node


def test_a_group_box_that_would_cover_another_node_is_left_out() -> None:
    # g.a and g.b sit two columns apart with "mid" between them in the middle column, in the same row
    nodes, edges = ["g.a", "mid", "g.b"], [("g.a", "mid"), ("mid", "g.b")]
    clusters = {"g.a": ("g",), "g.b": ("g",)}

    layout = layered_layout(nodes, edges, clusters=clusters)

    assert cluster_boxes(layout, clusters) == []


def test_nested_groups_get_nested_boxes() -> None:
    nodes = ["outer.x", "outer.inner.y", "outer.inner.z", "after"]
    edges = [("outer.x", "outer.inner.y"), ("outer.inner.y", "outer.inner.z"), ("outer.inner.z", "after")]
    clusters = {
        "outer.x": ("outer",),
        "outer.inner.y": ("outer", "outer.inner"),
        "outer.inner.z": ("outer", "outer.inner"),
    }

    boxes = {box.cluster: box for box in cluster_boxes(layered_layout(nodes, edges, clusters=clusters), clusters)}

    outer, inner = boxes["outer"], boxes["outer.inner"]
    assert outer.x < inner.x and outer.y < inner.y
    assert inner.x + inner.width < outer.x + outer.width and inner.y + inner.height < outer.y + outer.height


def test_a_cycle_or_an_unknown_node_is_refused() -> None:
    with pytest.raises(ValueError, match="cycle"):
        layered_layout(["a", "b"], [("a", "b"), ("b", "a")])
    with pytest.raises(ValueError, match="unknown"):
        layered_layout(["a"], [("a", "nope")])


def test_an_empty_graph_and_a_single_node_lay_out() -> None:
    assert layered_layout([], []).nodes == {}
    assert set(layered_layout(["only"], []).nodes) == {"only"}


def test_a_thousand_task_dag_lays_out_well_under_a_second() -> None:
    nodes, edges = random_dag(1000)
    fan_in = [f"fan_{i}" for i in range(200)]

    started = time.perf_counter()
    layered_layout(nodes, edges)
    layered_layout(["start", *fan_in, "end"], [("start", n) for n in fan_in] + [(n, "end") for n in fan_in])
    elapsed = time.perf_counter() - started

    assert elapsed < 0.5


def test_when_long_edges_would_need_too_many_waypoints_they_are_drawn_straight() -> None:
    chain = [f"t{i}" for i in range(300)]
    edges = list(itertools.pairwise(chain)) + [("t0", node) for node in chain[2:]]

    layout = layered_layout(chain, edges, waypoint_budget=100)

    assert max(len(route.points) for route in layout.edges) == 2
