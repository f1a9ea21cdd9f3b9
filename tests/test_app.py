"""Start-up, configuration and the minimal home page."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from quartblog import create_app
from quartblog.config import ConfigError, Settings
from quartblog.db import create_engine, get_db
from quartblog.migrations import SchemaOutOfDate, head_revisions, upgrade

from .conftest import fresh_database, make_config
from .factories import make_post, make_user


async def test_home_page_lists_posts_from_the_database(client, db_session):
    author = await make_user(db_session, "ada")
    await make_post(db_session, author, "Hello async world", tags=["python", "quart"])
    response = await client.get("/")
    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    assert "Hello async world" in page
    assert "ada" in page


async def test_healthz_answers_without_the_database(client, count_statements):
    with count_statements() as counter:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok"}
    assert counter.count == 0


def test_settings_come_from_prefixed_environment_variables():
    settings = Settings.from_env({
        "QUARTBLOG_DATABASE_URL": "sqlite+aiosqlite:///x.db",
        "QUARTBLOG_POSTS_PER_PAGE": "25",
        "QUARTBLOG_AUTO_MIGRATE": "1",
        "QUARTBLOG_CORS_ORIGINS": "https://a.example, https://b.example",
        "OTHER_DATABASE_URL": "ignored",
    })
    assert settings.DATABASE_URL == "sqlite+aiosqlite:///x.db"
    assert settings.POSTS_PER_PAGE == 25
    assert settings.AUTO_MIGRATE is True
    assert settings.CORS_ORIGINS == ["https://a.example", "https://b.example"]


def test_production_refuses_a_missing_or_short_secret_key():
    with pytest.raises(ConfigError, match="QUARTBLOG_SECRET_KEY"):
        create_app({"ENV": "production", "SECRET_KEY": None})
    with pytest.raises(ConfigError, match="at least 32"):
        create_app({"ENV": "production", "SECRET_KEY": "short"})
    app = create_app({"ENV": "production", "SECRET_KEY": "x" * 40, "SITE_URL": "https://blog.example.com"})
    assert app.config["SECRET_KEY"] == "x" * 40 and app.debug is False


def test_development_gets_a_default_secret_key():
    app = create_app({"ENV": "development", "SECRET_KEY": None})
    assert app.config["SECRET_KEY"]


async def test_start_up_stops_when_the_database_is_behind_head(backend, tmp_path):
    async with fresh_database(backend, tmp_path) as url:
        app = create_app(make_config(url))
        with pytest.raises(SchemaOutOfDate, match="alembic upgrade head"):
            await app.startup()
        await app.shutdown()


async def test_auto_migrate_upgrades_an_empty_database_at_start_up(backend, tmp_path):
    async with fresh_database(backend, tmp_path) as url:
        app = create_app(make_config(url, AUTO_MIGRATE=True))
        async with app.test_app():
            async with get_db(app).engine.connect() as conn:
                version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            response = await app.test_client().get("/")
        assert {version} == head_revisions()
        assert response.status_code == 200


async def test_concurrent_auto_migrations_do_not_race(backend, tmp_path):
    import asyncio

    async with fresh_database(backend, tmp_path) as url:
        engines = [create_engine(url) for _ in range(3)]
        try:
            await asyncio.gather(*(upgrade(engine) for engine in engines))
        finally:
            for engine in engines:
                await engine.dispose()
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        finally:
            await engine.dispose()
        assert set(versions) == head_revisions() and len(versions) == 1


@pytest.mark.parametrize("app_config", [{"SQL_COUNT_HEADER": True}])
async def test_sql_count_header_reports_the_statements_of_each_request(client, db_session, app_config):
    author = await make_user(db_session, "ada")
    await make_post(db_session, author, "Counted")
    home = await client.get("/")
    assert int(home.headers["X-SQL-Statements"]) >= 1
    health = await client.get("/healthz")
    assert health.headers["X-SQL-Statements"] == "0"


async def test_sql_count_header_is_off_by_default(client):
    response = await client.get("/healthz")
    assert "X-SQL-Statements" not in response.headers


@pytest.mark.parametrize("tuning", [True, False])
async def test_the_garbage_collector_is_tuned_at_start_only_when_configured(database_url, tuning):
    """QUARTBLOG_GC_TUNING (on by default): at start-up what exists is frozen and the young
    generation is collected less often; docs/performance.md ("Garbage collector") has the
    figures that keep it.  Off, the interpreter's settings are left alone."""
    import gc

    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's defaults
    try:
        app = create_app(make_config(database_url, GC_TUNING=tuning))
        async with app.test_app():
            assert gc.get_threshold() == ((50_000, 20, 50) if tuning else (700, 10, 10))
            assert (gc.get_freeze_count() > 0) if tuning else True
    finally:
        gc.set_threshold(*before)


def test_settings_are_converted_by_their_type_and_a_wrong_value_is_named():
    from quartblog.config import ConfigError, Settings

    settings = Settings.from_env({"QUARTBLOG_AUTO_MIGRATE": "on", "QUARTBLOG_DB_POOL_SIZE": " 7 ",
                                  "QUARTBLOG_DB_CONNECT_TIMEOUT": "2.5", "QUARTBLOG_CORS_ORIGINS": "a, b,",
                                  "QUARTBLOG_DATABASE_URL": "", "QUARTBLOG_CACHE_ENABLED": "0"})
    assert (settings.AUTO_MIGRATE, settings.DB_POOL_SIZE, settings.DB_CONNECT_TIMEOUT) == (True, 7, 2.5)
    assert settings.CORS_ORIGINS == ["a", "b"] and settings.DATABASE_URL is None and settings.CACHE_ENABLED is False
    for name, value in [("DB_POOL_SIZE", "twenty"), ("AUTO_MIGRATE", "maybe")]:
        with pytest.raises(ConfigError, match=f"QUARTBLOG_{name}='{value}' is not a valid"):
            Settings.from_env({f"QUARTBLOG_{name}": value})
