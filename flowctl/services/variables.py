"""Variables: set, get, list, delete, import and export; values are encrypted at rest."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from flowctl import strict_json
from flowctl.db.queries import variables as queries
from flowctl.db.queries.log_events import record_event
from flowctl.db.secrets import SecretCipher
from flowctl.exceptions import InvalidInput, NotFound
from flowctl.services.actor import Actor

KEY_MAX = 250


def set_variable(session: Session, cipher: SecretCipher, key: str, value: str, *, actor: Actor) -> None:
    _check_key(key)
    queries.upsert_variable(session, key, cipher.encrypt(value))
    record_event(session, "variable.set", owner=actor.name, at=actor.at, extra=key)


def get_variable(session: Session, cipher: SecretCipher, key: str) -> str:
    row = queries.get_variable(session, key)
    if row is None:
        raise NotFound(f"no variable {key!r}")
    return cipher.decrypt(row.val) or ""


def list_variables(session: Session, cipher: SecretCipher) -> list[tuple[str, str]]:
    return [(row.key, cipher.decrypt(row.val) or "") for row in queries.list_variables(session)]


def delete_variable(session: Session, key: str, *, actor: Actor) -> None:
    if not queries.delete_variable(session, key):
        raise NotFound(f"no variable {key!r}")
    record_event(session, "variable.delete", owner=actor.name, at=actor.at, extra=key)


def import_variables(session: Session, cipher: SecretCipher, variables: object, *, actor: Actor) -> int:
    """Set every key of a `{key: value}` object; non-string values are stored as their JSON text.
    All keys are checked before anything is written."""
    if not isinstance(variables, Mapping):
        raise InvalidInput("variables file must hold one JSON object {key: value}")
    texts = {key: value if isinstance(value, str) else json.dumps(value) for key, value in variables.items()}
    for key in texts:
        _check_key(key)
    for key, text in texts.items():
        queries.upsert_variable(session, key, cipher.encrypt(text))
    record_event(session, "variable.import", owner=actor.name, at=actor.at, extra=f"{len(texts)} variables")
    return len(texts)


def export_variables(session: Session, cipher: SecretCipher) -> dict[str, object]:
    """`{key: value}`, with values that hold JSON given back as JSON (as `import` stored them)."""
    exported: dict[str, object] = {}
    for key, text in list_variables(session, cipher):
        try:
            value = strict_json.loads(text, what=f"variable {key!r}")
        except (ValueError, InvalidInput):  # plain text, or text such as "NaN" that JSON cannot carry
            value = text
        # Only text that import would write back identically travels as JSON ("3.10" stays text).
        exported[key] = value if json.dumps(value) == text else text
    return exported


def _check_key(key: str) -> None:
    if not key or len(key) > KEY_MAX:
        raise InvalidInput(f"variable key must be 1-{KEY_MAX} characters (got {len(key)})")


@dataclass(frozen=True, slots=True)
class VariableEntry:
    """A variable with its description, as the UI lists and edits it."""

    key: str
    value: str
    description: str | None


def list_variable_entries(session: Session, cipher: SecretCipher) -> list[VariableEntry]:
    return [
        VariableEntry(row.key, cipher.decrypt(row.val) or "", row.description)
        for row in queries.list_variables(session)
    ]


def get_variable_entry(session: Session, cipher: SecretCipher, key: str) -> VariableEntry:
    row = queries.get_variable(session, key)
    if row is None:
        raise NotFound(f"no variable {key!r}")
    return VariableEntry(row.key, cipher.decrypt(row.val) or "", row.description)


def set_variable_entry(
    session: Session, cipher: SecretCipher, key: str, value: str, *, description: str, actor: Actor
) -> None:
    """Set a variable's value and description ("" clears the description)."""
    _check_key(key)
    queries.upsert_variable(session, key, cipher.encrypt(value), description)
    record_event(session, "variable.set", owner=actor.name, at=actor.at, extra=key)
