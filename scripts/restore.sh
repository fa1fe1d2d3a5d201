#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into the running production
# stack (make restore BACKUP=backups/<time> CONFIRM=yes). The checksums are
# verified first; then the web service is stopped, the database is replaced
# (pg_restore --clean) and the media volume's content is replaced, and web is
# started again. This overwrites the current data: it refuses without
# CONFIRM=yes.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"


backup="${BACKUP:-}"
[ -n "$backup" ] || fail "BACKUP is not set: expected a backup directory, e.g. make restore BACKUP=backups/20260101T000000Z CONFIRM=yes"
[ -f "$backup/SHA256SUMS" ] || fail "BACKUP='$backup' is not a backup: no SHA256SUMS manifest there"
(cd "$backup" && sha256sum --check --quiet --strict SHA256SUMS) || fail "BACKUP='$backup' fails its checksums: refusing to restore it"
if [ "${CONFIRM:-}" != yes ]; then
    fail "this replaces the current database and media with '$backup'. To go ahead: make restore BACKUP=$backup CONFIRM=yes"
fi

require_running db

echo "restore: checksums verified; stopping web"
"${compose[@]}" stop web
# shellcheck disable=SC2016  # expanded by the container's shell
"${compose[@]}" exec -T db sh -c \
    'pg_restore --username="$POSTGRES_USER" --dbname="$POSTGRES_DB" --clean --if-exists --no-owner --exit-on-error' \
    <"$backup/database.dump"
"${compose[@]}" run --rm --no-deps -T --entrypoint sh web -c \
    'find /app/media -mindepth 1 -delete && tar -C /app/media -xf -' <"$backup/media.tar"
echo "restore: database and media restored from $backup; starting web"
"${compose[@]}" up --detach --wait --no-build web
