"""The dependency algebra: >>, <<, chain, cross_downstream, task groups, edge labels, and the
errors a wrong graph gives (no DB)."""

from __future__ import annotations

import pytest

from flowctl import DAG, Label, TaskGroup, chain, cross_downstream, task, task_group
from flowctl.exceptions import DagCycleError, DagDefinitionError, DuplicateTaskIdError
from flowctl.operators import EmptyOperator


def tasks(*task_ids: str) -> list[EmptyOperator]:
    return [EmptyOperator(task_id=task_id) for task_id in task_ids]


def edges(dag: DAG) -> set[tuple[str, str]]:
    return set(dag.iter_dependencies())


# >> and <<


def test_rshift_makes_the_right_task_downstream_and_returns_it_for_chaining() -> None:
    with DAG("d") as dag:
        a, b, c = tasks("a", "b", "c")
        result = a >> b >> c

    assert result is c
    assert edges(dag) == {("a", "b"), ("b", "c")}
    assert b.upstream_task_ids == {"a"}
    assert b.downstream_task_ids == {"c"}


def test_lshift_makes_the_right_task_upstream() -> None:
    with DAG("d") as dag:
        a, b, c = tasks("a", "b", "c")
        c << b << a

    assert edges(dag) == {("a", "b"), ("b", "c")}


def test_list_on_the_right_of_rshift_fans_out() -> None:
    with DAG("d") as dag:
        a, b, c = tasks("a", "b", "c")
        a >> [b, c]

    assert edges(dag) == {("a", "b"), ("a", "c")}


def test_list_on_the_left_of_rshift_fans_in() -> None:
    with DAG("d") as dag:
        a, b, c = tasks("a", "b", "c")
        [a, b] >> c

    assert edges(dag) == {("a", "c"), ("b", "c")}


def test_lists_work_on_both_sides_of_lshift() -> None:
    with DAG("d") as dag:
        a, b, c, d = tasks("a", "b", "c", "d")
        a << [b, c]
        [b, c] << d

    assert edges(dag) == {("b", "a"), ("c", "a"), ("d", "b"), ("d", "c")}


def test_fan_out_then_fan_in_in_one_expression() -> None:
    with DAG("d") as dag:
        start, left, right, end = tasks("start", "left", "right", "end")
        start >> [left, right] >> end

    assert edges(dag) == {("start", "left"), ("start", "right"), ("left", "end"), ("right", "end")}


def test_set_upstream_and_set_downstream_take_a_task_or_a_list() -> None:
    with DAG("d") as dag:
        a, b, c, d = tasks("a", "b", "c", "d")
        b.set_upstream(a)
        b.set_downstream([c, d])
        a.set_downstream(d)

    assert edges(dag) == {("a", "b"), ("b", "c"), ("b", "d"), ("a", "d")}


def test_repeating_a_dependency_is_harmless() -> None:
    with DAG("d") as dag:
        a, b = tasks("a", "b")
        a >> b
        a >> b
        b << a

    assert edges(dag) == {("a", "b")}


def test_task_made_outside_a_dag_joins_the_dag_of_the_task_it_is_linked_to() -> None:
    with DAG("d") as dag:
        (a,) = tasks("a")
    (late,) = tasks("late")

    a >> late

    assert late.dag is dag
    assert edges(dag) == {("a", "late")}


def test_depending_on_something_that_is_not_a_task_is_an_error() -> None:
    with DAG("d"):
        (a,) = tasks("a")

        with pytest.raises(DagDefinitionError, match="cannot set a dependency on 'b': not a task"):
            a >> "b"


def test_tasks_of_two_dags_cannot_depend_on_each_other() -> None:
    with DAG("first"):
        (a,) = tasks("a")
    with DAG("second"):
        (b,) = tasks("b")

    with pytest.raises(DagDefinitionError, match="'a' and 'b' are in different DAGs"):
        a >> b
    assert b.upstream_task_ids == set()


def test_tasks_of_no_dag_cannot_depend_on_each_other() -> None:
    a, b = tasks("a", "b")

    with pytest.raises(DagDefinitionError, match="belong to no DAG"):
        a >> b


# chain and cross_downstream


def test_chain_links_tasks_in_sequence() -> None:
    with DAG("d") as dag:
        a, b, c = tasks("a", "b", "c")
        chain(a, b, c)

    assert edges(dag) == {("a", "b"), ("b", "c")}


def test_chain_fans_out_to_and_in_from_a_list() -> None:
    with DAG("d") as dag:
        a, b, c, d = tasks("a", "b", "c", "d")
        chain(a, [b, c], d)

    assert edges(dag) == {("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")}


def test_chain_pairs_two_adjacent_lists_one_by_one() -> None:
    with DAG("d") as dag:
        a, b, c, d, e, f = tasks("a", "b", "c", "d", "e", "f")
        chain([a, b], [c, d], (e, f))

    assert edges(dag) == {("a", "c"), ("b", "d"), ("c", "e"), ("d", "f")}


def test_chain_of_adjacent_lists_of_different_lengths_is_an_error() -> None:
    with DAG("d"):
        a, b, c = tasks("a", "b", "c")

        with pytest.raises(DagDefinitionError, match=r"same length \(2 != 1\)"):
            chain([a, b], [c])


def test_cross_downstream_links_every_pair() -> None:
    with DAG("d") as dag:
        a, b, c, d = tasks("a", "b", "c", "d")
        cross_downstream([a, b], [c, d])

    assert edges(dag) == {("a", "c"), ("a", "d"), ("b", "c"), ("b", "d")}


# task groups


def test_task_group_prefixes_the_ids_of_its_tasks() -> None:
    with DAG("d") as dag, TaskGroup("extract") as group:
        (fetch,) = tasks("fetch")

    assert fetch.task_id == "extract.fetch"
    assert fetch.task_group is group
    assert dag.task_ids == ["extract.fetch"]


def test_nested_task_groups_prefix_with_every_level() -> None:
    with DAG("d") as dag:
        with TaskGroup("outer") as outer:
            with TaskGroup("inner") as inner:
                (deep,) = tasks("deep")
            (shallow,) = tasks("shallow")
        tasks("top")

    assert inner.group_id == "outer.inner"
    assert dag.task_ids == ["outer.inner.deep", "outer.shallow", "top"]
    assert dag.task_group.to_dict() == {
        "group_id": None,
        "tooltip": "",
        "children": [
            {
                "group_id": "outer",
                "tooltip": "",
                "children": [
                    {"group_id": "outer.inner", "tooltip": "", "children": ["outer.inner.deep"]},
                    "outer.shallow",
                ],
            },
            "top",
        ],
    }
    assert outer.all_tasks() == [deep, shallow]


def test_task_group_without_prefix_keeps_task_ids() -> None:
    with DAG("d") as dag, TaskGroup("quiet", prefix_group_id=False):
        tasks("plain")

    assert dag.task_ids == ["plain"]


def test_task_group_outside_a_dag_is_an_error() -> None:
    with pytest.raises(DagDefinitionError, match="TaskGroup 'lost' is used outside a DAG"):
        TaskGroup("lost")


def test_group_upstream_of_a_task_links_the_groups_leaves() -> None:
    # Given a group a -> b with a second leaf c
    with DAG("d"):
        with TaskGroup("g") as group:
            a, b, _c = tasks("a", "b", "c")
            a >> b
        (after,) = tasks("after")

        # When the group is put upstream of a task
        result = group >> after

    # Then the task waits for the group's leaves only
    assert result is after
    assert after.upstream_task_ids == {"g.b", "g.c"}


def test_task_upstream_of_a_group_links_to_the_groups_roots() -> None:
    with DAG("d"):
        (before,) = tasks("before")
        with TaskGroup("g") as group:
            a, b, _c = tasks("a", "b", "c")
            a >> b
        before >> group

    assert before.downstream_task_ids == {"g.a", "g.c"}
    assert b.upstream_task_ids == {"g.a"}


def test_group_to_group_links_leaves_to_roots() -> None:
    with DAG("d") as dag:
        with TaskGroup("one") as one:
            first, last = tasks("first", "last")
            first >> last
        with TaskGroup("two") as two:
            tasks("only")
        one >> two

    assert ("one.last", "two.only") in edges(dag)
    assert ("one.first", "two.only") not in edges(dag)


def test_group_on_either_side_of_lshift_and_in_lists() -> None:
    with DAG("d") as dag:
        start, end = tasks("start", "end")
        with TaskGroup("g") as group:
            tasks("x")
        group << start
        [group] >> end

    assert edges(dag) == {("start", "g.x"), ("g.x", "end")}


def test_task_group_decorator_wraps_the_function_body_in_a_group_named_after_it() -> None:
    @task_group
    def extract() -> None:
        @task
        def fetch() -> int:
            return 1

        @task
        def clean(rows: int) -> int:
            return rows

        clean(fetch())

    with DAG("d") as dag:
        (start,) = tasks("start")
        group = extract()
        start >> group

    assert dag.task_ids == ["start", "extract.fetch", "extract.clean"]
    assert edges(dag) == {("start", "extract.fetch"), ("extract.fetch", "extract.clean")}


def test_task_group_decorator_accepts_a_group_id_and_arguments() -> None:
    @task_group(group_id="load", tooltip="loads things")
    def loader(table: str) -> None:
        EmptyOperator(task_id=table)

    with DAG("d") as dag:
        group = loader("users")

    assert group.tooltip == "loads things"
    assert dag.task_ids == ["load.users"]


def test_calling_a_task_group_function_twice_gets_a_suffixed_group() -> None:
    @task_group
    def extract() -> None:
        EmptyOperator(task_id="fetch")

    with DAG("d") as dag:
        extract()
        extract()

    assert dag.task_ids == ["extract.fetch", "extract__1.fetch"]


# edge labels


def test_label_between_tasks_makes_the_edge_and_names_it() -> None:
    with DAG("d") as dag:
        check, fix, report = tasks("check", "fix", "report")
        check >> Label("broken") >> fix
        check >> Label("fine") >> report

    assert edges(dag) == {("check", "fix"), ("check", "report")}
    assert dag.edge_labels == {("check", "fix"): "broken", ("check", "report"): "fine"}


def test_label_to_a_list_labels_every_edge() -> None:
    with DAG("d") as dag:
        a, b, c = tasks("a", "b", "c")
        a >> Label("both") >> [b, c]

    assert dag.edge_labels == {("a", "b"): "both", ("a", "c"): "both"}


def test_label_from_a_list_labels_every_edge() -> None:
    with DAG("d") as dag:
        a, b, c = tasks("a", "b", "c")
        [a, b] >> Label("join") >> c

    assert dag.edge_labels == {("a", "c"): "join", ("b", "c"): "join"}


# errors in the graph


def test_two_step_cycle_is_named_in_dependency_order() -> None:
    with DAG("loop") as dag:
        a, b = tasks("a", "b")
        a >> b >> a

    with pytest.raises(DagCycleError, match="DAG 'loop' has a cycle: a -> b -> a"):
        dag.topological_order()


def test_longer_cycle_is_named_without_the_tasks_leading_into_it() -> None:
    with DAG("loop") as dag:
        start, a, b, c = tasks("start", "a", "b", "c")
        start >> a >> b >> c >> a

    with pytest.raises(DagCycleError, match=r"cycle: a -> b -> c -> a$"):
        dag.topological_order()


def test_task_depending_on_itself_is_a_cycle() -> None:
    with DAG("self") as dag:
        (a,) = tasks("a")
        a >> a

    with pytest.raises(DagCycleError, match="a -> a"):
        dag.topological_order()


def test_two_tasks_with_one_id_raise_duplicate_task_id_error() -> None:
    with DAG("dup"):
        tasks("same")

        with pytest.raises(DuplicateTaskIdError, match="DAG 'dup' has two tasks with task_id 'same'"):
            tasks("same")


def test_same_id_in_different_groups_is_not_a_duplicate() -> None:
    with DAG("d") as dag:
        with TaskGroup("one"):
            tasks("fetch")
        with TaskGroup("two"):
            tasks("fetch")

    assert dag.task_ids == ["one.fetch", "two.fetch"]


def test_task_id_clashing_with_a_prefixed_id_is_a_duplicate() -> None:
    with DAG("d"):
        with TaskGroup("g"):
            tasks("x")

        with pytest.raises(DuplicateTaskIdError, match=r"'g\.x'"):
            tasks("g.x")
