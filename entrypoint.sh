#!/bin/sh
# Container entrypoint for the web image (development and production).
#
# `manage.py prestart` loads the settings, which checks every environment
# variable (gunicorn's too) and stops with one line on a bad one; then, unless
# MIGRATE_ON_START is false, it waits for PostgreSQL to answer a real query
# (DB_WAIT_TIMEOUT), applies migrations under an advisory lock (several
# containers starting at once migrate exactly once) and loads the demo
# catalog if SEED_DEMO is true. Then the command (gunicorn by default)
# replaces this shell and receives SIGTERM directly.
#
# One-off commands skip the database steps with MIGRATE_ON_START=false, e.g.
#   docker compose run --rm -e MIGRATE_ON_START=false web python manage.py shell
set -eu

python manage.py prestart
exec "$@"
