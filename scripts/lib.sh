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

# require_settings: stop unless the env file and every secret file exist.
require_settings() {
    local env_file="${ENV_FILE:-.env}" secrets_dir name
    [ -f "$env_file" ] || fail "$env_file not found: copy .env.example to .env and set SITE_DOMAIN"
    secrets_dir="$(setting SECRETS_DIR ./secrets)"
    for name in secret_key postgres_password cache_password; do
        [ -f "$secrets_dir/$name" ] || fail "$secrets_dir/$name not found: create the secrets with make secrets"
    done
}

# web_replicas: WEB_REPLICAS (default 2), or stop if it is not a number >= 1.
web_replicas() {
    local replicas
    replicas="$(setting WEB_REPLICAS 2)"
    [[ "$replicas" =~ ^[1-9][0-9]{0,2}$ ]] || fail "WEB_REPLICAS='$replicas' is not valid: expected a whole number >= 1"
    printf '%s\n' "$replicas"
}

# require_running SERVICE...: stop unless each of these services runs.
require_running() {
    local running service
    running="$("${compose[@]}" ps --services --status running)"
    for service in "$@"; do
        grep -qx "$service" <<<"$running" || fail "the $service service is not running: start the stack first (make prod-up)"
    done
}

# setting NAME [DEFAULT]: the value of NAME from the environment, else its
# last NAME=value line in ENV_FILE (one pair of surrounding quotes removed,
# as Compose reads it), else DEFAULT. So a systemd timer, which starts with an
# empty environment, finds the same settings as the stack.
setting() {
    local name="$1" value
    if [ -n "${!name+set}" ]; then
        printf '%s\n' "${!name}"
        return
    fi
    value="$(sed -n "s/^[[:space:]]*$name=//p" "${ENV_FILE:-.env}" 2>/dev/null | tail -n 1)"
    case "$value" in
        \'*\' | \"*\") value="${value:1:${#value}-2}" ;;
    esac
    printf '%s\n' "${value:-${2:-}}"
}

# docker compose for the production stack. The project name (the prefix of
# its containers, volumes and networks) is babyshop-prod unless
# COMPOSE_PROJECT_NAME says otherwise.
compose=(docker compose --project-name "$(setting COMPOSE_PROJECT_NAME babyshop-prod)"
    -f docker-compose.prod.yml --env-file "${ENV_FILE:-.env}")

# check_archives DIR: read DIR/database.dump and DIR/media.tar through to
# their ends, in the db container (pg_restore and GNU tar are there). A
# checksum only proves the files are what was written; a dump truncated
# before its checksum was taken passes `pg_restore --list` (the table of
# contents comes first) and fails only here, where every data block is read.
check_archives() {
    "${compose[@]}" exec -T db pg_restore --file=/dev/null <"$1/database.dump" \
        || { echo "$1/database.dump cannot be read through: it is not a complete pg_dump archive"; return 1; }
    "${compose[@]}" exec -T db tar -tf - <"$1/media.tar" >/dev/null \
        || { echo "$1/media.tar cannot be listed through: it is not a complete tar archive"; return 1; }
}
