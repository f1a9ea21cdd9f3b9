"""Every setting in one place, read from ``QUARTBLOG_*`` environment variables.

``Settings.from_env()`` reads the environment; ``create_app(config)`` accepts a
mapping of overrides (tests use that).  The values end up in ``app.config`` under
their upper-case names (``DATABASE_URL``, ``SECRET_KEY`` ...).
"""

from __future__ import annotations

import functools
import os
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Mapping
from urllib.parse import urlsplit

import click
from pydantic import TypeAdapter, ValidationError

PREFIX = "QUARTBLOG_"
DEV_SECRET_KEY = "dev-only-secret-key-change-me-in-production-0123456789"
MIN_SECRET_KEY_LENGTH = 32
ENVIRONMENTS = ("development", "testing", "production")
# The async drivers quartblog is tested with, per database (the first is the suggestion).
ASYNC_DRIVERS = {"sqlite": ("aiosqlite",), "mysql": ("asyncmy", "aiomysql"),
                 "mariadb": ("asyncmy", "aiomysql"), "postgresql": ("asyncpg",)}


class ConfigError(click.ClickException, RuntimeError):
    """A setting is missing or wrong: the app refuses to start.  A ClickException, so
    that ``quart --app quartblog ...`` says it in one line (``Error: ...``) too."""


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


@dataclass
class Settings:
    # development | testing | production
    ENV: str = "development"
    # None means a SQLite file in the app's instance folder.
    DATABASE_URL: str | None = None
    SECRET_KEY: str | None = None
    # The public URL of the site (https://blog.example.com, optionally with a path
    # prefix): every absolute URL the app makes (feeds, _external links) comes from it,
    # never from the request's Host header. Required in production.
    SITE_URL: str | None = None
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are
    # trusted (hypercorn's ProxyFixMiddleware); 0: none, the headers are ignored.
    PROXY_HOPS: int = 0
    # Upgrade the database to the newest migration at start-up (under a lock).
    AUTO_MIGRATE: bool = False
    # Connection pool (MySQL/MariaDB, PostgreSQL). pool_recycle stays below the
    # server's wait_timeout (MariaDB's default is 28800 s).
    # A worker serves many requests at once: at 32 concurrent requests a pool of 10
    # made requests queue for connections (docs/performance.md).  No overflow by
    # default: an overflow connection is opened for one request and closed after it,
    # so a load above the pool's size opened and closed connections all the time
    # (slower, and on asyncpg the worker's memory grew 67% over 100,000 requests:
    # docs/performance.md, "Memory"); past the pool, requests wait for a connection.
    DB_POOL_SIZE: int = 20
    DB_MAX_OVERFLOW: int = 0
    DB_POOL_RECYCLE: int = 3600
    DB_ECHO: bool = False
    # A request the database refuses for a concurrency reason (deadlock, lock wait
    # timeout, serialization failure, SQLite busy, a unique race) runs again as a
    # whole in a new transaction, up to this many times in all (quartblog/unit_of_work.py).
    DB_RETRY_ATTEMPTS: int = 5
    # A database that hangs instead of refusing: give up connecting after this many
    # seconds, and stop a statement after this many (0: no limit; MariaDB
    # max_statement_time, PostgreSQL statement_timeout). Both are answered 503.
    DB_CONNECT_TIMEOUT: float = 5.0
    DB_STATEMENT_TIMEOUT: float = 30.0
    # Searches (the site's /search, GET /api/articles?q=) read much of the posts table
    # when a word is in nearly every post: at most this many run at once per worker
    # (0: no limit), a search waits at most SEARCH_WAIT_SECONDS for its turn, and its
    # statements stop after SEARCH_STATEMENT_TIMEOUT seconds (0: DB_STATEMENT_TIMEOUT
    # only; on SQLite a progress handler interrupts them). Past either: 503 with
    # Retry-After, while other pages keep their connections (quartblog/db/limits.py).
    # 2 per worker: on the 2-core machine of docs/performance.md ("Search in a crowd")
    # 4 per worker let no search of a common word finish within its 5 s.
    SEARCH_CONCURRENCY: int = 2
    SEARCH_WAIT_SECONDS: float = 1.0
    SEARCH_STATEMENT_TIMEOUT: float = 5.0
    # Seconds a request's body may take to arrive, from the request's start (Quart's
    # BODY_TIMEOUT, 60 s by default): a view waiting longer answers 408, and an answer
    # given before the body came (quartblog/request_body.py) waits no longer for the
    # rest; either way the connection is then closed. Must be > 0.
    BODY_TIMEOUT: float = 10.0
    # Add an X-SQL-Statements header (statements the request ran) to every response:
    # for development and the benchmark, off in production.
    SQL_COUNT_HEADER: bool = False
    # Move everything loaded at start-up out of the garbage collector's way
    # (gc.freeze) and collect the young generation less often: fewer, shorter pauses.
    GC_TUNING: bool = True
    # Post visits are added up in memory and written every this many seconds
    # (quartblog/visits.py); 0 writes each visit in its own request.
    VIEW_COUNT_FLUSH_SECONDS: float = 5.0
    # Site
    POSTS_PER_PAGE: int = 10
    SIDEBAR_SIZE: int = 5
    SITE_NAME: str = "quartblog"
    # Role given to people who register: author (may write posts) or reader.
    DEFAULT_ROLE: str = "author"
    # Language of the site's pages when the visitor chose none and their browser's
    # Accept-Language names none the site has: en or zh_Hans (also zh-Hans, zh-CN).
    DEFAULT_LOCALE: str = "en"
    # API tokens
    JWT_EXPIRES_SECONDS: int = 60 * 60 * 24 * 14
    # Browser front ends allowed to call /api (CORS); "*" allows any.
    CORS_ORIGINS: list[str] = field(default_factory=lambda: ["*"])
    # Path of the interactive API docs page (it loads scripts from a CDN); empty: off.
    API_DOCS_PATH: str = ""
    # Cache for anonymous pages' shared parts: in-process by default, Redis when a URL
    # is set. TTL bounds how long another worker may serve data older than a write.
    CACHE_ENABLED: bool = True
    REDIS_URL: str | None = None
    CACHE_TTL_SECONDS: int = 30
    CACHE_MAX_ENTRIES: int = 10_000
    CACHE_PREFIX: str = "quartblog:"
    # Rate limits on log-in and registration (requests per minute per address); 0 disables.
    AUTH_RATE_LIMIT_PER_MINUTE: int = 20
    # Uploaded images (quartblog/media.py): where the filesystem storage keeps them
    # (None: the instance folder's media/), the largest file accepted (bytes; larger
    # request bodies are refused before they are read), the width post images are
    # scaled down to, the side of avatars, the most pixels decoded (all frames of an
    # animation together; decompression bombs), uploads per minute per address (0: no limit).
    MEDIA_DIR: str | None = None
    UPLOAD_MAX_BYTES: int = 10 * 1024 * 1024
    IMAGE_MAX_WIDTH: int = 1600
    AVATAR_SIZE: int = 256
    IMAGE_MAX_PIXELS: int = 50_000_000
    UPLOAD_RATE_LIMIT_PER_MINUTE: int = 30
    # Mail (quartblog/mail/): the SMTP server, smtp://user:password@host:587?starttls=1 or
    # smtps://user:password@host:465 (implicit TLS); unset, development and testing write
    # each message to the instance folder's mail/ as an .eml file (and a log line), and
    # production sends nothing (the admin says mail is not configured).  The sender, e.g.
    # "My blog <blog@example.com>" (unset: SITE_NAME <noreply@the SITE_URL's host>).
    SMTP_URL: str | None = None
    MAIL_FROM: str | None = None
    SMTP_TIMEOUT: float = 30.0
    # Background jobs (quartblog/jobs/): the web process runs them too (set 0 when
    # `quart --app quartblog worker` processes do); how many run at once per process;
    # how often an idle worker looks for due jobs; a failed job runs again after
    # JOB_RETRY_SECONDS, doubled each time (at most an hour), up to JOB_MAX_ATTEMPTS
    # in all, then waits in the admin with its error; a job whose worker died runs
    # again after JOB_LEASE_SECONDS.
    JOBS_IN_WEB: bool = True
    JOB_CONCURRENCY: int = 4
    JOB_POLL_SECONDS: float = 1.0
    JOB_RETRY_SECONDS: float = 10.0
    JOB_MAX_ATTEMPTS: int = 8
    JOB_LEASE_SECONDS: float = 120.0
    # "Forgot password?": reset links per account per hour (more are not sent, and the
    # answer stays the same); how long a link works.
    PASSWORD_RESETS_PER_HOUR: int = 3
    PASSWORD_RESET_SECONDS: int = 3600
    # Links that verify an address (sign-up, a change of address; the admin's setting
    # accounts.email_verification turns them on): how many per account per hour, how long one works.
    EMAIL_VERIFICATIONS_PER_HOUR: int = 3
    EMAIL_VERIFICATION_SECONDS: int = 2 * 24 * 3600

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        environ = os.environ if environ is None else environ
        settings = cls()
        types = typing.get_type_hints(cls)
        for f in fields(cls):
            raw = environ.get(PREFIX + f.name)
            if raw is None:
                continue
            setattr(settings, f.name, _coerce(f.name, types[f.name], raw))
        return settings

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _coerce(name: str, type_: Any, raw: str) -> Any:
    """The value of ``QUARTBLOG_<name>`` as its field's type, converted by pydantic
    (``1``/``true``/``yes``/``on`` are true, ``0``/``false``/``no``/``off`` false); a
    list is comma-separated; an empty optional value is unset."""
    if not raw.strip() and (_optional(type_) or type_ is bool):
        return None if _optional(type_) else False
    try:
        if _is_list(type_):
            return _list(raw)
        return _adapter(type_).validate_python(raw.strip())
    except ValidationError as exc:
        raise ConfigError(f"{PREFIX}{name}={raw!r} is not a valid {_type_name(type_)}") from exc


@functools.cache
def _adapter(type_: Any) -> TypeAdapter:
    return TypeAdapter(type_)


def _optional(type_: Any) -> bool:
    return type(None) in typing.get_args(type_)


def _is_list(type_: Any) -> bool:
    return typing.get_origin(type_) is list


def _type_name(type_: Any) -> str:
    args = [a for a in typing.get_args(type_) if a is not type(None)]
    return getattr(args[0] if args else type_, "__name__", str(type_))


def import_optional(module: str, extra: str, setting: str):
    """``module``, from the optional ``extra``; missing, a ConfigError that says what
    to install (instead of a traceback at start-up)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module.partition(".")[0]:
            raise  # the package is there, but broken: keep its own error
        raise ConfigError(f"{PREFIX}{setting} needs the {module.partition('.')[0]!r} package, which is not "
                          f"installed: pip install 'quartblog[{extra}]' (from a checkout: pip install -e '.[{extra}]')"
                          ) from exc


def check_env(config: Mapping[str, Any]) -> str:
    """The environment's name; an unknown one (a typo: ``prod``) is an error, never
    a silent development run with the development key."""
    env = config.get("ENV")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"{PREFIX}ENV={env!r} is not a known environment: use one of {', '.join(ENVIRONMENTS)}")
    return env


def check_database_url(url: str | None) -> str | None:
    """The database URL, or None (the default SQLite file); a URL without one of the
    async drivers (``mysql://``, which SQLAlchemy gives to MySQLdb) is an error that
    names the URL to write instead."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not url:
        return None
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"{PREFIX}DATABASE_URL is not a database URL ({exc}), e.g. "
                          "mysql+asyncmy://user:password@127.0.0.1:3306/quartblog") from exc
    name, _, driver = parsed.drivername.partition("+")
    backend = "postgresql" if name == "postgres" else name  # postgres:// as Heroku writes it
    drivers = ASYNC_DRIVERS.get(backend)
    shown = parsed.render_as_string(hide_password=True)
    if drivers is None:
        supported = ", ".join(f"{known}+{each}://" for known, each_drivers in ASYNC_DRIVERS.items()
                              for each in each_drivers if known != "mariadb")
        raise ConfigError(f"{PREFIX}DATABASE_URL={shown} names a database quartblog does not support: "
                          f"use {supported}")
    if driver not in drivers or name != backend:
        suggestions = [parsed.set(drivername=f"{backend}+{driver}").render_as_string(hide_password=True)
                       for driver in drivers]
        alternative = f" (or {suggestions[1]})" if len(suggestions) > 1 else ""
        raise ConfigError(f"{PREFIX}DATABASE_URL={shown} names no async driver quartblog runs on: "
                          f"use {suggestions[0]}{alternative}")
    return url


def check_secret_key(config: Mapping[str, Any]) -> str:
    """The secret key to use; in production a missing or short key is an error."""
    key = config.get("SECRET_KEY")
    if config.get("ENV") == "production":
        if not key or len(key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                f"{PREFIX}SECRET_KEY must be set to a random string of at least "
                f"{MIN_SECRET_KEY_LENGTH} characters when {PREFIX}ENV=production, e.g. "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return key
    return key or DEV_SECRET_KEY


def check_site_url(config: Mapping[str, Any]) -> str | None:
    """The site's public URL without a trailing slash, or None (development only:
    absolute URLs then use the request's host, which any client can write)."""
    url = (config.get("SITE_URL") or "").strip().rstrip("/")
    if not url:
        if config.get("ENV") == "production":
            raise ConfigError(
                f"{PREFIX}SITE_URL must be set to the site's public URL (e.g. https://blog.example.com) "
                f"when {PREFIX}ENV=production: feeds and absolute links are made from it, "
                "not from the request's Host header"
            )
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"{PREFIX}SITE_URL={url!r} must be an http(s) URL with a host and at most "
                          "a path prefix, e.g. https://blog.example.com or https://example.com/blog")
    return url


def mail_configured(config: Mapping[str, Any]) -> bool:
    """Whether mail can reach people: an SMTP server is set (quartblog/mail/ sends
    through it; the admin pages warn in production when it is not)."""
    return bool(config.get("SMTP_URL"))


def mail_missing(config: Mapping[str, Any]) -> bool:
    """Production without an SMTP server: reset links and notifications go nowhere."""
    return config.get("ENV") == "production" and not mail_configured(config)


def check_smtp_url(url: str | None) -> str | None:
    """The SMTP URL, or None; a URL that is not smtp:// or smtps:// with a host is an error."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(f"{PREFIX}SMTP_URL must be smtp://user:password@host:587?starttls=1 or "
                          "smtps://user:password@host:465")
    try:
        parts.port
    except ValueError as exc:
        raise ConfigError(f"{PREFIX}SMTP_URL has a bad port: {exc}") from exc
    return url
