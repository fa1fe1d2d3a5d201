#!/usr/bin/env bash
# Create the production stack's secret files (make secrets). Never overwrites
# an existing file: delete one on purpose to rotate it.
#
#   secrets/secret_key         Django's SECRET_KEY       owner 10001 (app), mode 600
#   secrets/postgres_password  the database password     owner 10001 (app), group 999 (postgres), mode 640
#
# Compose mounts secret files as they are (outside Swarm it ignores uid/gid/
# mode), so each file belongs to the container user that reads it; the
# directory is 700, closed to other users of the host.
set -euo pipefail

dir="${SECRETS_DIR:-secrets}"
image="${PYTHON_IMAGE:-python:3.13-slim}"
app_uid=10001
postgres_gid=999

umask 077
mkdir -p "$dir"
chmod 700 "$dir"

created=()
for name in secret_key postgres_password; do
    if [ -e "$dir/$name" ]; then
        echo "secrets: $dir/$name exists, kept"
        continue
    fi
    # URL-safe, so that it can also be used inside a DATABASE_URL.
    python3 -c 'import secrets; print(secrets.token_urlsafe(48))' >"$dir/$name"
    created+=("$name")
done

if [ "${#created[@]}" -gt 0 ]; then
    # Hand the new files to the container users (a throwaway root container
    # does the chown, so this works without sudo on the host).
    docker run --rm --network none --user 0 --volume "$(cd "$dir" && pwd):/secrets" --entrypoint sh "$image" -c "
        cd /secrets
        for name in ${created[*]}; do
            case \$name in
                secret_key) chown $app_uid:$app_uid secret_key && chmod 600 secret_key ;;
                postgres_password) chown $app_uid:$postgres_gid postgres_password && chmod 640 postgres_password ;;
            esac
        done"
    echo "secrets: created ${created[*]} in $dir/"
fi
