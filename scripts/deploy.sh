#!/usr/bin/env bash
# Deploy a pushed image to a VM over SSH (make deploy / make rollback).
#
# The VM needs Docker with the Compose plugin, and nothing else: no checkout,
# no build. This copies the deploy bundle to DEPLOY_PATH there:
#   docker-compose.prod.yml, Caddyfile, .env (from ENV_FILE, with IMAGE and
#   TAG set to the image being deployed) and the scripts it runs;
# creates the secrets on the VM the first time (they never leave it), pulls
# the image and runs scripts/prod-up.sh: a one-off container checks the
# settings and applies the migrations, then the stack is updated in place.
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
    /*) ;;
    *) fail "DEPLOY_PATH='$path' is not valid: expected an absolute path on the VM" ;;
esac

read -r -a ssh_options <<<"${SSH_OPTIONS:-}"
remote() {
    ssh "${ssh_options[@]}" -o BatchMode=yes "$host" "$@"
}

bundle="$(mktemp -d)"
trap 'rm -rf "$bundle"' EXIT
mkdir -p "$bundle/scripts"
cp docker-compose.prod.yml Caddyfile "$bundle/"
cp scripts/lib.sh scripts/make-secrets.sh scripts/prod-up.sh scripts/backup.sh scripts/restore.sh "$bundle/scripts/"
{
    grep -vE '^[[:space:]]*(IMAGE|TAG|SECRETS_DIR)=' "$env_file" || true
    echo "IMAGE=$image"
    echo "TAG=$tag"
} >"$bundle/.env"
chmod 600 "$bundle/.env"

echo "deploy: $image:$tag to $host:$path"
tar -C "$bundle" -cf - . | remote "mkdir -p '$path' && tar -C '$path' -xf - --no-same-owner"
remote "cd '$path' && docker pull --quiet '$image:$tag' >/dev/null \
    && SECRETS_IMAGE='$image:$tag' scripts/make-secrets.sh \
    && ENV_FILE=.env scripts/prod-up.sh"
echo "deploy: $host now runs $image:$tag"
