"""Column types shared by every table: UTC-aware datetimes, ids, long text and JSON that behave alike on
SQLite, PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, LargeBinary, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator, TypeEngine

# Ids (dag_id, task_id, run_id...) are case-sensitive, as in Python. MySQL's default collation is not,
# so ids get a binary collation there. 250 characters keeps a 3-id unique key under InnoDB's 3072 bytes.
ID_LEN = 250


def id_string(length: int = ID_LEN) -> TypeEngine[str]:
    return String(length).with_variant(mysql.VARCHAR(length, collation="utf8mb4_bin"), "mysql", "mariadb")


# MySQL's TEXT holds 64 KiB; serialized DAGs, sources, tracebacks and XComs can be far larger.
LongText: TypeEngine[str] = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
LongBlob: TypeEngine[bytes] = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


class UTCDateTime(TypeDecorator[datetime]):
    """Every datetime column: only aware values go in, UTC-aware values come out.

    PostgreSQL stores `timestamptz`; SQLite and MySQL store naive UTC (MySQL with microseconds).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} given to the metadata DB; pass an aware datetime")
        value = value.astimezone(UTC)
        # Store plain stdlib datetimes (pendulum's subclass confuses some drivers).
        plain = datetime(value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond)
        return plain.replace(tzinfo=UTC) if dialect.name == "postgresql" else plain

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONText(TypeDecorator[Any]):
    """JSON stored as text: the same column type and the same round trip on every backend."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.LONGTEXT())
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, separators=(",", ":"), sort_keys=True)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)
