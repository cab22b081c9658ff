"""`flowctl pools ...` on every backend: the default pool, set/list/delete, and slot usage."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from flowctl.db import models
from flowctl.state import RunState, RunType, TaskState
from tests.conftest import Cli, one_line_error

COLUMNS = ["pool", "slots", "occupied_slots", "running_slots", "queued_slots", "open_slots", "description"]
START = datetime(2024, 1, 1, tzinfo=UTC)


def _pools(cli: Cli) -> dict[str, dict[str, object]]:
    result = cli("pools", "list", "-o", "json")
    assert result.exit_code == 0, result.stderr
    return {row["pool"]: row for row in json.loads(result.stdout)}


def _pool_count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(models.Pool)) or 0


def _add_task_instances(session_factory: sessionmaker[Session], *states_pools_slots: tuple[str, str, int]) -> None:
    """One DAG run holding a task instance per (state, pool, pool_slots)."""
    with session_factory.begin() as session:
        session.add(models.Dag(dag_id="etl", fileloc="/dags/etl.py", max_active_runs=1, max_active_tasks=16))
        session.flush()
        session.add(
            models.DagRun(
                dag_id="etl",
                run_id="manual_1",
                run_type=RunType.MANUAL,
                state=RunState.RUNNING,
                logical_date=START,
            )
        )
        session.flush()
        session.add_all(
            models.TaskInstance(
                dag_id="etl",
                run_id="manual_1",
                task_id=f"task_{number}",
                state=state,
                pool=pool,
                pool_slots=slots,
            )
            for number, (state, pool, slots) in enumerate(states_pools_slots)
        )


def test_db_init_creates_the_default_pool_with_128_slots(cli_db: Cli) -> None:
    assert _pools(cli_db) == {
        "default_pool": {
            "pool": "default_pool",
            "slots": 128,
            "occupied_slots": 0,
            "running_slots": 0,
            "queued_slots": 0,
            "open_slots": 128,
            "description": "Default pool",
        }
    }


def test_set_creates_a_pool_listed_with_the_spec_columns_in_order(cli_db: Cli) -> None:
    result = cli_db("pools", "set", "etl", "5", "Nightly loads")

    assert result.exit_code == 0, result.stderr
    rows = json.loads(cli_db("pools", "list", "-o", "json").stdout)
    assert all(list(row) == COLUMNS for row in rows)
    assert _pools(cli_db)["etl"] == {
        "pool": "etl",
        "slots": 5,
        "occupied_slots": 0,
        "running_slots": 0,
        "queued_slots": 0,
        "open_slots": 5,
        "description": "Nightly loads",
    }


def test_list_table_and_plain_show_each_pool(cli_db: Cli) -> None:
    cli_db("pools", "set", "etl", "5", "Nightly loads")

    table = cli_db("pools", "list")
    plain = cli_db("pools", "list", "-o", "plain")

    assert table.stdout.splitlines()[0].split(" | ")[0].strip() == "pool"
    assert "Nightly loads" in table.stdout
    assert "etl\t5\t0\t0\t0\t5\tNightly loads" in plain.stdout.splitlines()


def test_set_of_an_existing_pool_changes_its_slots_and_description(
    cli_db: Cli, session_factory: sessionmaker[Session]
) -> None:
    cli_db("pools", "set", "etl", "5", "Nightly loads")

    result = cli_db("pools", "set", "etl", "8", "Nightly and hourly loads")

    assert result.exit_code == 0, result.stderr
    etl = _pools(cli_db)["etl"]
    assert (etl["slots"], etl["description"]) == (8, "Nightly and hourly loads")
    assert _pool_count(session_factory) == 2


def test_default_pool_slots_can_be_changed(cli_db: Cli) -> None:
    assert cli_db("pools", "set", "default_pool", "16", "Default pool").exit_code == 0

    assert _pools(cli_db)["default_pool"]["slots"] == 16


def test_pool_names_are_case_sensitive(cli_db: Cli) -> None:
    cli_db("pools", "set", "ETL", "3", "upper")

    cli_db("pools", "set", "etl", "5", "lower")

    pools = _pools(cli_db)
    assert (pools["ETL"]["slots"], pools["etl"]["slots"]) == (3, 5)


def test_delete_removes_the_pool(cli_db: Cli, session_factory: sessionmaker[Session]) -> None:
    cli_db("pools", "set", "etl", "5", "Nightly loads")

    result = cli_db("pools", "delete", "etl")

    assert result.exit_code == 0, result.stderr
    assert list(_pools(cli_db)) == ["default_pool"]


def test_delete_of_an_unknown_pool_fails(cli_db: Cli) -> None:
    assert "nope" in one_line_error(cli_db("pools", "delete", "nope"))


def test_default_pool_cannot_be_deleted(cli_db: Cli) -> None:
    result = cli_db("pools", "delete", "default_pool")

    assert "default_pool" in one_line_error(result)
    assert _pools(cli_db)["default_pool"]["slots"] == 128


def test_negative_slots_fail_and_write_nothing(cli_db: Cli, session_factory: sessionmaker[Session]) -> None:
    result = cli_db("pools", "set", "etl", "-1", "Nightly loads")

    assert "negative" in one_line_error(result)
    assert _pool_count(session_factory) == 1


@pytest.mark.parametrize("slots", ["abc", "1.5", ""])
def test_non_integer_slots_are_a_usage_error(cli_db: Cli, session_factory: sessionmaker[Session], slots: str) -> None:
    result = cli_db("pools", "set", "etl", slots, "Nightly loads")

    assert result.exit_code == 2
    assert "SLOTS" in result.stderr
    assert _pool_count(session_factory) == 1


def test_missing_description_is_a_usage_error(cli_db: Cli) -> None:
    assert cli_db("pools", "set", "etl", "5").exit_code == 2


def test_slot_usage_counts_running_and_queued_task_instances(
    cli_db: Cli, session_factory: sessionmaker[Session]
) -> None:
    # Given a pool of 10 slots, and task instances in it and in the default pool
    cli_db("pools", "set", "etl", "10", "Nightly loads")
    _add_task_instances(
        session_factory,
        (TaskState.RUNNING, "etl", 1),
        (TaskState.RUNNING, "etl", 2),
        (TaskState.QUEUED, "etl", 1),
        (TaskState.SUCCESS, "etl", 4),
        (TaskState.SCHEDULED, "etl", 1),
        (TaskState.UP_FOR_RETRY, "etl", 1),
        (TaskState.QUEUED, "default_pool", 3),
    )

    # When the pools are listed
    pools = _pools(cli_db)

    # Then only running and queued instances hold slots, by their pool_slots
    usage = ["running_slots", "queued_slots", "occupied_slots", "open_slots"]
    assert [pools["etl"][column] for column in usage] == [3, 1, 4, 6]
    assert [pools["default_pool"][column] for column in usage] == [0, 3, 3, 125]
