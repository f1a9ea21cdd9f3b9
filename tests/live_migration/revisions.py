"""Where the test's revisions (``versions/``) sit: on the project's head, found when
Alembic loads them, and how an operator's ``alembic`` reaches both directories
(``alembic.ini`` here)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
ALEMBIC_INI = HERE / "alembic.ini"
LEGACY, EXPAND, CONTRACT = "live_legacy", "live_index", "live_contract"


def project_head() -> str:
    from alembic.script import ScriptDirectory

    from quartblog.migrations import alembic_config

    (head,) = ScriptDirectory.from_config(alembic_config()).get_heads()
    return head
