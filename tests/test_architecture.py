"""The layout rules of ARCHITECTURE.md, checked on the source: who may import whom, and a fast CLI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "flowctl"
ADAPTERS = ("db", "parsing", "scheduler", "executors", "services", "web", "cli")
CORE_MODULES = (
    "dag_definition",
    "baseoperator",
    "taskflow",
    "params",
    "templating",
    "serialization",
    "schedule",
    "cron",
    "state",
    "planning",
    "trigger_rules",
    "config",
    "exceptions",
    "connection",
    "roles",
    "connection_types",
)
HEAVY_THIRD_PARTY = ("sqlalchemy", "flask", "alembic", "werkzeug", "waitress")


def _module_imports(path: Path, *, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules_in(subpackage: str) -> list[Path]:
    return sorted((PACKAGE / subpackage).rglob("*.py"))


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_no_adapter_and_no_io_library(module: str) -> None:
    path = PACKAGE / f"{module}.py"
    if not path.exists():
        pytest.skip(f"flowctl/{module}.py is not written yet")

    imported = _module_imports(path, top_level_only=False)

    bad = {
        name
        for name in imported
        if name.split(".")[0] in HEAVY_THIRD_PARTY
        or any(name == f"flowctl.{a}" or name.startswith(f"flowctl.{a}.") for a in ADAPTERS)
    }
    assert not bad, f"flowctl/{module}.py is pure core but imports {sorted(bad)}"


def test_web_never_imports_scheduler_executors_or_parsing() -> None:
    for path in _modules_in("web"):
        imported = _module_imports(path, top_level_only=False)
        bad = {n for n in imported if n.startswith(("flowctl.scheduler", "flowctl.executors", "flowctl.parsing"))}
        assert not bad, f"{path} imports {sorted(bad)}"


def test_lower_layers_never_import_cli_or_web() -> None:
    for subpackage in ("db", "services", "parsing", "scheduler", "executors"):
        for path in _modules_in(subpackage):
            imported = _module_imports(path, top_level_only=False)
            bad = {n for n in imported if n.startswith(("flowctl.cli", "flowctl.web"))}
            assert not bad, f"{path} imports {sorted(bad)}"


def test_no_grab_bag_modules() -> None:
    grab_bags = [p for p in PACKAGE.rglob("*.py") if p.stem in ("utils", "helpers", "misc", "common")]
    assert grab_bags == []


@pytest.mark.parametrize("argv", [["--help"], ["version"]])
def test_fast_commands_import_neither_sqlalchemy_nor_flask(argv: list[str]) -> None:
    probe = (
        "import sys\n"
        "from flowctl.cli.main import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'flask', 'alembic'))\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert result.stdout.strip().splitlines()[-1] == "HEAVY="
