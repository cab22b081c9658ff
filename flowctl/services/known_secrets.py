"""Every secret value this process can know of, as one masker: sensitive variables and connection secrets
of the metadata DB and of the FLOWCTL_VAR_* / FLOWCTL_CONN_* environment. For what is shown where nobody
recorded which secrets produced it (XCom values, `tasks render`); a task's own log masks what it used."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy.orm import Session

from flowctl.connection import ENVIRONMENT_PREFIX as CONN_PREFIX
from flowctl.connection import connection_from_environment
from flowctl.connection_types import connection_type
from flowctl.db.queries import connections as connection_queries
from flowctl.db.queries import variables as variable_queries
from flowctl.db.secrets import SecretCipher, is_sensitive_name
from flowctl.exceptions import InvalidInput
from flowctl.logs import SecretMasker
from flowctl.variable import ENVIRONMENT_PREFIX as VAR_PREFIX

_MAX_NESTING = 32


def known_secrets_masker(session: Session, cipher: SecretCipher, *, environ: Mapping[str, str]) -> SecretMasker:
    """A masker of every known secret: two queries, and a decryption per sensitive variable and per
    connection field that holds a secret. DatabaseError if a stored secret cannot be decrypted."""
    secrets = [*_db_secrets(session, cipher), *_environment_secrets(environ)]
    return SecretMasker(form for secret in secrets for form in _stored_forms(secret))


def _db_secrets(session: Session, cipher: SecretCipher) -> Iterator[str]:
    for row in variable_queries.list_variables(session):
        if is_sensitive_name(row.key):
            yield cipher.decrypt(row.val) or ""
    for row in connection_queries.list_connection_rows(session):
        yield from _connection_secrets(row.conn_type, cipher.decrypt(row.password), cipher.decrypt(row.extra))


def _connection_secrets(conn_type: str, password: str | None, extra: str | None) -> list[str]:
    """The password, and every text in extra under a key that names a secret (`api_key`, `token`..., or a
    setting the connection type marks secret), at any depth."""
    found = [password] if password else []
    if extra:
        try:
            data = json.loads(extra)
        except ValueError:  # not JSON (a row older than the check): no telling its secrets from the rest
            return [*found, extra]
        found += _texts_under_secret_keys(data, connection_type(conn_type).secret_extra_keys, depth=0)
    return found


def _environment_secrets(environ: Mapping[str, str]) -> Iterator[str]:
    for name, value in environ.items():
        if name.startswith(VAR_PREFIX) and is_sensitive_name(name[len(VAR_PREFIX) :]):
            yield value
        elif name.startswith(CONN_PREFIX) and len(name) > len(CONN_PREFIX):
            try:
                conn = connection_from_environment(name[len(CONN_PREFIX) :], environ)
            except InvalidInput:  # tasks cannot use it either
                continue
            if conn is not None:
                yield from _connection_secrets(conn.conn_type, conn.password, conn.extra)


def _texts_under_secret_keys(value: Any, secret_keys: frozenset[str], *, depth: int, inside: bool = False) -> list[str]:
    if depth > _MAX_NESTING:
        return []
    if isinstance(value, dict):
        return [
            text
            for key, item in value.items()
            for text in _texts_under_secret_keys(
                item, secret_keys, depth=depth + 1, inside=inside or key in secret_keys or is_sensitive_name(key)
            )
        ]
    if isinstance(value, list):
        return [
            text
            for item in value
            for text in _texts_under_secret_keys(item, secret_keys, depth=depth + 1, inside=inside)
        ]
    return [value] if inside and isinstance(value, str) else []


def _stored_forms(secret: str) -> set[str]:
    """The secret as given and as it appears inside stored JSON text (quotes, backslashes, non-ASCII escaped),
    so a value shown as raw JSON (cut short, say) is masked too."""
    return {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
