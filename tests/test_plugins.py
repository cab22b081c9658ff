"""Plugins (SPEC §3): packages that declare a `flowctl.plugins` entry point are found, listed by
`flowctl plugins`, give DAG files their classes and templates their macros; a broken one is reported in
one line and breaks nothing else.

The worked example, flowctl-movielens (tests/fixtures/flowctl_movielens), is pip-installed by the test
extra. Broken plugins are made here as real distributions: a `*.dist-info` folder with an
`entry_points.txt` next to their modules, on a folder put on the path — what pip leaves behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from flowctl import DAG
from flowctl import plugins as plugin_registry
from flowctl.exceptions import TemplateRenderError
from flowctl.templating import make_environment, make_macros, render_template
from tests.conftest import Cli

try:
    MOVIELENS_VERSION = metadata.version("flowctl-movielens")
except metadata.PackageNotFoundError:
    pytest.skip(
        "the plugin fixture package flowctl-movielens is not installed: run `pip install -e '.[test]'` "
        "(or `pip install ./tests/fixtures/flowctl_movielens`)",
        allow_module_level=True,
    )

FLOWCTL = [sys.executable, "-m", "flowctl"]


def add_distribution(site: Path, name: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    """An installed distribution `name` 1.0 in folder `site`: its modules, and its metadata declaring
    `entry_points` in the flowctl.plugins group."""
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "".join(f"{key} = {value}\n" for key, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[flowctl.plugins]\n{lines}")


@pytest.fixture
def broken_site(tmp_path: Path) -> Path:
    """A folder holding three broken plugin packages: one whose import fails, one whose entry point
    names nothing, one whose plugin object breaks the contract."""
    site = tmp_path / "site"
    site.mkdir()
    add_distribution(
        site,
        "flowctl-broken-import",
        {"broken_import": "broken_import_plugin:Plugin"},
        {"broken_import_plugin": "import a_module_that_is_not_installed\n"},
    )
    add_distribution(site, "flowctl-missing", {"missing": "missing_plugin:NoSuchPlugin"}, {"missing_plugin": ""})
    add_distribution(
        site,
        "flowctl-bad-contract",
        {"bad_contract": "bad_contract_plugin:Plugin"},
        {"bad_contract_plugin": "class Plugin:\n    name = 'bad contract'\n"},
    )
    return site


@pytest.fixture
def with_broken_plugins(broken_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(broken_site))
    plugin_registry.installed.cache_clear()
    yield broken_site
    plugin_registry.installed.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    plugin_registry.installed.cache_clear()
    yield
    plugin_registry.installed.cache_clear()


def run_flowctl(*args: str, home: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWCTL_")}
    env.update(FLOWCTL_HOME=str(home), FLOWCTL__CORE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'flowctl.db'}")
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
    return subprocess.run([*FLOWCTL, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


# discovery


def test_the_installed_example_plugin_is_found_with_its_components_and_its_package() -> None:
    from flowctl_movielens.hooks import MovielensHook
    from flowctl_movielens.macros import ratings_file_name
    from flowctl_movielens.operators import MovielensFetchRatingsOperator
    from flowctl_movielens.sensors import MovielensRatingsSensor

    report = plugin_registry.discover()

    movielens = {plugin.name: plugin for plugin in report.plugins}["movielens"]
    assert (movielens.package, movielens.version) == ("flowctl-movielens", MOVIELENS_VERSION)
    assert movielens.entry_point == "flowctl_movielens.plugin:MovielensPlugin"
    assert movielens.operators == (MovielensFetchRatingsOperator,)
    assert movielens.hooks == (MovielensHook,)
    assert movielens.sensors == (MovielensRatingsSensor,)
    assert dict(movielens.macros) == {"ratings_file_name": ratings_file_name}
    assert report.broken == ()


def test_a_dag_file_may_import_plugin_classes_from_flowctl_plugins() -> None:
    from flowctl_movielens.operators import MovielensFetchRatingsOperator

    from flowctl.plugins import movielens

    assert movielens.MovielensFetchRatingsOperator is MovielensFetchRatingsOperator
    assert movielens.ratings_file_name("2024-01-01", "2024-01-02") == "ratings_2024-01-01_2024-01-02.json"
    with pytest.raises(ImportError, match="cannot import name 'nothing_here'"):
        from flowctl.plugins import nothing_here  # noqa: F401


def test_nothing_is_loaded_before_plugins_are_asked_for() -> None:
    probe = (
        "import sys\n"
        "import flowctl, flowctl.templating, flowctl.operators, flowctl.sensors\n"
        "print('flowctl_movielens' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "False"


# macros in templates


def test_plugin_macros_are_reached_as_macros_plugin_name_function() -> None:
    dag = DAG("templated", schedule=None)
    context = {"ds": "2024-03-01", "macros": make_macros(dag.user_defined_macros)}

    rendered = render_template(
        "{{ macros.movielens.ratings_file_name(ds, macros.ds_add(ds, 1)) }}", context, make_environment(dag)
    )

    assert rendered == "ratings_2024-03-01_2024-03-02.json"


def test_an_unknown_macro_namespace_is_a_render_error_that_names_it() -> None:
    dag = DAG("templated", schedule=None)
    context = {"macros": make_macros({})}

    with pytest.raises(TemplateRenderError, match="'no_such_plugin'"):
        render_template("{{ macros.no_such_plugin.anything() }}", context, make_environment(dag))


def test_a_dags_own_macro_wins_over_a_plugin_of_the_same_name() -> None:
    macros = make_macros({"movielens": "the DAG's own"})

    assert macros.movielens == "the DAG's own"


# broken plugins


def test_a_broken_plugin_is_reported_in_one_line_and_the_others_still_load(
    with_broken_plugins: Path, caplog: pytest.LogCaptureFixture
) -> None:
    report = plugin_registry.installed()
    plugin_registry.installed()  # loaded once per process: reported once

    assert [plugin.name for plugin in report.plugins] == ["movielens"]
    broken = {item.name: item for item in report.broken}
    assert sorted(broken) == ["bad_contract", "broken_import", "missing"]
    assert broken["broken_import"].error == "ModuleNotFoundError: No module named 'a_module_that_is_not_installed'"
    assert broken["broken_import"].package == "flowctl-broken-import" and broken["broken_import"].version == "1.0"
    assert broken["missing"].error.startswith("AttributeError:")
    assert broken["bad_contract"].error == "PluginError: its `name` must be a Python identifier, got 'bad contract'"
    assert all("\n" not in item.error for item in report.broken)
    warnings = [record.getMessage() for record in caplog.records if record.name == "flowctl.plugins"]
    assert len(warnings) == 3
    assert (
        "plugin 'broken_import' (broken_import_plugin:Plugin) could not be loaded: ModuleNotFoundError" in warnings[1]
    )


def test_flowctl_plugins_lists_each_plugin_as_a_table_or_json(home: Path) -> None:
    cli = Cli(home, None)

    table = cli("plugins")
    as_json = cli("plugins", "-o", "json")

    assert table.exit_code == 0, table
    header, _, row = table.stdout.splitlines()
    assert [cell.strip() for cell in header.split(" | ")][:4] == ["name", "package", "version", "operators"]
    assert [cell.strip() for cell in row.split(" | ")][:3] == ["movielens", "flowctl-movielens", MOVIELENS_VERSION]
    assert "MovielensFetchRatingsOperator" in row and "ratings_file_name" in row
    assert as_json.exit_code == 0, as_json
    assert json.loads(as_json.stdout) == [
        {
            "name": "movielens",
            "package": "flowctl-movielens",
            "version": MOVIELENS_VERSION,
            "operators": ["MovielensFetchRatingsOperator"],
            "hooks": ["MovielensHook"],
            "sensors": ["MovielensRatingsSensor"],
            "macros": ["ratings_file_name"],
            "entry_point": "flowctl_movielens.plugin:MovielensPlugin",
            "error": None,
        }
    ]


def test_flowctl_plugins_reports_a_broken_plugin_on_stderr_and_in_its_listing(
    tmp_path: Path, broken_site: Path
) -> None:
    result = run_flowctl("plugins", "-o", "json", home=tmp_path / "home", extra_path=broken_site)

    assert result.returncode == 0, result.stderr
    listed = {row["name"]: row for row in json.loads(result.stdout)}
    assert listed["movielens"]["error"] is None
    assert listed["broken_import"]["error"] == ("ModuleNotFoundError: No module named 'a_module_that_is_not_installed'")
    assert listed["broken_import"]["package"] == "flowctl-broken-import"
    warnings = result.stderr.splitlines()
    assert len(warnings) == 3 and all(line.startswith("Warning: plugin ") for line in warnings)
    assert "Traceback" not in result.stderr


def test_a_broken_plugin_never_breaks_parsing_a_dag_that_uses_another_plugin(tmp_path: Path, broken_site: Path) -> None:
    # Given: a DAG file that takes a plugin's operator through flowctl.plugins and a plugin macro
    home = tmp_path / "home"
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "ratings.py").write_text(
        textwrap.dedent(
            """
            from flowctl import DAG
            from flowctl.plugins import movielens

            with DAG("ratings", schedule=None):
                movielens.MovielensFetchRatingsOperator(
                    task_id="fetch",
                    conn_id="movielens",
                    output_path="/tmp/{{ macros.movielens.ratings_file_name(ds, ds) }}",
                )
            """
        )
    )

    # When
    assert run_flowctl("db", "init", home=home).returncode == 0
    parsed = run_flowctl("dags", "reserialize", home=home, extra_path=broken_site)
    errors = run_flowctl("dags", "list-import-errors", "-o", "json", home=home, extra_path=broken_site)
    listed = run_flowctl("dags", "list", "-o", "json", home=home)

    # Then
    assert parsed.returncode == 0, parsed.stderr
    assert json.loads(errors.stdout) == []
    assert [dag["dag_id"] for dag in json.loads(listed.stdout)] == ["ratings"]
