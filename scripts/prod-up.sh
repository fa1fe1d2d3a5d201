#!/usr/bin/env bash
# Start (or update) the production stack: make prod-up here, and the last step
# of make deploy on the VM, where this file is part of the deploy bundle.
#
# 1. run the web container once, without a restart policy (manage.py
#    release): it checks the settings (check --deploy) before anything
#    changes, then waits for the database and applies the migrations, so a bad
#    setting, a wrong password or an unreachable database stops here with its
#    one-line message, not in a restart loop;
# 2. first start (no web container runs): start every service and wait until
#    they are up (healthy where checked);
# 3. update (web runs): replace web without a pause. WEB_REPLICAS new web
#    containers start beside the running ones, and only once every one of them
#    is healthy (and so in the proxy's rotation) are the old ones stopped:
#    SIGTERM, in-flight requests finish, then they are removed. If a new
#    container does not become healthy, the new ones are removed and the old
#    ones go on serving. Then the worker, the same way: its running task
#    finishes before the old one exits. db and cache are recreated only if their settings
#    changed, the proxy only if its settings or its Caddyfile did (a pause of
#    about a second then: a Caddyfile replaced by a deploy reaches the proxy
#    only in a new container), and Prometheus likewise with its configuration
#    (or told to read it again).
#
# Old and new code overlap during an update, on the new schema: migrations
# must be expand/contract (docs/deploy.md, "Deploying without a pause").
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"


require_settings
replicas="$(web_replicas)"

"${compose[@]}" run --rm -e MIGRATE_ON_START=false web python manage.py release

mapfile -t old < <("${compose[@]}" ps --quiet web)
if [ "${#old[@]}" -eq 0 ]; then
    "${compose[@]}" up --detach --wait --no-build
    exit
fi

# replace SERVICE COUNT [SETTLE]: start COUNT new containers of SERVICE
# beside the running ones; once every new one is healthy (and SETTLE more
# seconds have passed), stop the old ones (SIGTERM: they finish what they
# are doing first) and remove them. If a new one does not become healthy,
# the new ones are removed and the old ones go on.
replace() {
    local service="$1" count="$2" settle="${3:-0}" old new
    mapfile -t old < <("${compose[@]}" ps --quiet "$service")
    echo "prod-up: starting $count new $service containers beside the ${#old[@]} running"
    if ! "${compose[@]}" up --detach --wait --wait-timeout 180 --no-build --no-deps --no-recreate \
        --scale "$service=$((${#old[@]} + count))" "$service"; then
        mapfile -t new < <("${compose[@]}" ps --all --quiet "$service" | grep -vxF -f <(printf '%s\n' "${old[@]}"))
        [ "${#new[@]}" -eq 0 ] || docker rm --force --volumes "${new[@]}" >/dev/null
        fail "the new $service containers did not become healthy (the error is above; make prod-logs shows theirs): they were removed, the ${#old[@]} running before go on"
    fi
    if [ "${#old[@]}" -eq 0 ]; then return; fi
    sleep "$settle"
    echo "prod-up: the new $service containers are healthy; stopping the ${#old[@]} old ones (they finish what they are doing first)"
    docker stop "${old[@]}" >/dev/null
    docker rm --volumes "${old[@]}" >/dev/null
}

"${compose[@]}" up --detach --wait --no-build --remove-orphans db ${cache:+cache}
# The proxy skips a container for 2 s after a connection to it failed
# (fail_duration in the Caddyfile), as connections to a new one do while it
# starts: stopped sooner, the old ones would leave it none to take requests
# for up to a second.
replace web "$replicas" 2
# For a moment two workers run: they never take the same task (docs/worker.md).
replace worker 1

recreate=()
"${compose[@]}" exec -T proxy cat /etc/caddy/Caddyfile | cmp -s - Caddyfile || recreate=(--force-recreate)
"${compose[@]}" up --detach --wait --no-build --no-deps "${recreate[@]}" proxy
if [ -n "$monitoring" ]; then
    # The services the monitoring files add, none of which web depends on:
    # those the stack's files name and the others alone do not.
    others=(docker compose --env-file "$env_file")
    for file in "${compose_files[@]}"; do
        [[ $file == docker-compose.monitoring* ]] || others+=(-f "$file")
    done
    mapfile -t monitoring_services < <(comm -13 <("${others[@]}" config --services | sort) \
        <("${compose[@]}" config --services | sort))
    [ "${#monitoring_services[@]}" -gt 0 ] || fail "MONITORING=true: no service found in docker-compose.monitoring.yml"
    # Prometheus reads its files at start and on SIGHUP. A file replaced (a
    # deploy, a git pull) is not the one its running container has mounted:
    # a new container then; one edited in place is, and SIGHUP has it read.
    recreate=()
    files=(prometheus.yml alerts.yml)
    "${compose[@]}" exec -T prometheus sh -c 'cd /etc/prometheus && cat "$@"' sh "${files[@]}" \
        | cmp -s - <(cd monitoring && cat "${files[@]}") || recreate=(--force-recreate)
    "${compose[@]}" up --detach --wait --no-build --no-deps "${recreate[@]}" "${monitoring_services[@]}"
    [ "${#recreate[@]}" -gt 0 ] || docker kill --signal HUP "$("${compose[@]}" ps --quiet prometheus)" >/dev/null
fi
