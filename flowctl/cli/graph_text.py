"""A stored DAG's shape as plain text, an indented tree, or Graphviz DOT."""

from __future__ import annotations

import json

from flowctl.serialization import DagSpec


def dag_as_text(spec: DagSpec) -> str:
    lines = [f"DAG {spec.dag_id} ({len(spec.tasks)} tasks, schedule: {spec.schedule or 'None'})"]
    for task in spec.tasks.values():
        if task.downstream:
            lines.append(f"  {task.task_id} >> {', '.join(task.downstream)}")
        elif not task.upstream:
            lines.append(f"  {task.task_id}")
    return "\n".join(lines)


def dag_as_dot(spec: DagSpec) -> str:
    lines = [f"digraph {json.dumps(spec.dag_id)} {{", "  rankdir=LR;", "  node [shape=box];"]
    lines += [f"  {json.dumps(task_id)};" for task_id in spec.tasks]
    for task in spec.tasks.values():
        for downstream in task.downstream:
            label = spec.edge_labels.get((task.task_id, downstream))
            suffix = f" [label={json.dumps(label)}]" if label else ""
            lines.append(f"  {json.dumps(task.task_id)} -> {json.dumps(downstream)}{suffix};")
    lines.append("}")
    return "\n".join(lines)


def task_tree(spec: DagSpec) -> str:
    """Each root with its downstream tasks indented under it (a task shows under every upstream)."""
    lines: list[str] = []

    def walk(task_id: str, depth: int) -> None:
        lines.append("    " * depth + f"<Task({spec.tasks[task_id].operator}): {task_id}>")
        for downstream in spec.tasks[task_id].downstream:
            walk(downstream, depth + 1)

    for task in spec.tasks.values():
        if not task.upstream:
            walk(task.task_id, 0)
    return "\n".join(lines)
