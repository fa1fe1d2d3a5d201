# shellcheck shell=bash
# Shared by the production scripts (sourced, not run). They work from the
# directory that holds docker-compose.prod.yml: the repository here, the
# deploy bundle on a VM.
cd "$(dirname "$0")/.." || exit 2

# fail MESSAGE: one line on stderr, named after the script; exit 2.
fail() {
    echo "$(basename "$0" .sh): $*" >&2
    exit 2
}

compose=(docker compose -f docker-compose.prod.yml --env-file "${ENV_FILE:-.env}")

# require_running SERVICE...: stop unless each of these services runs.
require_running() {
    local running service
    running="$("${compose[@]}" ps --services --status running)"
    for service in "$@"; do
        grep -qx "$service" <<<"$running" || fail "the $service service is not running: start the stack first (make prod-up)"
    done
}
