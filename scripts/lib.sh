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
    local secrets_dir name
    [ -f "$env_file" ] || fail "$env_file not found: copy .env.example to .env and set SITE_DOMAIN"
    secrets_dir="$(setting SECRETS_DIR ./secrets)"
    for name in secret_key postgres_password smtp_password ${cache:+cache_password} \
        ${media_in_bucket:+s3_secret_key}; do
        [ -f "$secrets_dir/$name" ] || fail "$secrets_dir/$name not found: create the secrets with make secrets"
    done
    if [ -n "$media_in_bucket" ]; then
        for name in S3_BUCKET S3_ACCESS_KEY_ID; do
            [ -n "$(setting "$name")" ] \
                || fail "MEDIA_STORAGE=s3 needs $name: expected the bucket's name and key id, the secret key in $secrets_dir/s3_secret_key (docs/object-storage.md)"
        done
    fi
    if [ -n "$monitoring" ]; then
        [ -n "$(setting SMTP_HOST)" ] \
            || fail "MONITORING=true needs SMTP_HOST: alerts are mailed through the shop's SMTP server (docs/monitoring.md)"
        [ -n "$(setting ALERT_EMAIL)" ] \
            || fail "MONITORING=true needs ALERT_EMAIL: expected the address alerts are mailed to, e.g. ops@example.com"
    fi
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

# Every setting as Compose itself reads it: the environment first, then
# ENV_FILE with Compose's own rules for quotes, comments and ${...}, as
# `docker compose config --environment` (Compose 2.28 or later) prints them.
# So a systemd timer, which starts with an empty environment, finds the same
# settings as the stack.
env_file="${ENV_FILE:-.env}"
if [ -f "$env_file" ]; then read_from="$env_file"; else read_from=/dev/null; fi
# (ENV_FILE too: web's env_file is checked even here.)
environment="$(ENV_FILE="$read_from" docker compose --env-file "$read_from" -f docker-compose.prod.yml \
    config --environment 2>&1)" \
    || fail "cannot read the settings in $env_file as Compose does: $(tail -n 1 <<<"$environment")"

# setting NAME [DEFAULT]: NAME's value, or DEFAULT if it is unset or empty.
setting() {
    local value
    value="$(sed -n "s/^$1=//p" <<<"$environment" | head -n 1)"
    printf '%s\n' "${value:-${2:-}}"
}

# on_off NAME DEFAULT: "on" or "" for a true/false setting, read as the app
# reads it (babyshop/config.py); stop on anything else.
on_off() {
    local value
    value="$(setting "$1" "$2")"
    case "${value,,}" in
        1 | true | yes | on) echo on ;;
        0 | false | no | off) ;;
        *) fail "$1='$value' is not valid: expected true or false" ;;
    esac
}

# The optional capabilities in use: each one's compose file goes over
# docker-compose.prod.yml (for Compose and Swarm alike).
# The cache is Compose's `cache` profile, which a Swarm does not know: its file.
cache="$([[ ",$(setting COMPOSE_PROFILES)," == *,cache,* ]] && echo on || true)"
monitoring="$(on_off MONITORING false)"
media_storage="$(setting MEDIA_STORAGE local)"
case "${media_storage,,}" in
    local) media_in_bucket="" ;;
    s3) media_in_bucket=on ;;
    *) fail "MEDIA_STORAGE='$media_storage' is not valid: expected local or s3" ;;
esac
compose_files=(docker-compose.prod.yml)
[ -z "$cache" ] || compose_files+=(docker-compose.cache.yml)
[ -z "$media_in_bucket" ] || compose_files+=(docker-compose.s3.yml)
[ -z "$monitoring" ] || compose_files+=(docker-compose.monitoring.yml)
if [ -n "$monitoring" ]; then
    # Alertmanager's SMTP settings (docker-compose.monitoring.yml), from the
    # shop's: it connects in TLS from the start on port 465 only.
    smtp_security="$(setting SMTP_SECURITY STARTTLS)"
    case "${smtp_security^^}" in
        TLS) smtp_port=465 ;;
        STARTTLS) smtp_port=587 ;;
        *) smtp_port=25 ;;
    esac
    ALERT_SMTP_SMARTHOST="$(setting SMTP_HOST):$(setting SMTP_PORT "$smtp_port")"
    ALERT_SMTP_REQUIRE_TLS="$([ "${smtp_security^^}" = NONE ] && echo false || echo true)"
    ALERT_EMAIL_FROM="$(setting EMAIL_FROM "babyshop <shop@$(setting SITE_DOMAIN localhost)>")"
    export ALERT_SMTP_SMARTHOST ALERT_SMTP_REQUIRE_TLS ALERT_EMAIL_FROM
fi

# docker compose for the production stack. The project name (the prefix of
# its containers, volumes and networks) is babyshop-prod unless
# COMPOSE_PROJECT_NAME says otherwise.
compose=(docker compose --project-name "$(setting COMPOSE_PROJECT_NAME babyshop-prod)"
    --env-file "$env_file")
for file in "${compose_files[@]}"; do compose+=(-f "$file"); done

# check_archives DIR [CONTENTS]: read DIR/database.dump and DIR/media.tar
# through to their ends, in the db container (pg_restore and GNU tar are
# there), and write to CONTENTS what the dump holds: "table rows", a line per
# table. A checksum only proves the files are what was written; a dump
# truncated before its checksum was taken passes `pg_restore --list` (the
# table of contents comes first) and fails only here, where every data block
# is read.
check_archives() {
    # Each table's data is a COPY block: a line per row (COPY escapes the
    # newlines in values), ended by a line "\.".
    "${compose[@]}" exec -T db pg_restore --data-only --file=- <"$1/database.dump" \
        | awk '/^COPY / { table = $2; sub(/^public[.]/, "", table); rows = 0; next }
               table != "" && $0 == "\\." { print table, rows; table = ""; next }
               table != "" { rows++ }' | sort >"${2:-/dev/null}" \
        || { echo "$1/database.dump cannot be read through: it is not a complete pg_dump archive"; return 1; }
    "${compose[@]}" exec -T db tar -tf - <"$1/media.tar" >/dev/null \
        || { echo "$1/media.tar cannot be listed through: it is not a complete tar archive"; return 1; }
}
