"""Plugins: pip-installed packages that offer operators, hooks, sensors and template macros.

The contract (see docs/sensors-and-plugins.md): a package declares entry points in the group
`flowctl.plugins`; each names an object — a class or an instance, like Airflow's `AirflowPlugin` —
with these attributes (all but `name` optional):

- `name`: the plugin's name, a Python identifier; its macros are `macros.<name>.<function>` in templates
- `operators`, `hooks`, `sensors`: lists of classes, listed by `flowctl plugins`
- `macros`: a list of functions (or a dict of name -> function)

Nothing is imported until plugins are first asked for (a template reaching for `macros.<name>`,
`flowctl plugins`, `from flowctl.plugins import <name>`), then once per process. A plugin that fails to
load is logged in one line and left out; it never stops the others or the parsing of DAG files. DAG
files import a plugin's classes from its own package (`from flowctl_movielens.hooks import ...`), or
from `flowctl.plugins.<name>`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from types import MappingProxyType, SimpleNamespace
from typing import Any

from flowctl.exceptions import NotFound

ENTRY_POINT_GROUP = "flowctl.plugins"
COMPONENT_KINDS = ("operators", "hooks", "sensors")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Plugin:
    """A loaded plugin: what it offers and the distribution (package and version) it came from."""

    name: str
    entry_point: str  # "module:attribute", as declared
    package: str | None
    version: str | None
    operators: tuple[type, ...] = ()
    hooks: tuple[type, ...] = ()
    sensors: tuple[type, ...] = ()
    macros: Mapping[str, Callable[..., Any]] = field(default_factory=dict)

    def namespace(self) -> SimpleNamespace:
        """Its classes and macros by name: what `flowctl.plugins.<name>` gives a DAG file."""
        members = {cls.__name__: cls for kind in COMPONENT_KINDS for cls in getattr(self, kind)}
        return SimpleNamespace(**members, **self.macros)


@dataclass(frozen=True, slots=True)
class BrokenPlugin:
    """An entry point that could not be loaded, with the one-line reason."""

    name: str  # the entry point's name
    entry_point: str
    package: str | None
    version: str | None
    error: str


@dataclass(frozen=True, slots=True)
class PluginReport:
    plugins: tuple[Plugin, ...]
    broken: tuple[BrokenPlugin, ...]


class PluginError(Exception):
    """A plugin object breaks the contract (raised and caught here, reported as a BrokenPlugin)."""


def discover(entry_points: Iterable[metadata.EntryPoint] | None = None) -> PluginReport:
    """Load every entry point of the group (or the ones given): the plugins that loaded and the ones that
    did not, with why. Never raises for a bad plugin."""
    found = metadata.entry_points(group=ENTRY_POINT_GROUP) if entry_points is None else entry_points
    plugins: dict[str, Plugin] = {}
    broken: list[BrokenPlugin] = []
    # One distribution seen twice on sys.path (an old and a new copy) declares the same entry point twice.
    unique = {(ep.name, ep.value): ep for ep in reversed(list(found))}
    for entry_point in sorted(unique.values(), key=lambda ep: (ep.name, ep.value)):
        package, version = _distribution(entry_point)
        try:
            plugin = _load(entry_point, package=package, version=version)
            if plugin.name in plugins:
                raise PluginError(f"name {plugin.name!r} is taken by {plugins[plugin.name].entry_point}")
        except Exception as exc:  # an import error, a bad attribute, anything: one line, and carry on
            reason = _one_line(exc)
            broken.append(BrokenPlugin(entry_point.name, entry_point.value, package, version, reason))
            continue
        plugins[plugin.name] = plugin
    return PluginReport(plugins=tuple(plugins.values()), broken=tuple(broken))


@functools.cache
def installed() -> PluginReport:
    """The installed plugins, loaded on first call and kept for the life of the process
    (`installed.cache_clear()` forgets them). Each broken one is logged once, in one line."""
    report = discover()
    for item in report.broken:
        log.warning("plugin %r (%s) could not be loaded: %s", item.name, item.entry_point, item.error)
    return report


def get_plugin(name: str) -> Plugin:
    for plugin in installed().plugins:
        if plugin.name == name:
            return plugin
    raise NotFound(f"no plugin named {name!r} is installed (see `flowctl plugins`)")


def macros_of(name: str) -> SimpleNamespace | None:
    """`macros.<name>` in templates: the macros of the plugin called `name`, or None if there is none."""
    for plugin in installed().plugins:
        if plugin.name == name:
            return SimpleNamespace(**plugin.macros)
    return None


def __getattr__(name: str) -> SimpleNamespace:
    """`from flowctl.plugins import movielens`: a plugin's classes and macros by name."""
    if name.startswith("_"):
        raise AttributeError(name)
    try:
        return get_plugin(name).namespace()
    except NotFound as exc:
        raise AttributeError(str(exc)) from None


def _load(entry_point: metadata.EntryPoint, *, package: str | None, version: str | None) -> Plugin:
    source = entry_point.load()
    name = getattr(source, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise PluginError(f"its `name` must be a Python identifier, got {name!r}")
    components = {kind: _classes(source, kind) for kind in COMPONENT_KINDS}
    return Plugin(
        name=name,
        entry_point=entry_point.value,
        package=package,
        version=version,
        macros=MappingProxyType(_macros(source)),
        **components,
    )


def _classes(source: Any, kind: str) -> tuple[type, ...]:
    values = tuple(getattr(source, kind, None) or ())
    for value in values:
        if not isinstance(value, type):
            raise PluginError(f"`{kind}` must list classes, got {value!r}")
    return values


def _macros(source: Any) -> dict[str, Callable[..., Any]]:
    value = getattr(source, "macros", None) or ()
    if isinstance(value, Mapping):
        named = dict(value)
    else:
        named = {getattr(function, "__name__", ""): function for function in value}
    for macro_name, function in named.items():
        if not callable(function) or not str(macro_name).isidentifier():
            raise PluginError(f"`macros` must hold named functions, got {function!r}")
    return named


def _distribution(entry_point: metadata.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
