#!/bin/sh
# Container entrypoint for the web image (development and production).
#
# `manage.py prestart` checks every setting, waits for PostgreSQL and
# migrates (its docstring says how; docs/decisions.md why at start). Then the
# command (gunicorn by default) replaces this shell and receives SIGTERM
# directly.
#
# One-off commands skip the database steps with MIGRATE_ON_START=false, e.g.
#   docker compose run --rm -e MIGRATE_ON_START=false web python manage.py shell
set -eu

python manage.py prestart
exec "$@"
