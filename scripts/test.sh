#!/usr/bin/env bash
# Install quartblog with its test dependencies and run the whole test suite:
# SQLite, MariaDB through asyncmy and through aiomysql, PostgreSQL through asyncpg,
# the concurrency tests against a real hypercorn, the browser test, and the RealWorld
# contract's own Postman collection (newman).
# Extra arguments go to pytest (e.g. `bash scripts/test.sh --db sqlite -x`).
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e ".[test]"

# MariaDB: start it when it is installed but not answering (CI machines may have it stopped).
if command -v mariadbd >/dev/null 2>&1 && ! mariadb-admin --user=root --host=127.0.0.1 ping >/dev/null 2>&1; then
    echo "starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec "$(command -v mariadbd)" || true
    for _ in $(seq 60); do
        mariadb-admin --user=root --host=127.0.0.1 ping >/dev/null 2>&1 && break
        sleep 1
    done
fi

# PostgreSQL: start the cluster when it is installed but not answering.
if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    echo "starting PostgreSQL"
    for version in $(ls /etc/postgresql 2>/dev/null); do
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 60); do
        pg_isready -h 127.0.0.1 -p 5432 -q && break
        sleep 1
    done
fi

# Debian's Chromium for the end-to-end test (Playwright drives it; no browser download).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# Percona's pt-online-schema-change (Debian's percona-toolkit, with Perl DBI and DBD::mysql):
# migrations that add a column to posts on MariaDB run through it (quartblog/migrations/pt_osc.py).
if ! command -v pt-online-schema-change >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing percona-toolkit"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq percona-toolkit >/dev/null
fi
# Chinese fonts, so that the end-to-end test's screenshots of the Chinese pages show Chinese.
if ! dpkg -s fonts-noto-cjk >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing fonts-noto-cjk"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null
fi

# newman, pinned in tests/realworld, runs the RealWorld contract's own Postman collection
# (tests/api/test_realworld_collection.py).
if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing nodejs and npm"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if command -v npm >/dev/null 2>&1 && [ ! -x tests/realworld/node_modules/.bin/newman ]; then
    (cd tests/realworld && npm ci --silent --no-audit --no-fund)
fi

exec python -m pytest "$@"
