"""Column types that behave the same on SQLite, MySQL/MariaDB and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator

# The dialect names of MySQL and MariaDB (SQLAlchemy names MariaDB "mariadb" when it knows).
MYSQL_DIALECTS = ("mysql", "mariadb")
# The largest id: ids are 32-bit signed integers on every backend (INTEGER, SERIAL).
ID_MAX = 2**31 - 1


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp with microseconds on every backend.

    MySQL/MariaDB ``DATETIME`` keeps no zone and drops fractions unless asked:
    there it is ``DATETIME(6)`` holding UTC.  PostgreSQL gets ``timestamptz``.
    Values are converted to UTC on the way in and come back aware (UTC).
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name in MYSQL_DIALECTS:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        if dialect.name == "postgresql":
            return dialect.type_descriptor(DateTime(timezone=True))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs a timezone-aware datetime")
        value = value.astimezone(timezone.utc)
        if dialect.name == "postgresql":
            return value
        return value.replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# Post bodies may be long: TEXT is 64 KiB on MySQL, MEDIUMTEXT 16 MiB.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
