#!/usr/bin/env bash
# Create the production stack's secret files (make secrets; also run on the VM
# by make deploy). Never overwrites an existing file: delete one on purpose to
# rotate it.
#
#   secret_key         Django's SECRET_KEY     owner 10001 (app), mode 600
#   postgres_password  the database password   owner 10001 (app), group 999 (postgres), mode 640
#   cache_password     the cache's password    owner 10001 (app), group 10001, mode 640 (the cache
#                      service runs in that group: the valkey user's uid differs between images)
#   smtp_password      your SMTP account's     owner 10001 (app), group 65534 (alertmanager), mode 640;
#                      password (SMTP_USER)    created blank: put the password in it if your SMTP
#                                              server wants one
#   s3_secret_key      the bucket's secret key  owner 10001 (app), mode 600; only with MEDIA_STORAGE=s3,
#                      (your provider's)       from S3_SECRET_ACCESS_KEY in the environment, else
#                                              asked for on a terminal
#
# Compose mounts secret files as they are (outside Swarm it ignores uid/gid/
# mode), so each file belongs to the container user that reads it, in a
# directory closed to other users of the host (700). A throwaway container
# generates the values and sets the owners: the host needs Docker only.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# SECRETS_DIR from the environment or the env file, as Compose reads it;
# relative to this checkout (or bundle), as in docker-compose.prod.yml.
dir="$(setting SECRETS_DIR ./secrets)"
# Any image with Python 3: make deploy passes the app image the VM pulls
# anyway; here, the Dockerfile's base image.
image="${SECRETS_IMAGE:-$(scripts/base-image.sh)}"

mkdir -p "$dir"
chmod 700 "$dir"

# shellcheck disable=SC2016  # expanded by the container's shell
if [ -n "$media_in_bucket" ] && [ ! -e "$dir/s3_secret_key" ] && [ -z "${S3_SECRET_ACCESS_KEY:-}" ]; then
    [ -t 0 ] || fail "MEDIA_STORAGE=s3 and no terminal to ask on: set S3_SECRET_ACCESS_KEY in the environment to the bucket's secret access key"
    read -r -s -p "The bucket's secret access key (S3_SECRET_ACCESS_KEY, not shown): " S3_SECRET_ACCESS_KEY
    echo
    [ -n "$S3_SECRET_ACCESS_KEY" ] || fail "no secret access key given: nothing was written for it"
fi
export S3_SECRET_ACCESS_KEY="${S3_SECRET_ACCESS_KEY:-}"

# The values reach the container in its environment, never on a command line.
docker run --rm --network none --user 0 --volume "$(cd "$dir" && pwd):/secrets" --env S3_SECRET_ACCESS_KEY \
    --env "S3=$media_in_bucket" --entrypoint sh "$image" -c '
    set -eu
    umask 077
    cd /secrets
    for name in secret_key postgres_password cache_password smtp_password; do
        if [ -e "$name" ]; then
            echo "secrets: $name exists, kept"
            continue
        fi
        # URL-safe, so that it also fits in a DATABASE_URL.
        python3 -c "import secrets; print(secrets.token_urlsafe(48))" >"$name"
        case "$name" in
            secret_key) chown 10001:10001 "$name" && chmod 600 "$name" ;;
            # A blank line: a Swarm secret cannot be empty.
            smtp_password) echo >"$name" ;;
            postgres_password) chown 10001:999 "$name" && chmod 640 "$name" ;;
            cache_password) chown 10001:10001 "$name" && chmod 640 "$name" ;;
        esac
        if [ "$name" = smtp_password ]; then
            echo "secrets: created smtp_password, blank: put your SMTP password in it if SMTP_USER is set"
        else
            echo "secrets: created $name"
        fi
    done
    # Alertmanager (MONITORING) reads smtp_password as nobody: in that group.
    chown 10001:65534 smtp_password && chmod 640 smtp_password
    if [ -n "$S3" ] && [ ! -e s3_secret_key ]; then
        printf "%s\n" "$S3_SECRET_ACCESS_KEY" >s3_secret_key
        chown 10001:10001 s3_secret_key && chmod 600 s3_secret_key
        echo "secrets: created s3_secret_key"
    fi'
