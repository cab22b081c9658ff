"""TaskGroup: a named box of tasks whose ids it prefixes (`extract.fetch`); nestable; usable with >>.

Pure core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any

from flowctl.dag_definition import _Contexts, current_dag, validate_id
from flowctl.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from flowctl.baseoperator import BaseOperator
    from flowctl.dag_definition import DAG


class TaskGroup:
    def __init__(
        self,
        group_id: str | None,
        *,
        dag: DAG | None = None,
        parent_group: TaskGroup | None = None,
        prefix_group_id: bool = True,
        tooltip: str = "",
    ) -> None:
        self.dag = dag or (parent_group.dag if parent_group else None) or current_dag()
        if self.dag is None and group_id is not None:
            raise DagDefinitionError(f"TaskGroup {group_id!r} is used outside a DAG")
        self.parent_group = parent_group or (current_task_group(self.dag) if group_id is not None else None)
        self._group_id = group_id
        self.prefix_group_id = prefix_group_id
        self.tooltip = tooltip
        self.children: dict[str, TaskGroup | BaseOperator] = {}
        if group_id is not None:
            validate_id("group_id", group_id)
            assert self.parent_group is not None
            self.parent_group.add_child(self.group_id, self)

    @classmethod
    def root(cls, dag: DAG) -> TaskGroup:
        return cls(None, dag=dag)

    @property
    def group_id(self) -> str | None:
        if self._group_id is None:
            return None
        parent_prefix = self.parent_group.child_prefix if self.parent_group else ""
        return parent_prefix + self._group_id

    @property
    def child_prefix(self) -> str:
        return (
            f"{self.group_id}."
            if self.group_id is not None and self.prefix_group_id
            else (self.parent_group.child_prefix if self.parent_group else "")
        )

    def add_child(self, key: str, child: TaskGroup | BaseOperator) -> None:
        if key in self.children:
            raise DagDefinitionError(f"{key!r} is defined twice in task group {self.group_id or '(root)'}")
        self.children[key] = child

    def __enter__(self) -> TaskGroup:
        _Contexts.groups.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _Contexts.groups.pop()

    # the tasks at the group's edges, for `group >> task` and `task >> group`

    def all_tasks(self) -> list[BaseOperator]:
        tasks: list[BaseOperator] = []
        for child in self.children.values():
            tasks.extend(child.all_tasks() if isinstance(child, TaskGroup) else [child])
        return tasks

    def roots(self) -> list[BaseOperator]:
        inside = {t.task_id for t in self.all_tasks()}
        return [t for t in self.all_tasks() if not (t.upstream_task_ids & inside)]

    def leaves(self) -> list[BaseOperator]:
        inside = {t.task_id for t in self.all_tasks()}
        return [t for t in self.all_tasks() if not (t.downstream_task_ids & inside)]

    def set_downstream(self, other: Any) -> None:
        for task in self.leaves():
            task.set_downstream(other)

    def set_upstream(self, other: Any) -> None:
        for task in self.roots():
            task.set_upstream(other)

    def __rshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Any) -> TaskGroup:
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> TaskGroup:
        self.set_downstream(other)
        return self

    def to_dict(self) -> dict[str, Any]:
        """The group tree for drawing: nested groups and the task ids directly inside each."""
        return {
            "group_id": self.group_id,
            "tooltip": self.tooltip,
            "children": [
                child.to_dict() if isinstance(child, TaskGroup) else child.task_id for child in self.children.values()
            ],
        }


def current_task_group(dag: DAG | None) -> TaskGroup | None:
    for group in reversed(_Contexts.groups):
        if group.dag is dag:
            return group
    return dag.task_group if dag is not None else None


def _free_group_id(base: str) -> str:
    """`base`, or `base__1`, `base__2`... when a group factory is called again in the same parent."""
    parent = current_task_group(current_dag())
    taken = parent.children if parent else {}
    prefix = parent.child_prefix if parent else ""
    group_id, number = base, 0
    while prefix + group_id in taken:
        number += 1
        group_id = f"{base}__{number}"
    return group_id


def task_group(python_callable: Callable[..., Any] | None = None, *, group_id: str | None = None, **kwargs: Any) -> Any:
    """`@task_group`: calling the function opens a TaskGroup named after it around its body."""

    def decorate(func: Callable[..., Any]) -> Callable[..., TaskGroup]:
        @wraps(func)
        def factory(*args: Any, **call_kwargs: Any) -> TaskGroup:
            with TaskGroup(_free_group_id(group_id or func.__name__), **kwargs) as group:
                func(*args, **call_kwargs)
            return group

        return factory

    return decorate(python_callable) if python_callable is not None else decorate


__all__: Sequence[str] = ("TaskGroup", "task_group")
