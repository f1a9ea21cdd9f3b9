"""Alembic configuration with the test-only ``demo`` revisions (see README.md)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic.config import Config

from quartblog.migrations.config import SCRIPT_LOCATION, alembic_config

DEMO_VERSIONS = Path(__file__).resolve().parent / "versions"
DEMO_HEAD = "demo@head"


def demo_config(url: str | None = None, **kwargs) -> Config:
    """The package's migrations plus the demo branch (two heads: name ``demo@head``)."""
    cfg = alembic_config(url, **kwargs)
    cfg.set_main_option("version_locations", os.pathsep.join([str(SCRIPT_LOCATION / "versions"), str(DEMO_VERSIONS)]))
    return cfg


def write_demo_ini(path: Path, url: str) -> Path:
    """An alembic.ini for the ``alembic`` command with the demo branch (for a subprocess):
    the repository's, with absolute paths and the demo versions added."""
    from quartblog.migrations import PROJECT_ROOT

    text = (PROJECT_ROOT / "alembic.ini").read_text().replace(
        "script_location = %(here)s/alembic",
        f"script_location = {SCRIPT_LOCATION}\n"
        f"version_locations = {SCRIPT_LOCATION / 'versions'}{os.pathsep}{DEMO_VERSIONS}\n"
        f"sqlalchemy.url = {url}")
    assert "version_locations" in text
    path.write_text(text.replace("prepend_sys_path = .\n", ""))
    return path
