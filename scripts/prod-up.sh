#!/usr/bin/env bash
# Start (or update) the production stack: make prod-up here, and the last step
# of make deploy on the VM, where this file is part of the deploy bundle.
#
# 1. run the web container once, without a restart policy: it checks the
#    settings (manage.py check --deploy), waits for the database and applies
#    the migrations, so a bad setting, a wrong password or an unreachable
#    database stops here with its one-line message, not in a restart loop;
# 2. start every service and wait until they are up (healthy where checked).
set -euo pipefail
cd "$(dirname "$0")/.."

compose=(docker compose -f docker-compose.prod.yml --env-file "${ENV_FILE:-.env}")

"${compose[@]}" run --rm web python manage.py check --deploy
"${compose[@]}" up --detach --wait --no-build
