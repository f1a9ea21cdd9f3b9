"""The package as it is installed and imported: importing builds no app, ``alembic``
needs no app settings, and a wheel (no repository beside it) carries its migrations,
migrates an empty MariaDB database with ``quart --app quartblog db upgrade`` and serves."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import sysconfig
import urllib.request
import uuid
from pathlib import Path

import pytest

from .commands import PROJECT_ROOT, alembic, command_env, run
from .conftest import IN_CI, _server_admin, mysql_url
from .site.test_browser import _free_port, _wait_until_healthy


def test_importing_the_package_and_its_models_builds_no_app():
    probe = ("import sys, quartblog, quartblog.models, quartblog.migrations\n"
             "print(repr(quartblog.app), 'quart.app' in sys.modules)")
    # production without a secret key: building the app would refuse
    result = run([sys.executable, "-c", probe], ENV="production")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["<quartblog.LazyApp", "not", "built", "yet>", "False"]


def test_alembic_works_in_production_without_a_secret_key(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'prod.db'}"
    upgraded = alembic("upgrade", "head", url=url, ENV="production")
    assert upgraded.returncode == 0, upgraded.stderr
    current = alembic("current", url=url, ENV="production")
    assert current.returncode == 0, current.stderr
    assert "(head)" in current.stdout


def test_the_lazy_app_is_the_real_app_on_first_use(tmp_path):
    probe = ("import quartblog\n"
             "print(quartblog.app.config['ENV'], type(quartblog.app.get()).__name__, repr(quartblog.app))")
    result = run([sys.executable, "-c", probe], url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["development", "BlogApp", "<quartblog.LazyApp", "built>"]


@pytest.fixture
def mariadb_database():
    name = f"qb_wheel_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_server_admin("asyncmy", f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 "
                                            "COLLATE utf8mb4_unicode_520_ci"))
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"MariaDB is not reachable: {exc}", pytrace=False)
        pytest.skip(f"MariaDB is not reachable: {exc}")
    try:
        yield mysql_url("asyncmy", name)
    finally:
        asyncio.run(_server_admin("asyncmy", f"DROP DATABASE IF EXISTS `{name}`"))


@pytest.mark.timeout(600)
def test_a_wheel_install_migrates_an_empty_mariadb_database_and_serves(tmp_path, mariadb_database):
    # the wheel, as `pip wheel .` builds it for anyone, from a clean copy of the sources
    # (an in-tree build would leave build/ in the checkout, and reuse a stale one)
    source = tmp_path / "source"
    shutil.copytree(PROJECT_ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "instance", "test-artifacts"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
                            str(tmp_path / "dist"), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("quartblog-*.whl"))

    # a fresh virtualenv that sees this one's dependencies through a .pth file (no PyPI
    # download: the wheel is what is tested); .pth files are not read from there, so
    # this checkout's editable install stays out of sight
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                                "--quiet", str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr

    elsewhere = tmp_path / "elsewhere"  # no alembic.ini, no repository
    elsewhere.mkdir()
    env = command_env(mariadb_database, SECRET_KEY="wheel-test-secret-key-0123456789-abcdefghij")
    where = run([str(python), "-c", "import quartblog; print(quartblog.__file__)"], cwd=elsewhere, env=env)
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr

    upgraded = run([str(python), "-m", "quart", "--app", "quartblog", "db", "upgrade"], cwd=elsewhere, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "Running upgrade  -> 0001" in upgraded.stderr
    assert "ignored for PRIMARY key" not in upgraded.stderr  # MariaDB's warning about pk_ names
    current = run([str(python), "-m", "quart", "--app", "quartblog", "db", "current"], cwd=elsewhere, env=env)
    assert "(head)" in current.stdout

    port = _free_port()
    server = subprocess.Popen([str(python), "-m", "hypercorn", "quartblog:app", "--bind", f"127.0.0.1:{port}"],
                              cwd=elsewhere, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_until_healthy(server, f"http://127.0.0.1:{port}/healthz")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
            assert response.status == 200
            assert b"quartblog" in response.read()
    finally:
        server.terminate()
        server.wait(timeout=30)

    # No database URL: the SQLite file is ./instance/quartblog.db where the commands run (it
    # was <venv>/var/quartblog-instance/, where nobody looks), and the server finds the
    # database the command migrated (else it would refuse to start: schema out of date).
    default = command_env(None, SECRET_KEY="wheel-test-secret-key-0123456789-abcdefghij")
    init = run([str(python), "-m", "quart", "--app", "quartblog", "db", "init"], cwd=elsewhere, env=default)
    assert init.returncode == 0 and "ship with the package" in init.stdout, init.stdout + init.stderr
    assert str(site / "quartblog" / "migrations" / "scripts") in init.stdout
    # ... and an alembic.ini for them: plain `alembic` works beside the installed package too
    assert (elsewhere / "alembic.ini").is_file(), init.stdout
    alembic_bin = [str(python), "-m", "alembic"]
    history = run([*alembic_bin, "history"], cwd=elsewhere, env=default)
    previous, head = sorted(path.name[:4] for path in (PROJECT_ROOT / "alembic" / "versions").glob("[0-9]*.py"))[-2:]
    assert history.returncode == 0 and f"{previous} -> {head} (head)" in history.stdout, history.stdout + history.stderr
    upgraded = run([*alembic_bin, "upgrade", "0010"], cwd=elsewhere, env=default)
    assert upgraded.returncode == 0 and "Running upgrade 0009 -> 0010" in upgraded.stderr, upgraded.stderr
    back = run([*alembic_bin, "downgrade", "0008"], cwd=elsewhere, env=default)
    assert back.returncode == 0 and "Running downgrade 0009 -> 0008" in back.stderr, back.stderr
    upgraded = run([str(python), "-m", "quart", "--app", "quartblog", "db", "upgrade"], cwd=elsewhere, env=default)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (elsewhere / "instance" / "quartblog.db").is_file()
    assert not (venv / "var").exists()
    port = _free_port()
    server = subprocess.Popen([str(python), "-m", "hypercorn", "quartblog:app", "--bind", f"127.0.0.1:{port}"],
                              cwd=elsewhere, env=default, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_until_healthy(server, f"http://127.0.0.1:{port}/healthz")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=30) as response:
            assert response.status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
