#!/usr/bin/env bash
# Back up the running production stack (make backup; nightly on a VM through
# the systemd timer in deploy/systemd): the database as a pg_dump
# custom-format archive taken inside the db container, the media volume as a
# tar archive, the dump's row count per table (contents.txt) and a SHA256SUMS
# manifest, in BACKUP_DIR/<UTC time>/ (default ./backups).
#
# Both archives are read through to their ends before the manifest is
# written, so a backup with a manifest is one that restores. Then the copy
# hook BACKUP_COPY_COMMAND (a shell command; the backup directory is its "$1")
# takes it off the machine; if the hook fails, this fails and deletes
# nothing. Then the backup is recorded in the database, for the backup
# alert. Last, retention: the newest BACKUP_KEEP (default 7) backups that
# pass their checksums stay, everything older goes. Each setting comes from
# the environment or else from ENV_FILE (default .env).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# A backup holds password hashes and sessions: every file and directory it
# creates is this user's alone (0600/0700), whatever BACKUP_DIR's mode.
umask 077

root="$(setting BACKUP_DIR backups)"
keep="$(setting BACKUP_KEEP 7)"
copy_command="$(setting BACKUP_COPY_COMMAND)"
case "$keep" in
    '' | *[!0-9]* | 0) fail "BACKUP_KEEP='$keep' is not valid: expected a whole number of backups to keep, at least 1" ;;
esac
require_running db web

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
target="$root/$stamp"
partial="$root/.$stamp.partial"
[ ! -e "$target" ] || fail "$target exists already: wait a second and run it again"
# Only what this creates is made private (umask): BACKUP_DIR may be a shared
# mount whose permissions are someone else's choice.
mkdir -p -- "$root"
mkdir -- "$partial"
trap 'rm -rf -- "$partial"' EXIT

# Inside the db container, over its local socket (no password needed here),
# as web's role: it owns everything there is to dump.
# shellcheck disable=SC2016  # expanded by the container's shell
"${compose[@]}" exec -T db sh -c 'pg_dump --username="$APP_DB_USER" --dbname="$POSTGRES_DB" --format=custom' \
    >"$partial/database.dump"
# A restore in progress stages its files in dot directories of the volume
# (scripts/restore.sh); they are not part of the shop's media. With
# MEDIA_STORAGE=s3 web's media directory is empty (an empty archive): the
# uploads stay in the bucket, where the shop never replaces or deletes one.
"${compose[@]}" exec -T web tar -C /app/media --exclude='./.restore-*' --exclude='./.previous-*' -cf - . \
    >"$partial/media.tar"
problem="$(check_archives "$partial" "$partial/contents.txt")" \
    || fail "the backup just taken is unusable, so it was not kept: $problem"
(cd "$partial" && sha256sum database.dump media.tar contents.txt >SHA256SUMS)

mv -- "$partial" "$target"
trap - EXIT
echo "backup: $target ($(du -sh -- "$target" | cut -f1); $(awk '{ rows += $2 } END { print NR " tables, " rows " rows" }' "$target/contents.txt"))"
[ -z "$media_in_bucket" ] \
    || echo "backup: the uploads are in bucket $(setting S3_BUCKET), which keeps them (docs/object-storage.md)"

if [ -n "$copy_command" ]; then
    # The user's own shell command, e.g. rsync -a "$1" backup@host:babyshop/
    sh -c "$copy_command" backup-copy "$(cd -- "$target" && pwd)" \
        || fail "BACKUP_COPY_COMMAND failed (exit $?): $target was NOT copied off this machine; it is kept, and no backup was deleted"
    echo "backup: $target copied by BACKUP_COPY_COMMAND"
fi

# Recorded in the shop's database (babyshop.Backup), where the worker reads
# the last one for Prometheus's backup alert (docs/monitoring.md); a year of
# records is kept.
# shellcheck disable=SC2016  # expanded by the container's shell and psql
"${compose[@]}" exec -T db sh -c 'exec psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --username="$APP_DB_USER" \
    --dbname="$POSTGRES_DB" --set=name="$1" --set=size="$2"' psql "$stamp" "$(du -sb -- "$target" | cut -f1)" <<'SQL' \
    || fail "$target was made, but recording it in the database failed (the error is above): the backup alert will not see it"
INSERT INTO babyshop_backup (name, finished_at, size_bytes) VALUES (:'name', now(), :size);
DELETE FROM babyshop_backup WHERE finished_at < now() - interval '1 year';
SQL

# Retention: keep the newest $keep backups that pass their checksums (a
# damaged or incomplete one does not count), and delete everything older
# than the oldest of them. Fewer good ones than that: delete nothing.
good=0
oldest_kept=""
while read -r name; do
    if (cd -- "$root/$name" && sha256sum --check --quiet --strict SHA256SUMS >/dev/null 2>&1); then
        good=$((good + 1))
        oldest_kept="$name"
        [ "$good" -lt "$keep" ] || break
    else
        echo "backup: $root/$name fails its checksums or is incomplete: not counted as one of BACKUP_KEEP=$keep" >&2
    fi
done < <(find "$root" -mindepth 1 -maxdepth 1 -type d -name '20*Z' -printf '%f\n' | sort -r)
if [ "$good" -ge "$keep" ]; then
    find "$root" -mindepth 1 -maxdepth 1 -type d -name '20*Z' -printf '%f\n' | sort | while read -r name; do
        if [[ "$name" < "$oldest_kept" ]]; then
            rm -rf -- "${root:?}/$name"
            echo "backup: removed $root/$name (BACKUP_KEEP=$keep)"
        fi
    done
fi
