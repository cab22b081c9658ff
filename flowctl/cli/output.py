"""Printing command results as `table` (default), `json`, `yaml` or `plain`.

JSON and YAML output is one document on stdout and nothing else, with the same data (YAML as Airflow's
`-o yaml` prints it); datetimes are ISO-8601 in UTC. Lists of names (owners, tags) stay lists in JSON
and YAML and are joined by commas in table and plain output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

FORMATS = ("table", "json", "yaml", "plain")

output_option = click.option(
    "-o",
    "--output",
    "output",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)


def to_jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    return value


def _cell(value: Any) -> str:
    """One table or plain cell: a list of names (owners, tags) joined by commas, other structures as JSON."""
    value = to_jsonable(value)
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def print_rows(rows: Sequence[Mapping[str, Any]], output: str, columns: Sequence[str] | None = None) -> None:
    """Print a list of records; `columns` fixes the order (and the header when there are no rows)."""
    columns = list(columns or (rows[0].keys() if rows else []))
    if output in ("json", "yaml"):
        print_document([{c: row.get(c) for c in columns} for row in rows], output)
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    if output == "plain":
        for line in cells:
            click.echo("\t".join(line))
        return
    widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    click.echo(" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    click.echo("-+-".join("-" * w for w in widths))
    for line in cells:
        click.echo(" | ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def print_record(record: Mapping[str, Any], output: str) -> None:
    """Print one record: a JSON or YAML mapping, or `key | value` lines."""
    if output in ("json", "yaml"):
        print_document(dict(record), output)
        return
    if output == "plain":
        click.echo("\t".join(_cell(v) for v in record.values()))
        return
    width = max((len(k) for k in record), default=0)
    for key, value in record.items():
        click.echo(f"{key.ljust(width)} | {_cell(value)}")


def print_values(values: Sequence[Any], output: str) -> None:
    """Print a list of single values: a JSON or YAML list, or one value per line."""
    if output in ("json", "yaml"):
        print_document(list(values), output)
        return
    for value in values:
        click.echo(_cell(value))


def print_document(data: Any, output: str) -> None:
    """`data` as one JSON (indented) or YAML document."""
    text = json.dumps(to_jsonable(data), indent=2)
    if output == "json":
        click.echo(text)
        return
    import yaml  # only commands asked for YAML pay for importing it

    # Through JSON first: YAML then carries exactly the JSON output's data, in plain types.
    data = json.loads(text)
    click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False), nl=False)
