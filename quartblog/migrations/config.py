"""Alembic's configuration for quartblog, with or without alembic.ini: where the
migration scripts are (the repository's top-level ``alembic/``, or the copy a wheel
carries inside the package), and the comparisons autogenerate uses."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import IO

from alembic.config import Config

PACKAGE_DIR = Path(__file__).resolve().parent.parent
# The repository (alembic.ini, alembic/, instance/) when running from a checkout.
PROJECT_ROOT = PACKAGE_DIR.parent
FILE_TEMPLATE = "%%(rev)s_%%(slug)s"


def script_location() -> Path:
    """The migration scripts: ``alembic/`` beside the package in a checkout (what
    alembic.ini names), else the copy an installed wheel carries in
    ``quartblog/migrations/scripts/`` (pyproject.toml maps the folder there)."""
    if _in_checkout():
        return PROJECT_ROOT / "alembic"
    return PACKAGE_DIR / "migrations" / "scripts"


def _in_checkout() -> bool:
    """Is the package imported from the repository (alembic/ beside it)?"""
    return (PROJECT_ROOT / "alembic" / "env.py").is_file()


SCRIPT_LOCATION = script_location()


def alembic_ini_text(scripts: Path) -> str:
    """An alembic.ini for the migrations in ``scripts`` (``quart db init`` writes it beside
    an installed package, so that ``alembic upgrade head`` works there as in a checkout)."""
    repository_ini = PROJECT_ROOT / "alembic.ini"
    if repository_ini.is_file():
        return repository_ini.read_text().replace("%(here)s/alembic", str(scripts))
    return _INI.replace("{scripts}", str(scripts))


_INI = """# Written by `quart --app quartblog db init`: the migrations of the installed quartblog.
# The database URL comes from QUARTBLOG_DATABASE_URL, as for the app.
[alembic]
script_location = {scripts}
file_template = %%(rev)s_%%(slug)s
path_separator = os

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
"""


def alembic_config(url: str | None = None, stdout: IO[str] | None = None) -> Config:
    """Alembic's configuration for the migrations shipped in the package (no
    alembic.ini needed).  ``url`` (the app's database) wins over everything in env.py."""
    cfg = Config(stdout=stdout or sys.stdout)
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.set_main_option("file_template", FILE_TEMPLATE)
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.attributes["database_url"] = str(url)
    return cfg


def default_instance_path() -> Path:
    """The app's instance folder (the default SQLite file, media/), found without
    building the app: ``instance/`` beside a checkout (an editable install), and
    ``./instance/`` in the working directory for an installed package (not Quart's
    ``<venv>/var/quartblog-instance``, hidden inside the virtualenv)."""
    if _in_checkout():
        return PROJECT_ROOT / "instance"
    return Path.cwd() / "instance"


def include_object_for(dialect_name: str):
    """Autogenerate's filter (env.py, the tests): the search indexes exist only on their
    databases (FULLTEXT on MySQL/MariaDB, trigram on PostgreSQL), so elsewhere they are
    not reported as missing."""
    from ..models import FULLTEXT_DIALECTS, FULLTEXT_INDEX, TRIGRAM_DIALECTS, TRIGRAM_INDEX

    only_on = {FULLTEXT_INDEX: FULLTEXT_DIALECTS, TRIGRAM_INDEX: TRIGRAM_DIALECTS}

    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        return not (type_ == "index" and name in only_on and dialect_name not in only_on[name])

    return include_object


_BOOLEAN_LITERALS = {"0": False, "false": False, "1": True, "true": True}


def compare_server_default(context, inspected_column, metadata_column, inspected_default,
                           metadata_default, rendered_metadata_default):
    """Autogenerate's server-default comparison (env.py), with one spelling fixed: a
    boolean default (``sql_false()``) is reflected as ``0`` by MySQL/MariaDB, which stores
    BOOL as TINYINT(1), and as ``false`` elsewhere; the same value is not a difference.
    Anything else: ``None``, Alembic's own comparison."""
    from sqlalchemy import Boolean

    if inspected_default and rendered_metadata_default and \
            _is_now(inspected_default) and _is_now(rendered_metadata_default):
        return False  # CURRENT_TIMESTAMP, reflected by MariaDB as current_timestamp(6) on DATETIME(6)
    if isinstance(metadata_column.type, Boolean) and inspected_default and rendered_metadata_default:
        reflected = _BOOLEAN_LITERALS.get(inspected_default.strip("'\"").lower())
        wanted = _BOOLEAN_LITERALS.get(rendered_metadata_default.strip("'\"").lower())
        if reflected is not None and wanted is not None:
            return reflected != wanted
    return None


_NOW = re.compile(r"(current_timestamp|now|localtimestamp)(\(\d*\))?")


def _is_now(default: str) -> bool:
    """Is this server default the current time, however the database spells it?"""
    return _NOW.fullmatch(default.strip().strip("'\"").strip().lower()) is not None


