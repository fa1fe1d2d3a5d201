#!/bin/sh
# Container entrypoint for the web image (development and production).
#
# 1. waits until PostgreSQL answers a real query (bounded by DB_WAIT_TIMEOUT);
# 2. applies migrations under a PostgreSQL advisory lock, so that several
#    containers starting at once migrate exactly once and all come up;
# 3. loads the demo catalog if SEED_DEMO is true (idempotent);
# 4. execs the command (gunicorn by default), which then receives SIGTERM.
#
# One-off commands pass straight through with MIGRATE_ON_START=false, e.g.
#   docker compose run --rm -e MIGRATE_ON_START=false web python manage.py shell
set -eu

fail() {
    echo "entrypoint: $*" >&2
    exit 2
}

# Strict booleans, like the Django settings: a typo is an error, not "false".
flag() {
    case "$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')" in
        1 | true | yes | on) return 0 ;;
        0 | false | no | off) return 1 ;;
        *) fail "$1='$2' is not a boolean: use true or false" ;;
    esac
}

# Whole numbers read here and by gunicorn (which would otherwise stop with
# a traceback on, say, WEB_CONCURRENCY=lots).
for name in DB_WAIT_TIMEOUT PORT WEB_CONCURRENCY GUNICORN_THREADS GUNICORN_TIMEOUT \
    GUNICORN_GRACEFUL_TIMEOUT GUNICORN_MAX_REQUESTS; do
    value="$(printenv "$name" || true)"
    case "$value" in
        *[!0-9]*) fail "$name='$value' is not valid: expected a whole number" ;;
    esac
done

if flag MIGRATE_ON_START "${MIGRATE_ON_START:-true}"; then
    python manage.py wait_for_db --timeout "${DB_WAIT_TIMEOUT:-60}"
    python manage.py migrate_locked --verbosity 1
    if flag SEED_DEMO "${SEED_DEMO:-false}"; then
        python manage.py seed_demo
    fi
fi

exec "$@"
