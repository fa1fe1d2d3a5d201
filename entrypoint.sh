#!/bin/sh
# Container entrypoint for the web image (development and production).
#
# `manage.py prestart` checks every setting, waits for PostgreSQL and
# migrates (its docstring says how; docs/decisions.md why at start). Then the
# command replaces this shell and receives SIGTERM directly; gunicorn, the
# default, runs inside prestart's own process instead (its docstring says why).
#
# One-off commands skip the database steps with MIGRATE_ON_START=false, e.g.
#   docker compose run --rm -e MIGRATE_ON_START=false web python manage.py shell
set -eu

if [ "${1:-}" = gunicorn ]; then
    exec python manage.py prestart "$@"
fi
python manage.py prestart
exec "$@"
