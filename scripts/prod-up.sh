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
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"


env_file="${ENV_FILE:-.env}"
[ -f "$env_file" ] || fail "$env_file not found: copy .env.example to .env and set SITE_DOMAIN"
secrets_dir="$(setting SECRETS_DIR ./secrets)"
for name in secret_key postgres_password; do
    [ -f "$secrets_dir/$name" ] || fail "$secrets_dir/$name not found: create the secrets with make secrets"
done

"${compose[@]}" run --rm web python manage.py check --deploy --fail-level WARNING
"${compose[@]}" up --detach --wait --no-build
