"""Migrations, the app's side: Alembic's configuration (``config``), the start-up check
and auto-upgrade (``startup``), and the helpers revisions import: online DDL
(``online``), resumable batches (``batches``), re-runnable DDL (``rerunnable``), the
stamps of the renumbered revisions (``renumbered``) and the linter (``lint``).  The
scripts themselves are in the repository's top-level ``alembic/``."""

from .config import PROJECT_ROOT, alembic_config, compare_server_default, default_instance_path, include_object_for, script_location
from .startup import (
    SchemaOutOfDate,
    current_revisions,
    ensure_schema_current,
    head_revisions,
    known_revisions,
    migration_lock,
    upgrade,
)

__all__ = [
    "PROJECT_ROOT", "SchemaOutOfDate", "alembic_config", "compare_server_default", "current_revisions",
    "default_instance_path", "ensure_schema_current", "head_revisions", "include_object_for",
    "known_revisions", "migration_lock", "script_location", "upgrade",
]
