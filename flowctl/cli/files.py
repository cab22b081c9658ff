"""Reading and writing the JSON files of `import`/`export` commands: owner-only, never half-written."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import click

from flowctl import strict_json
from flowctl.exceptions import InvalidInput


def read_json_file(path: str) -> object:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text("utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    return strict_json.parse(text, what=path)


def write_json_file(path: str, data: object) -> None:
    """Write `data` as JSON to `path` ('-' is stdout) with mode 0600, atomically (temp file + rename)."""
    text = json.dumps(data, indent=2) + "\n"
    if path == "-":
        click.echo(text, nl=False)
        return
    target = Path(path)
    try:
        fd, temp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=".flowctl-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, target)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None
