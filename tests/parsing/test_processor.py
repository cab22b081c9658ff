"""The DAG processor on every backend, through `flowctl dags ...`: broken files become import errors,
changed files are re-imported, unchanged ones are not, deleted ones leave stale DAGs behind."""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from flowctl.db import models
from tests.conftest import Cli
from tests.scheduler.conftest import pid_alive, wait_until

# Short timeouts so hanging files cost seconds; enough processes that every file parses at once.
PARSE_ENV = {
    "FLOWCTL__CORE__DAGBAG_IMPORT_TIMEOUT": "3",
    "FLOWCTL__SCHEDULER__PARSING_PROCESSES": "16",
    "FLOWCTL__SCHEDULER__PARSING_MEMORY_LIMIT_MB": "1024",
}

BROKEN_FILES = {
    "syntax_error.py": (
        """
        # a dag file
        def broken(:
        """,
        "SyntaxError",
    ),
    "raises.py": (
        """
        # a dag file
        raise RuntimeError("no config for this dag")
        """,
        "RuntimeError: no config for this dag",
    ),
    "cycle.py": (
        """
        from flowctl import DAG
        from flowctl.operators import EmptyOperator

        with DAG("cycle", schedule=None):
            a = EmptyOperator(task_id="a")
            b = EmptyOperator(task_id="b")
            a >> b >> a
        """,
        "a -> b -> a",
    ),
    "duplicate_task.py": (
        """
        from flowctl import DAG
        from flowctl.operators import EmptyOperator

        with DAG("duplicate_task", schedule=None):
            EmptyOperator(task_id="same")
            EmptyOperator(task_id="same")
        """,
        "task_id 'same'",
    ),
    "bad_cron.py": (
        """
        from flowctl import DAG
        from flowctl.operators import EmptyOperator

        with DAG("bad_cron", schedule="61 * * * *"):
            EmptyOperator(task_id="a")
        """,
        "61 * * * *",
    ),
    "unknown_argument.py": (
        """
        from flowctl import DAG
        from flowctl.operators import EmptyOperator

        with DAG("unknown_argument", schedule=None):
            EmptyOperator(task_id="extract", no_such_argument=1)
        """,
        "(task_id: extract): no_such_argument",
    ),
    "bad_dag_id.py": (
        """
        from flowctl import DAG

        DAG("has space", schedule=None)
        """,
        "'has space'",
    ),
    "busy_loop.py": (
        """
        # a dag file
        while True:
            pass
        """,
        "timed out after 3s",
    ),
    "sleeps.py": (
        """
        # a dag file
        import time

        time.sleep(10**6)
        """,
        "timed out after 3s",
    ),
    "exits.py": (
        """
        # a dag file
        import os

        os._exit(1)
        """,
        "exited with code 1",
    ),
    "huge_allocation.py": (
        """
        # a dag file
        x = bytearray(10**11)
        """,
        "MemoryError",
    ),
}


@pytest.fixture
def flowctl(cli_db: Cli) -> Cli:
    cli_db.env.update(PARSE_ENV)
    return cli_db


@pytest.fixture
def dags_folder(home: Path) -> Path:
    folder = home / "dags"
    folder.mkdir(exist_ok=True)
    return folder


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def write_dag(folder: Path, name: str, dag_id: str, *task_ids: str, prelude: str = "") -> Path:
    """A DAG file defining `dag_id` with a chain of EmptyOperators."""
    tasks = task_ids or ("only",)
    chain = " >> ".join(f'EmptyOperator(task_id="{task_id}")' for task_id in tasks)
    source = (
        "from flowctl import DAG\n"
        "from flowctl.operators import EmptyOperator\n"
        f"{textwrap.dedent(prelude)}\n"
        f'with DAG("{dag_id}", schedule=None):\n'
        f"    {chain}\n"
    )
    path = folder / name
    path.write_text(source)
    return path


def run_json(cli: Cli, *args: str) -> Any:
    result = cli(*args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def listed_dag_ids(cli: Cli) -> list[str]:
    return [row["dag_id"] for row in run_json(cli, "dags", "list")]


def import_errors(cli: Cli) -> dict[str, str]:
    """File name (not path) -> error text."""
    return {Path(row["filename"]).name: row["error"] for row in run_json(cli, "dags", "list-import-errors")}


def count_rows(session_factory: sessionmaker[Session], model: type[models.Base], **where: Any) -> int:
    query = select(func.count()).select_from(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    with session_factory() as session:
        return session.scalar(query) or 0


def test_each_broken_file_becomes_one_import_error_naming_its_reason_and_the_healthy_dag_is_listed(
    flowctl: Cli, dags_folder: Path
) -> None:
    # Given a healthy DAG file among files broken in every way we promise to survive
    write_dag(dags_folder, "healthy.py", "healthy", "a", "b")
    for name, (source, _) in BROKEN_FILES.items():
        write(dags_folder, name, source)

    # When the folder is parsed
    result = flowctl("dags", "reserialize")

    # Then the command succeeds, only the healthy DAG exists, and each broken file has its reason
    assert result.exit_code == 0, result.stderr
    assert listed_dag_ids(flowctl) == ["healthy"]
    rows = run_json(flowctl, "dags", "list-import-errors")
    assert sorted(row["filename"] for row in rows) == sorted(str(dags_folder / name) for name in BROKEN_FILES)
    errors = {Path(row["filename"]).name: row["error"] for row in rows}
    for name, (_, reason) in BROKEN_FILES.items():
        assert reason in errors[name], f"{name}: {errors[name]}"


def test_import_error_rows_name_the_full_path_of_the_broken_file(flowctl: Cli, dags_folder: Path) -> None:
    broken = write(dags_folder, "broken.py", BROKEN_FILES["raises.py"][0])

    rows = run_json(flowctl, "dags", "list-import-errors")

    assert [row["filename"] for row in rows] == [str(broken)]


def test_fixing_a_broken_file_clears_its_import_error_on_the_next_dags_list(flowctl: Cli, dags_folder: Path) -> None:
    # Given a file that failed to import
    write(dags_folder, "report.py", BROKEN_FILES["cycle.py"][0])
    assert list(import_errors(flowctl)) == ["report.py"]

    # When it is rewritten as a valid DAG and DAGs are listed
    write_dag(dags_folder, "report.py", "report", "a", "b")
    dag_ids = listed_dag_ids(flowctl)

    # Then its DAG appears and the error is gone
    assert dag_ids == ["report"]
    assert import_errors(flowctl) == {}


def test_a_file_that_breaks_keeps_its_dag_listed_and_shows_the_import_error(flowctl: Cli, dags_folder: Path) -> None:
    write_dag(dags_folder, "report.py", "report")
    assert listed_dag_ids(flowctl) == ["report"]

    write(dags_folder, "report.py", BROKEN_FILES["raises.py"][0])

    assert listed_dag_ids(flowctl) == ["report"]
    assert list(import_errors(flowctl)) == ["report.py"]


def test_a_new_file_is_picked_up_by_the_next_dags_list(flowctl: Cli, dags_folder: Path) -> None:
    write_dag(dags_folder, "first.py", "first")
    assert listed_dag_ids(flowctl) == ["first"]

    write_dag(dags_folder, "second.py", "second")

    assert listed_dag_ids(flowctl) == ["first", "second"]


def test_a_dag_in_a_subfolder_is_found(flowctl: Cli, dags_folder: Path) -> None:
    (dags_folder / "team_a").mkdir()
    write_dag(dags_folder / "team_a", "nested.py", "nested")

    assert listed_dag_ids(flowctl) == ["nested"]


def test_deleting_a_dag_file_makes_its_dag_stale_but_keeps_its_row(
    flowctl: Cli, dags_folder: Path, session_factory: sessionmaker[Session]
) -> None:
    # Given two listed DAGs
    doomed = write_dag(dags_folder, "doomed.py", "doomed")
    write_dag(dags_folder, "kept.py", "kept")
    assert listed_dag_ids(flowctl) == ["doomed", "kept"]

    # When one file is deleted
    doomed.unlink()

    # Then its DAG is no longer listed, but its row stays, marked stale
    assert listed_dag_ids(flowctl) == ["kept"]
    with session_factory() as session:
        stale = {dag.dag_id: dag.is_stale for dag in session.scalars(select(models.Dag))}
    assert stale == {"doomed": True, "kept": False}


def test_deleting_a_broken_file_removes_its_import_error(flowctl: Cli, dags_folder: Path) -> None:
    broken = write(dags_folder, "broken.py", BROKEN_FILES["raises.py"][0])
    assert list(import_errors(flowctl)) == ["broken.py"]

    broken.unlink()

    assert import_errors(flowctl) == {}


def test_restoring_a_deleted_file_makes_its_dag_live_again(flowctl: Cli, dags_folder: Path) -> None:
    path = write_dag(dags_folder, "comeback.py", "comeback")
    assert listed_dag_ids(flowctl) == ["comeback"]
    path.unlink()
    assert listed_dag_ids(flowctl) == []

    write_dag(dags_folder, "comeback.py", "comeback")

    assert listed_dag_ids(flowctl) == ["comeback"]


def test_a_dag_removed_from_a_file_that_still_exists_becomes_stale(flowctl: Cli, dags_folder: Path) -> None:
    write_dag(dags_folder, "team.py", "old_name")
    assert listed_dag_ids(flowctl) == ["old_name"]

    write_dag(dags_folder, "team.py", "new_name")

    assert listed_dag_ids(flowctl) == ["new_name"]


def test_a_file_whose_content_did_not_change_is_not_imported_again(flowctl: Cli, dags_folder: Path, home: Path) -> None:
    # Given a DAG file that appends a line to a side file each time it is imported
    imports_log = home / "imports.log"
    write_dag(
        dags_folder,
        "counted.py",
        "counted",
        prelude=f"""
        with open({str(imports_log)!r}, "a") as log:
            log.write("imported\\n")
        """,
    )
    assert listed_dag_ids(flowctl) == ["counted"]

    # When commands that list DAGs run again on the unchanged folder
    listed_dag_ids(flowctl)
    import_errors(flowctl)

    # Then the file was imported only once
    assert imports_log.read_text().splitlines() == ["imported"]


def test_reserialize_imports_every_file_again_even_if_unchanged(flowctl: Cli, dags_folder: Path, home: Path) -> None:
    imports_log = home / "imports.log"
    write_dag(
        dags_folder,
        "counted.py",
        "counted",
        prelude=f"""
        with open({str(imports_log)!r}, "a") as log:
            log.write("imported\\n")
        """,
    )
    assert listed_dag_ids(flowctl) == ["counted"]

    assert flowctl("dags", "reserialize").exit_code == 0

    assert imports_log.read_text().splitlines() == ["imported", "imported"]


def test_an_unchanged_file_keeps_its_last_parsed_time(
    flowctl: Cli, dags_folder: Path, session_factory: sessionmaker[Session]
) -> None:
    write_dag(dags_folder, "steady.py", "steady")
    listed_dag_ids(flowctl)
    with session_factory() as session:
        first_parse = session.scalar(select(models.DagFile.last_parsed_at))

    listed_dag_ids(flowctl)

    with session_factory() as session:
        assert session.scalar(select(models.DagFile.last_parsed_at)) == first_parse


def test_the_same_dag_id_in_two_files_is_an_import_error_of_one_naming_the_other(
    flowctl: Cli, dags_folder: Path
) -> None:
    # Given two files that define the same DAG id
    first = write_dag(dags_folder, "a_first.py", "shared")
    write_dag(dags_folder, "b_second.py", "shared")

    # When DAGs are listed
    rows = run_json(flowctl, "dags", "list")

    # Then the DAG is listed once, from one file, and the other file's error names that file
    assert [(row["dag_id"], row["fileloc"]) for row in rows] == [("shared", str(first))]
    errors = import_errors(flowctl)
    assert list(errors) == ["b_second.py"]
    assert "'shared'" in errors["b_second.py"] and str(first) in errors["b_second.py"]


def test_a_dag_file_printing_at_import_does_not_corrupt_json_output(flowctl: Cli, dags_folder: Path) -> None:
    write_dag(
        dags_folder,
        "chatty.py",
        "chatty",
        prelude="""
        import sys

        print("hello from the dag file")
        print("and to stderr", file=sys.stderr)
        """,
    )

    result = flowctl("dags", "list", "-o", "json")

    assert result.exit_code == 0, result.stderr
    assert [row["dag_id"] for row in json.loads(result.stdout)] == ["chatty"]
    assert "hello from the dag file" not in result.stdout


def test_a_python_file_that_never_mentions_dags_is_not_imported(
    flowctl: Cli, dags_folder: Path, session_factory: sessionmaker[Session]
) -> None:
    # Given a helper module that would fail loudly if it were executed
    write(
        dags_folder,
        "helpers.py",
        """
        raise RuntimeError("helper executed")
        """,
    )
    write_dag(dags_folder, "pipeline.py", "pipeline")

    # When the folder is parsed
    assert flowctl("dags", "reserialize").exit_code == 0

    # Then only the DAG file was imported
    assert import_errors(flowctl) == {}
    with session_factory() as session:
        parsed = [Path(path).name for path in session.scalars(select(models.DagFile.fileloc))]
    assert parsed == ["pipeline.py"]


def test_a_changed_dag_structure_stores_a_new_version_and_an_unchanged_reparse_does_not(
    flowctl: Cli, dags_folder: Path, session_factory: sessionmaker[Session]
) -> None:
    # Given a DAG parsed once
    write_dag(dags_folder, "versioned.py", "versioned", "a")
    listed_dag_ids(flowctl)
    assert count_rows(session_factory, models.SerializedDag, dag_id="versioned") == 1

    # When it is parsed again unchanged, and after an edit that does not change its structure
    assert flowctl("dags", "reserialize").exit_code == 0
    write_dag(dags_folder, "versioned.py", "versioned", "a", prelude="# only a comment changed")
    listed_dag_ids(flowctl)

    # Then there is still one version
    assert count_rows(session_factory, models.SerializedDag, dag_id="versioned") == 1

    # When a task is added
    write_dag(dags_folder, "versioned.py", "versioned", "a", "b")
    listed_dag_ids(flowctl)

    # Then a second version exists and the DAG points at it
    assert count_rows(session_factory, models.SerializedDag, dag_id="versioned") == 2
    with session_factory() as session:
        latest = session.scalar(select(func.max(models.SerializedDag.id)))
        assert session.get(models.Dag, "versioned").latest_version_id == latest  # type: ignore[union-attr]
    tasks = flowctl("tasks", "list", "versioned")
    assert tasks.stdout.split() == ["a", "b"]


def test_going_back_to_an_earlier_structure_reuses_its_version(
    flowctl: Cli, dags_folder: Path, session_factory: sessionmaker[Session]
) -> None:
    write_dag(dags_folder, "flip.py", "flip", "a")
    listed_dag_ids(flowctl)
    with session_factory() as session:
        first_version = session.get(models.Dag, "flip").latest_version_id  # type: ignore[union-attr]
    write_dag(dags_folder, "flip.py", "flip", "a", "b")
    listed_dag_ids(flowctl)

    write_dag(dags_folder, "flip.py", "flip", "a")
    listed_dag_ids(flowctl)

    assert count_rows(session_factory, models.SerializedDag, dag_id="flip") == 2
    with session_factory() as session:
        assert session.get(models.Dag, "flip").latest_version_id == first_version  # type: ignore[union-attr]


def test_renaming_a_dag_file_keeps_its_dag_listed_from_the_new_file(flowctl: Cli, dags_folder: Path) -> None:
    # Given a DAG parsed from one file
    old = write_dag(dags_folder, "old_name.py", "moving")
    assert listed_dag_ids(flowctl) == ["moving"]

    # When the file is renamed
    new = old.rename(dags_folder / "new_name.py")

    # Then the DAG is still listed, now from the new file, and nothing is an import error
    rows = run_json(flowctl, "dags", "list")
    assert [(row["dag_id"], row["fileloc"]) for row in rows] == [("moving", str(new))]
    assert import_errors(flowctl) == {}


def test_deleting_the_file_that_owned_a_duplicated_dag_id_lets_the_other_file_define_it(
    flowctl: Cli, dags_folder: Path
) -> None:
    # Given two files defining the same DAG id, the second one an import error
    first = write_dag(dags_folder, "a_first.py", "shared")
    second = write_dag(dags_folder, "b_second.py", "shared")
    assert list(import_errors(flowctl)) == ["b_second.py"]

    # When the file that won is deleted
    first.unlink()

    # Then the other file defines the DAG and has no error left
    rows = run_json(flowctl, "dags", "list")
    assert [(row["dag_id"], row["fileloc"]) for row in rows] == [("shared", str(second))]
    assert import_errors(flowctl) == {}


def test_a_dag_file_can_import_a_helper_module_from_the_dags_folder(flowctl: Cli, dags_folder: Path) -> None:
    write(dags_folder, "team_settings.py", 'OWNER = "analytics"\n')
    write_dag(dags_folder, "uses_helper.py", "uses_helper", prelude="from team_settings import OWNER\n")

    assert listed_dag_ids(flowctl) == ["uses_helper"]
    assert import_errors(flowctl) == {}


def test_a_symlink_loop_in_the_dags_folder_does_not_parse_files_repeatedly(flowctl: Cli, dags_folder: Path) -> None:
    write_dag(dags_folder, "pipeline.py", "pipeline")
    (dags_folder / "loop").symlink_to(dags_folder, target_is_directory=True)

    assert listed_dag_ids(flowctl) == ["pipeline"]
    assert import_errors(flowctl) == {}


def test_fixing_a_helper_module_clears_the_import_error_of_the_dag_file_that_imports_it(
    flowctl: Cli, dags_folder: Path
) -> None:
    # Given: a DAG file whose helper module is broken (a module name of its own: earlier tests' dags
    # folders stay on this process's sys.path)
    helper = f"fragile_settings_{uuid.uuid4().hex[:8]}"
    write(dags_folder, f"{helper}.py", 'raise RuntimeError("team settings are broken")\n')
    write_dag(dags_folder, "uses_helper.py", "uses_helper", prelude=f"from {helper} import OWNER\n")
    assert "team settings are broken" in import_errors(flowctl)["uses_helper.py"]

    # When: only the helper is fixed
    write(dags_folder, f"{helper}.py", 'OWNER = "analytics"\n')

    # Then: the DAG file is parsed again
    assert import_errors(flowctl) == {}
    assert listed_dag_ids(flowctl) == ["uses_helper"]


def test_a_changed_helper_module_stores_the_new_shape_of_the_dag_that_imports_it(
    flowctl: Cli, dags_folder: Path
) -> None:
    helper = f"shape_{uuid.uuid4().hex[:8]}"
    write(dags_folder, f"{helper}.py", 'TASKS = ["extract"]\n')
    prelude = f"from {helper} import TASKS\n"
    source = (
        "from flowctl import DAG\nfrom flowctl.operators import EmptyOperator\n"
        f'{prelude}with DAG("shaped", schedule=None):\n    [EmptyOperator(task_id=t) for t in TASKS]\n'
    )
    write(dags_folder, "shaped.py", source)
    assert flowctl("tasks", "list", "shaped").stdout.split() == ["extract"]

    write(dags_folder, f"{helper}.py", 'TASKS = ["extract", "load"]\n')

    assert flowctl("tasks", "list", "shaped").stdout.split() == ["extract", "load"]


def test_what_a_dag_file_starts_while_it_is_imported_is_stopped_with_its_parse(
    flowctl: Cli, dags_folder: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    prelude = f"""
        import pathlib, subprocess
        pathlib.Path({str(pid_file)!r}).write_text(str(subprocess.Popen(["sleep", "60"]).pid))
    """
    write_dag(dags_folder, "forks.py", "forks", prelude=prelude)

    assert listed_dag_ids(flowctl) == ["forks"]

    child = int(pid_file.read_text())
    wait_until(lambda: not pid_alive(child), timeout=10, what="the process the DAG file started to end")


def test_commands_about_a_known_dag_do_not_wait_for_a_new_file_that_hangs(flowctl: Cli, dags_folder: Path) -> None:
    # Given: a parsed DAG, then a new file that hangs for the whole import timeout (3 s)
    write_dag(dags_folder, "pipeline.py", "pipeline", "a", "b")
    assert listed_dag_ids(flowctl) == ["pipeline"]
    write(dags_folder, "hangs.py", "# a dag file\nimport time\ntime.sleep(60)\n")

    # When / Then: trigger, pause and tasks list answer without parsing it
    for args in (("dags", "trigger", "pipeline"), ("dags", "unpause", "pipeline"), ("tasks", "list", "pipeline")):
        started = time.monotonic()
        assert flowctl(*args).exit_code == 0
        assert time.monotonic() - started < 2.5, f"flowctl {' '.join(args)} waited for the hanging file"

    # ...while listing every DAG still parses it, and names it
    assert "timed out" in import_errors(flowctl)["hangs.py"]
