"""A DAG laid out left to right in layers: which column and height each node takes, and the points each
edge passes through. Pure functions on ids and sizes: no I/O, no Flask, no DB.

The classic layered (Sugiyama) recipe, kept small:
1. layers by longest path from the sources (every edge points right);
2. edges spanning several layers get invisible waypoints, one per layer crossed (within a budget);
3. each layer's order by barycenter sweeps (a node moves towards the mean position of its neighbours),
   keeping the order with the fewest crossings; nodes of one cluster (task group) stay together;
4. heights as close as possible to the neighbours' (least squares under "no overlap", solved by
   pool-adjacent-violators), so chains draw straight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Spacing:
    node_height: float = 36.0
    layer_gap: float = 64.0  # between the columns
    node_gap: float = 14.0  # between two nodes of a column
    waypoint_gap: float = 6.0  # between an edge's waypoint and its neighbours
    cluster_pad: float = 10.0  # room a cluster box takes around its nodes, per nesting level
    cluster_label: float = 16.0  # room above a cluster's nodes for its name
    margin: float = 12.0


@dataclass(frozen=True, slots=True)
class NodeBox:
    x: float
    y: float
    width: float
    height: float
    layer: int

    def overlaps(self, other: NodeBox | ClusterBox) -> bool:
        return (
            self.x < other.x + other.width
            and other.x < self.x + self.width
            and self.y < other.y + other.height
            and other.y < self.y + self.height
        )


@dataclass(frozen=True, slots=True)
class EdgeRoute:
    source: str
    target: str
    points: tuple[Point, ...]  # from the source's right side to the target's left side


@dataclass(frozen=True, slots=True)
class ClusterBox:
    cluster: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Layout:
    nodes: dict[str, NodeBox]
    edges: tuple[EdgeRoute, ...]
    width: float
    height: float


def assign_layers(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Each node's column: 0 for a source, else one more than its furthest upstream (longest path)."""
    upstream: dict[str, list[str]] = {node: [] for node in nodes}
    downstream: dict[str, list[str]] = {node: [] for node in nodes}
    for source, target in edges:
        if source not in upstream or target not in upstream:
            raise ValueError(f"edge {source!r} -> {target!r} names an unknown node")
        downstream[source].append(target)
        upstream[target].append(source)
    waiting = {node: len(upstream[node]) for node in nodes}
    ready = [node for node in nodes if waiting[node] == 0]
    layer = dict.fromkeys(ready, 0)
    while ready:
        node = ready.pop()
        for target in downstream[node]:
            layer[target] = max(layer.get(target, 0), layer[node] + 1)
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    if len(layer) != len(upstream):
        raise ValueError("the graph has a cycle")
    return layer


def count_crossings(upper: Sequence[int], lower: Sequence[int], edges: Sequence[tuple[int, int]]) -> int:
    """Crossings between two adjacent layers (items listed in order; edges go upper -> lower), counted
    as inversions with a Fenwick tree: O(E log V) (Barth, Jünger, Mutzel)."""
    upper_pos = {item: i for i, item in enumerate(upper)}
    lower_pos = {item: i for i, item in enumerate(lower)}
    ends = sorted((upper_pos[a], lower_pos[b]) for a, b in edges)
    tree = [0] * (len(lower) + 1)
    crossings = 0
    for seen, (_, end) in enumerate(ends):
        index, below = end + 1, 0
        while index > 0:  # how many earlier edges end at or left of `end`
            below += tree[index]
            index -= index & -index
        crossings += seen - below
        index = end + 1
        while index <= len(lower):
            tree[index] += 1
            index += index & -index
    return crossings


class _Graph:
    """The graph with waypoints: items 0..n-1 are the nodes, the rest waypoints; edges join adjacent layers."""

    def __init__(
        self,
        nodes: Sequence[str],
        edges: Sequence[tuple[str, str]],
        clusters: Mapping[str, tuple[str, ...]],
        *,
        waypoint_budget: int,
    ) -> None:
        layers = assign_layers(nodes, edges)
        self.index = {node: i for i, node in enumerate(nodes)}
        self.layer = [layers[node] for node in nodes]
        self.path = [tuple(clusters.get(node, ())) for node in nodes]
        self.is_node = [True] * len(nodes)
        self.down: list[list[int]] = [[] for _ in nodes]
        self.up: list[list[int]] = [[] for _ in nodes]
        self.chains: list[tuple[str, str, list[int]]] = []  # each edge: its items, source to target
        spans = sum(max(0, layers[t] - layers[s] - 1) for s, t in edges)
        split = spans <= waypoint_budget
        for source, target in edges:
            chain = [self.index[source]]
            if split:
                common = _common_prefix(self.path[chain[0]], self.path[self.index[target]])
                for layer in range(layers[source] + 1, layers[target]):
                    chain.append(self._add_waypoint(layer, common))
            chain.append(self.index[target])
            for a, b in pairwise(chain):
                if self.layer[b] == self.layer[a] + 1:  # long edges left unsplit do not steer the order
                    self.down[a].append(b)
                    self.up[b].append(a)
            self.chains.append((source, target, chain))
        self.layer_count = max(self.layer, default=-1) + 1

    def _add_waypoint(self, layer: int, path: tuple[str, ...]) -> int:
        self.layer.append(layer)
        self.path.append(path)
        self.is_node.append(False)
        self.down.append([])
        self.up.append([])
        return len(self.layer) - 1

    def initial_order(self) -> list[list[int]]:
        """Items per layer in depth-first discovery order, so a chain starts out on one row."""
        order: list[list[int]] = [[] for _ in range(self.layer_count)]
        seen = [False] * len(self.layer)
        for root in range(len(self.index)):
            if seen[root] or self.up[root]:
                continue
            stack = [root]
            while stack:
                item = stack.pop()
                if seen[item]:
                    continue
                seen[item] = True
                order[self.layer[item]].append(item)
                stack.extend(reversed(self.down[item]))
        for item in range(len(self.layer)):  # reachable only through unsplit long edges
            if not seen[item]:
                order[self.layer[item]].append(item)
        return order

    def crossings(self, order: list[list[int]]) -> int:
        return sum(
            count_crossings(upper, lower, [(a, b) for a in upper for b in self.down[a]])
            for upper, lower in pairwise(order)
        )


def order_layers(graph: _Graph, *, sweeps: int) -> list[list[int]]:
    """The order of each layer: barycenter sweeps down and up, keeping the best order seen."""
    order = graph.initial_order()
    best, best_crossings = [list(layer) for layer in order], graph.crossings(order)
    for _ in range(sweeps):
        if best_crossings == 0:
            break
        for rng, neighbours in (
            (range(1, graph.layer_count), graph.up),
            (range(graph.layer_count - 2, -1, -1), graph.down),
        ):
            position = {item: i for layer in order for i, item in enumerate(layer)}
            for layer_index in rng:
                keys = {}
                for item in order[layer_index]:
                    near = neighbours[item]
                    keys[item] = sum(position[n] for n in near) / len(near) if near else float(position[item])
                order[layer_index] = _clustered(order[layer_index], keys, graph.path, depth=0)
                position.update((item, i) for i, item in enumerate(order[layer_index]))
            crossings = graph.crossings(order)
            if crossings < best_crossings:
                best, best_crossings = [list(layer) for layer in order], crossings
    return best


def _clustered(items: list[int], keys: dict[int, float], paths: list[tuple[str, ...]], *, depth: int) -> list[int]:
    """`items` sorted by key, the members of each cluster kept together (a cluster sorts by its mean key)."""
    blocks: dict[str, tuple[int, list[int]]] = {}
    entries: list[tuple[float, int, list[int]]] = []
    for position, item in enumerate(items):
        path = paths[item]
        if len(path) > depth:
            blocks.setdefault(path[depth], (position, []))[1].append(item)
        else:
            entries.append((keys[item], position, [item]))
    entries += [(sum(keys[i] for i in members) / len(members), first, members) for first, members in blocks.values()]
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    result: list[int] = []
    for _, _, members in entries:
        if len(members) > 1 and any(len(paths[m]) > depth for m in members):
            result.extend(_clustered(members, keys, paths, depth=depth + 1))
        else:
            result.extend(members)
    return result


def _common_prefix(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    length = 0
    while length < min(len(a), len(b)) and a[length] == b[length]:
        length += 1
    return a[:length]


def _isotonic(values: list[float]) -> list[float]:
    """The non-decreasing sequence closest to `values` in least squares (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, size]
    for value in values:
        blocks.append([value, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, size = blocks.pop()
            previous = blocks[-1]
            previous[0] = (previous[0] * previous[1] + mean * size) / (previous[1] + size)
            previous[1] += size
    result: list[float] = []
    for mean, size in blocks:
        result.extend([mean] * int(size))
    return result


def _separation(graph: _Graph, a: int, b: int, spacing: Spacing) -> float:
    """The least distance between the centres of `a` and `b`, neighbours in a column (a above b)."""
    height_a = spacing.node_height if graph.is_node[a] else 0.0
    height_b = spacing.node_height if graph.is_node[b] else 0.0
    gap = spacing.node_gap if graph.is_node[a] and graph.is_node[b] else spacing.waypoint_gap
    common = len(_common_prefix(graph.path[a], graph.path[b]))
    closing, opening = len(graph.path[a]) - common, len(graph.path[b]) - common
    boxes = spacing.cluster_pad * (closing + opening) + spacing.cluster_label * opening
    return (height_a + height_b) / 2 + gap + boxes


def place_rows(graph: _Graph, order: list[list[int]], spacing: Spacing, *, sweeps: int = 4) -> list[float]:
    """Each item's centre height: stacked in order, then pulled towards its neighbours' mean height."""
    centre = [0.0] * len(graph.layer)
    offsets: list[list[float]] = []
    for layer in order:
        offset, previous, column = 0.0, None, []
        for item in layer:
            if previous is not None:
                offset += _separation(graph, previous, item, spacing)
            column.append(offset)
            centre[item] = offset
            previous = item
        offsets.append(column)
    for sweep in range(sweeps * 2):
        neighbours = graph.up if sweep % 2 == 0 else graph.down
        layer_indexes = range(len(order)) if sweep % 2 == 0 else range(len(order) - 1, -1, -1)
        for layer_index in layer_indexes:
            layer, column = order[layer_index], offsets[layer_index]
            wanted = []
            for item, offset in zip(layer, column, strict=True):
                near = neighbours[item]
                target = sum(centre[n] for n in near) / len(near) if near else centre[item]
                wanted.append(target - offset)
            for item, base, offset in zip(layer, _isotonic(wanted), column, strict=True):
                centre[item] = base + offset
    return centre


def layered_layout(
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str]],
    *,
    widths: Mapping[str, float] | None = None,
    clusters: Mapping[str, tuple[str, ...]] | None = None,
    spacing: Spacing | None = None,
    sweeps: int = 4,
    waypoint_budget: int | None = None,
) -> Layout:
    """Where to draw each node (left to right by layer) and the points each edge goes through.

    `widths`: each node's width (default 120); `clusters`: each node's cluster path, outermost first
    (a task's task groups), whose members are kept next to each other. Long edges get waypoints unless
    that would take more than `waypoint_budget` of them (default 20 per node); then they go straight.
    """
    spacing = spacing or Spacing()
    budget = 20 * len(nodes) if waypoint_budget is None else waypoint_budget
    graph = _Graph(nodes, edges, clusters or {}, waypoint_budget=budget)
    order = order_layers(graph, sweeps=sweeps)
    return _geometry(graph, order, place_rows(graph, order, spacing), widths or {}, spacing)


def _geometry(
    graph: _Graph, order: list[list[int]], centre: list[float], widths: Mapping[str, float], spacing: Spacing
) -> Layout:
    """Boxes and edge points from the layers' order and the items' heights."""
    depth = max((len(path) for path in graph.path), default=0)
    top = min(centre, default=0.0) - spacing.node_height / 2 - spacing.margin
    top -= depth * (spacing.cluster_pad + spacing.cluster_label)
    names = list(graph.index)
    column_width = [
        max((widths.get(names[i], 120.0) for i in layer if graph.is_node[i]), default=0.0) for layer in order
    ]
    column_x, x = [], spacing.margin + depth * spacing.cluster_pad
    for width in column_width:
        column_x.append(x)
        x += width + spacing.layer_gap
    boxes = {}
    for name, index in graph.index.items():
        layer, width = graph.layer[index], widths.get(name, 120.0)
        boxes[name] = NodeBox(
            x=column_x[layer] + (column_width[layer] - width) / 2,
            y=centre[index] - spacing.node_height / 2 - top,
            width=width,
            height=spacing.node_height,
            layer=layer,
        )
    routes = []
    for source, target, chain in graph.chains:
        start, end = boxes[source], boxes[target]
        points: list[Point] = [(start.x + start.width, start.y + start.height / 2)]
        for item in chain[1:-1]:
            left, y = column_x[graph.layer[item]], centre[item] - top
            points += [(left, y), (left + column_width[graph.layer[item]], y)]
        points.append((end.x, end.y + end.height / 2))
        routes.append(EdgeRoute(source, target, tuple(points)))
    bottom = max([box.y + box.height for box in boxes.values()] + [c - top for c in centre], default=0.0)
    return Layout(
        nodes=boxes,
        edges=tuple(routes),
        width=x - spacing.layer_gap + spacing.margin + depth * spacing.cluster_pad,
        height=bottom + spacing.margin + depth * spacing.cluster_pad,
    )


def cluster_boxes(
    layout: Layout, clusters: Mapping[str, tuple[str, ...]], *, spacing: Spacing | None = None
) -> list[ClusterBox]:
    """A box around each cluster's nodes (outermost first), for the clusters whose box would cover no
    other node: a box drawn over a stranger would say it belongs there."""
    spacing = spacing or Spacing()
    members: dict[str, list[str]] = {}
    depth_below: dict[str, int] = {}
    for node, path in clusters.items():
        if node not in layout.nodes:
            continue
        for level, cluster in enumerate(path):
            members.setdefault(cluster, []).append(node)
            depth_below[cluster] = max(depth_below.get(cluster, 0), len(path) - level - 1)
    boxes = []
    for cluster, names in members.items():
        inner = [layout.nodes[name] for name in names]
        pad = spacing.cluster_pad * (depth_below[cluster] + 1)
        label = spacing.cluster_label * (depth_below[cluster] + 1)
        left, top = min(b.x for b in inner) - pad, min(b.y for b in inner) - pad - label
        right, bottom = max(b.x + b.width for b in inner) + pad, max(b.y + b.height for b in inner) + pad
        box = ClusterBox(cluster, left, top, right - left, bottom - top)
        inside = set(names)
        if not any(node not in inside and placed.overlaps(box) for node, placed in layout.nodes.items()):
            boxes.append(box)
    boxes.sort(key=lambda box: (len(members[box.cluster]) * -1, box.cluster))
    return boxes
