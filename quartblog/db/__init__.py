"""The database: the engine (``engine``), the request's session and its unit of work's
bookkeeping (``session``), what an outage looks like (``outages``) and the limits of
statements that may run long (``limits``).  The names
below are the layer's public face; the services import them from here."""

from .engine import (
    READ_METHODS,
    create_engine,
    default_database_url,
    engine_from_config,
    masked,
    normalize_url,
    set_write_intent,
    write_intent,
)
from .limits import StatementLimit, TooManyAtOnce, statement_timeout
from .outages import (
    RETRY_AFTER_SECONDS,
    DatabaseUnavailable,
    OutageLog,
    SchemaNotReady,
    describe,
    is_busy,
    is_conflict,
    is_unavailable,
)
from .session import (
    CHANGES_CONTENT,
    SQL_COUNT_HEADER,
    Database,
    after_commit,
    changed_content,
    discard_request_session,
    get_db,
    get_session,
    init_app,
    read_rows,
    run_after_commit,
    search_limit,
    statement_count,
)

__all__ = [
    "CHANGES_CONTENT", "READ_METHODS", "RETRY_AFTER_SECONDS", "SQL_COUNT_HEADER", "Database",
    "DatabaseUnavailable", "OutageLog", "SchemaNotReady", "after_commit", "changed_content",
    "create_engine", "default_database_url", "describe", "discard_request_session",
    "engine_from_config", "get_db", "get_session", "init_app", "is_busy", "is_conflict", "is_unavailable",
    "masked", "normalize_url", "read_rows", "run_after_commit", "search_limit", "set_write_intent",
    "statement_count", "statement_timeout", "StatementLimit", "TooManyAtOnce", "write_intent",
]
