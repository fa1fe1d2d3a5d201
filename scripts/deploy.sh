#!/usr/bin/env bash
# Deploy a pushed image to a VM over SSH (make deploy / make rollback).
#
# The VM needs Docker with the Compose plugin, and nothing else: no checkout,
# no build. The deploy bundle is docker-compose.prod.yml, Caddyfile, .env
# (from ENV_FILE, with IMAGE and TAG set to the image being deployed), the
# scripts the VM runs and the backup timer's systemd units, rendered for
# DEPLOY_PATH. Nothing at DEPLOY_PATH changes until the deploy can succeed:
#
# 1. the bundle is uploaded beside the live files, to a directory of its own
#    (DEPLOY_PATH/.deploy-next.<id>), and the VM's deploy lock is taken: a
#    second deploy started meanwhile stops there, changing nothing;
# 2. the VM pulls the image; if it cannot, the deploy stops there;
# 3. the secrets are created on the VM the first time (they never leave it);
# 4. the live files move to DEPLOY_PATH/.deploy-previous, the new ones take
#    their place, and scripts/prod-up.sh runs: a one-off container checks the
#    settings and applies the migrations, then web is replaced without a pause;
# 5. if that fails, the previous files are put back and the previous version
#    runs as before.
#
# Environment: DEPLOY_HOST (user@host), DEPLOY_PATH, DEPLOY_IMAGE
# (registry/repository), DEPLOY_TAG, ENV_FILE, and SSH_OPTIONS for extra ssh
# arguments (e.g. "-p 2222 -i ~/.ssh/deploy").
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"


host="${DEPLOY_HOST:-}"
path="${DEPLOY_PATH:-/srv/babyshop}"
image="${DEPLOY_IMAGE:-}"
tag="${DEPLOY_TAG:-}"
env_file="${ENV_FILE:-.env}"
[ -n "$host" ] || fail "DEPLOY_HOST is not set: expected user@host of the VM, e.g. make deploy DEPLOY_HOST=deploy@shop.example.com"
[ -n "$image" ] && [ -n "$tag" ] || fail "DEPLOY_IMAGE and DEPLOY_TAG must name a pushed image"
[ -f "$env_file" ] || fail "$env_file not found: copy .env.example to .env and set SITE_DOMAIN"
case "$path" in
    *$'\n'*) fail "DEPLOY_PATH must not contain a line break: expected an absolute path on the VM" ;;
    /*) ;;
    *) fail "DEPLOY_PATH='$path' is not valid: expected an absolute path on the VM" ;;
esac

read -r -a ssh_options <<<"${SSH_OPTIONS:-}"
# remote COMMAND [ARG...]: run a command on the VM. ssh hands the remote
# shell one string, so each word is quoted for it: a DEPLOY_PATH with spaces
# or quotes stays one argument, and nothing in it is ever run.
remote() {
    ssh "${ssh_options[@]}" -o BatchMode=yes -- "$host" "$(printf '%q ' "$@")"
}

# on_vm PATH IMAGE BUNDLE: the VM's part, sent to it as a script (bash -s).
# The new bundle waits in PATH/BUNDLE.
on_vm() {
    set -euo pipefail
    exec </dev/null  # this script came on stdin: nothing below may read it
    local path="$1" reference="$2" next="$3" name
    local files=(docker-compose.prod.yml docker-compose.cache.yml docker-compose.monitoring.yml
        docker-compose.s3.yml monitoring Caddyfile .env scripts systemd)
    stop() {
        echo "deploy: $*" >&2
        exit 2
    }
    cd -- "$path"
    # shellcheck disable=SC2064  # expanded now: $next is gone when the script exits
    trap "rm -rf -- $(printf %q "$next")" EXIT
    # Held until this script ends, by the descriptor; released by the
    # kernel even if the connection drops.
    exec 9>>.deploy.lock
    flock --nonblock 9 \
        || stop "another deploy to $path is running: nothing was changed; wait for it to finish, then deploy again"
    [ ! -e .deploy-previous ] \
        || stop "$path/.deploy-previous exists: an interrupted deploy left the files from before it there; put them back (or delete it), then deploy again"
    if ! { docker pull --quiet "$reference" >/dev/null && docker image inspect "$reference" >/dev/null; }; then
        stop "the VM cannot pull the image $reference: expected an image pushed earlier (make push; docker login on the VM for a private registry); nothing was changed"
    fi
    SECRETS_DIR="$PWD/secrets" SECRETS_IMAGE="$reference" "$next/scripts/make-secrets.sh"
    unset S3_SECRET_ACCESS_KEY

    mkdir .deploy-previous
    for name in "${files[@]}"; do
        if [ -e "$name" ]; then mv -- "$name" .deploy-previous/; fi
        mv -- "$next/$name" .
    done
    if ENV_FILE=.env scripts/prod-up.sh; then
        rm -rf .deploy-previous
        return
    fi

    for name in "${files[@]}"; do
        rm -rf -- "$name"
        if [ -e ".deploy-previous/$name" ]; then mv -- ".deploy-previous/$name" .; fi
    done
    rmdir .deploy-previous
    [ -e docker-compose.prod.yml ] \
        || stop "$reference did not start (the error is above); this was the first deploy here, and its files were removed"
    # Changes nothing if the check stopped prod-up; brings the previous
    # containers back if it got as far as replacing them.
    ENV_FILE=.env scripts/compose.sh up --detach --wait --no-build \
        || stop "$reference did not start, and the previous version did not start again either (the errors are above)"
    stop "$reference did not start (the error is above): the previous files are back in place and the previous version runs"
}

# The deploy user (from DEPLOY_HOST or the SSH configuration) runs the backup timer.
user="$(ssh "${ssh_options[@]}" -G -T -- "$host" | awk '$1 == "user" { print $2 }')"
[[ "$user" =~ ^[A-Za-z_][A-Za-z0-9_.-]*$ ]] || fail "the SSH user '$user' for $host is not a plain user name: expected user@host"

bundle="$(mktemp -d)"
trap 'rm -rf -- "$bundle"' EXIT
mkdir "$bundle/scripts" "$bundle/systemd"
cp -R docker-compose.prod.yml docker-compose.cache.yml docker-compose.monitoring.yml \
    docker-compose.s3.yml monitoring Caddyfile "$bundle/"
cp scripts/lib.sh scripts/compose.sh scripts/make-secrets.sh scripts/prod-up.sh scripts/backup.sh scripts/restore.sh \
    scripts/db-init.sh scripts/db-roles.sh "$bundle/scripts/"
{
    grep -vE '^[[:space:]]*(IMAGE|TAG|SECRETS_DIR)=' "$env_file" || true
    echo "IMAGE=$image"
    echo "TAG=$tag"
} >"$bundle/.env"
chmod 600 "$bundle/.env"

# The units, for this path and user. In unit files % starts a specifier, so
# it is doubled; the script's path is an ExecStart argument, which is split
# on spaces and expands $: it is double-quoted, with \ and " escaped and $
# doubled.
unit_path="${path//\%/%%}"
script="${unit_path//\\/\\\\}/scripts/backup.sh"
script="${script//\"/\\\"}"
script="\"${script//\$/\$\$}\""
service="$(<deploy/systemd/babyshop-backup.service.in)"
service="${service//@USER@/"$user"}"
service="${service//@WORKING_DIRECTORY@/"$unit_path"}"
service="${service//@BACKUP_SCRIPT@/"$script"}"
printf '%s\n' "$service" >"$bundle/systemd/babyshop-backup.service"
cp deploy/systemd/babyshop-backup.timer "$bundle/systemd/"

echo "deploy: $image:$tag to $host:$path"
next=".deploy-next.$(date -u +%Y%m%dT%H%M%SZ).$$"
# shellcheck disable=SC2016  # expanded by the VM's shell
tar -C "$bundle" -cf - . | remote bash -c 'mkdir -p -- "$1" && tar -C "$1" -xf - --no-same-owner' \
    upload "$path/$next"
# The script goes on ssh's stdin; so does the bucket's secret key, if given
# here for the VM's first MEDIA_STORAGE=s3 deploy (make-secrets.sh there
# writes it once): never on a command line, where ps would show it.
# shellcheck disable=SC2016  # run on the VM
{
    [ -z "${S3_SECRET_ACCESS_KEY:-}" ] || printf 'export S3_SECRET_ACCESS_KEY=%q\n' "$S3_SECRET_ACCESS_KEY"
    declare -f on_vm
    echo 'on_vm "$@"'
} | remote bash -s -- "$path" "$image:$tag" "$next"
echo "deploy: $host now runs $image:$tag"
