#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into the running production
# stack (make restore BACKUP=backups/<time> CONFIRM=yes), all or nothing:
#
#   verify   the checksums, then the dump and the media archive read through
#            to their ends; nothing is stopped or changed before this passes
#   database the dump is restored into a new database beside the live one,
#            while the shop keeps serving
#   media    the media archive is extracted into a dot directory of the media
#            volume (dot names are never served), beside the live files
#   stop     web stops: from here on nothing writes to the live data
#   swap     the two databases swap names in one transaction, the media swap
#            by renames; the previous ones are kept aside
#   start    scripts/prod-up.sh starts web on the restored data: its one-off
#            container applies the migrations of a newer image first; web
#            must become healthy
#   cleanup  only then are the previous database and media deleted
#
# A failure at any step puts the previous database and media back, starts web
# again if it was stopped, and names the step. Refuses without CONFIRM=yes.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"


backup="${BACKUP:-}"
step=verify
[ -n "$backup" ] || fail "BACKUP is not set: expected a backup directory, e.g. make restore BACKUP=backups/20260101T000000Z CONFIRM=yes"
[ -f "$backup/SHA256SUMS" ] || fail "BACKUP='$backup' is not a backup: no SHA256SUMS manifest there"
(cd "$backup" && sha256sum --check --quiet --strict SHA256SUMS) \
    || fail "$step step failed: BACKUP='$backup' fails its checksums: refusing to restore it"
require_running db
problem="$(check_archives "$backup")" || fail "$step step failed: $problem; nothing was changed"
if [ "${CONFIRM:-}" != yes ]; then
    fail "'$backup' is complete, and restoring it replaces the current database and media. To go ahead: make restore BACKUP=$backup CONFIRM=yes"
fi

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
database="$(setting POSTGRES_DB babyshop)"  # for messages; the SQL takes it from the db container
started="$SECONDS"

# sql: run the SQL on stdin with psql in the db container, over its local
# socket as POSTGRES_USER, connected to the maintenance database "postgres"
# (a database cannot be renamed or dropped by a session connected to it).
# In the SQL, :"live" is the shop's database, :"fresh" the one being restored
# and :"previous" the name the live one is kept under until the end.
sql() {
    # shellcheck disable=SC2016  # expanded by the container's shell
    "${compose[@]}" exec -T db sh -c 'PGOPTIONS="-c client_min_messages=warning" exec psql --no-psqlrc --quiet --output=/dev/null --set=ON_ERROR_STOP=1 \
        --username="$POSTGRES_USER" --dbname=postgres --set=live="$POSTGRES_DB" \
        --set=fresh="${POSTGRES_DB}_restore" --set=previous="${POSTGRES_DB}_previous_$1"' sql "$stamp"
}

# swap_databases ASIDE INCOMING: in one transaction, the live database is
# renamed to ASIDE and INCOMING (both psql variables above) takes its name.
# Sessions still connected to either are ended first: a database in use
# cannot be renamed.
swap_databases() {
    sql <<SQL
SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
    WHERE datname IN (:'live', :'$1', :'$2') AND pid <> pg_backend_pid();
BEGIN;
ALTER DATABASE :"live" RENAME TO :"$1";
ALTER DATABASE :"$2" RENAME TO :"live";
COMMIT;
SQL
}

# Shell functions for the media volume (at /app/media in web). They only
# rename within the volume, so nothing is copied twice. The live entries are
# the top-level ones not named like a restore's dot directories.
#   stage DIR       extract the tar archive on stdin into DIR (replacing any
#                   staged copy an interrupted restore left)
#   set_aside DIR   the live entries move into DIR
#   bring_in DIR    the entries of DIR become the live ones; DIR goes
#   put_back PREVIOUS STAGED STATE
#                   undo a media restore that got as far as STATE: once every
#                   live entry was set aside (swapped), what is live came from
#                   the backup and goes; PREVIOUS's entries come back, if any
#                   were moved; the staged copy goes
#   remove DIR      delete DIR
# shellcheck disable=SC2016  # expanded by the container's shell
media_functions='
live() { find . -mindepth 1 -maxdepth 1 ! -name ".restore-*" ! -name ".previous-*" "$@"; }
stage() { rm -rf .restore-*; mkdir "$1"; tar -C "$1" -xf -; }
set_aside() { mkdir -p "$1"; live -exec mv -t "$1" -- {} +; }
bring_in() { find "$1" -mindepth 1 -maxdepth 1 -exec mv -t . -- {} +; rmdir "$1"; }
put_back() {
    if [ "$3" = swapped ]; then live -exec rm -rf -- {} +; fi
    if [ -d "$1" ]; then bring_in "$1"; fi
    rm -rf -- "$2"
}
remove() { rm -rf -- "$1"; }
'
# media FUNCTION [ARG...]: one of the functions above, in a throwaway web
# container (the app user, who owns the files), in the volume.
media() {
    # shellcheck disable=SC2016  # expanded by the container's shell
    "${compose[@]}" run --rm --no-deps -T --workdir /app/media --entrypoint sh web \
        -c "set -e; $media_functions"' "$@"' media "$@"
}

# What this run has changed so far, for abort to undo.
database_state=""  # fresh: the new database exists; swapped: it is live
media_state=""     # staged: extracted beside the live files; aside: the live
                   # ones are being moved aside; swapped: all of them were
web_stopped=""

# abort WHAT: put back what this run changed, newest first, start web again
# if this run stopped it, and fail naming the step, what went wrong and where
# the data stands.
abort() {
    trap '' INT TERM  # putting things back must not be interrupted
    local outcome="the live database and media were not touched" trouble=""
    note() { trouble+="${trouble:+; }$*"; }
    [ -z "$web_stopped" ] || "${compose[@]}" stop web || note "web could not be stopped"
    case "$database_state" in
        swapped)
            { swap_databases fresh previous && sql <<<'DROP DATABASE :"fresh" WITH (FORCE);'; } \
                || note "the previous database could not be put back: it is kept as ${database}_previous_$stamp" ;;
        fresh) sql <<<'DROP DATABASE IF EXISTS :"fresh" WITH (FORCE);' || note "${database}_restore could not be dropped" ;;
    esac
    if [ -n "$media_state" ]; then
        media put_back ".previous-$stamp" ".restore-$stamp" "$media_state" \
            || note "the media could not be put back: the previous ones are in /app/media/.previous-$stamp"
    fi
    if [ -n "$web_stopped" ]; then
        outcome="the previous database and media were put back"
        if scripts/prod-up.sh; then outcome+=" and web runs again"; else note "web did not start again"; fi
    fi
    fail "$step step failed: $1; ${outcome}${trouble:+, BUT $trouble}"
}
trap 'abort "interrupted"' INT TERM

echo "restore: $backup is complete; restoring the database beside the live one"
step=database
database_state=fresh
sql <<'SQL' || abort "could not create the database ${database}_restore beside the live one"
DROP DATABASE IF EXISTS :"fresh" WITH (FORCE);
CREATE DATABASE :"fresh" TEMPLATE template0;
SQL
# shellcheck disable=SC2016  # expanded by the container's shell
"${compose[@]}" exec -T db sh -c 'exec pg_restore --username="$POSTGRES_USER" --dbname="${POSTGRES_DB}_restore" \
    --no-owner --exit-on-error --single-transaction' <"$backup/database.dump" \
    || abort "pg_restore could not restore $backup/database.dump into a new database (its error is above)"

step=media
media_state=staged
media stage ".restore-$stamp" <"$backup/media.tar" \
    || abort "could not extract $backup/media.tar beside the live media"

echo "restore: database and media staged; stopping web to swap them in"
step=stop
web_stopped=yes
"${compose[@]}" stop web || abort "could not stop web"

step=swap
swap_databases previous fresh || abort "could not swap the restored database in"
database_state=swapped
# Each state is set before its step, so that a half-done step is undone too.
media_state=aside
media set_aside ".previous-$stamp" || abort "could not move the live media aside"
media_state=swapped
media bring_in ".restore-$stamp" || abort "could not move the restored media in"

echo "restore: swapped in; starting web on the restored data"
step=start
scripts/prod-up.sh || abort "web did not start on the restored data (the error is above; e.g. a migration of this image fails on it)"

step=cleanup
trap - INT TERM
{ sql <<<'DROP DATABASE :"previous" WITH (FORCE);' && media remove ".previous-$stamp"; } \
    || fail "$step step failed: $backup is restored and served, but the previous data could not be deleted: drop the database ${database}_previous_$stamp and remove /app/media/.previous-$stamp by hand"
echo "restore: $backup restored in $((SECONDS - started))s; the previous database and media are deleted"
