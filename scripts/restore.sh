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
#   stop     web and the worker stop: from here on nothing writes to the live data
#   swap     the two databases swap names in one transaction, the media swap
#            by renames; the previous ones are kept aside
#   start    scripts/prod-up.sh starts web on the restored data: its one-off
#            container applies the migrations of a newer image first; web
#            must become healthy
#
# The previous database and media are kept until you say: `restore.sh undo`
# (make restore-undo) swaps them back in the same way, keeping what it
# replaces in turn, and `restore.sh cleanup` (make restore-cleanup) deletes
# them. A restore while they are kept is refused.
#
# A failure at any step, an interrupt or a hang-up (a dropped SSH session)
# puts the previous database and media back, starts web again if it was
# stopped, and names the step in one line; after a hang-up that line and the
# rest of the output go to restore-<time>.log here. One restore (or undo, or
# cleanup) at a time. Refuses without CONFIRM=yes.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

action="${1:-restore}"
case "$action" in
    restore | undo | cleanup) ;;
    *) fail "unknown action '$action': expected restore (the default), undo or cleanup" ;;
esac
# Held until this script ends; the kernel releases it however it ends.
exec 9>>.restore.lock
flock --nonblock 9 || fail "another restore (or its undo or cleanup) is running: nothing was changed; wait for it to finish"
require_running db
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
database="$(setting POSTGRES_DB babyshop)"  # for messages; the SQL takes it from the db container
started="$SECONDS"
# sql: run the SQL on stdin with psql in the db container, over its local
# socket as the superuser (POSTGRES_USER there: ending others' sessions,
# renaming and dropping databases are a superuser's), connected to the
# maintenance database "postgres" (a database cannot be renamed or dropped by
# a session connected to it). In the SQL, :"live" is the shop's database,
# :"fresh" the one being swapped in, :"previous" the name the live one is
# kept under, :"kept" the one an earlier restore kept, and :"app" the role web
# connects as, which owns them.
sql() {
    # shellcheck disable=SC2016  # expanded by the container's shell
    "${compose[@]}" exec -T db sh -c 'PGOPTIONS="-c client_min_messages=warning" exec psql --no-psqlrc --quiet --output=/dev/null --set=ON_ERROR_STOP=1 \
        --username="$POSTGRES_USER" --dbname=postgres --set=live="$POSTGRES_DB" \
        --set=fresh="${POSTGRES_DB}_restore" --set=previous="${POSTGRES_DB}_previous_$1" --set=app="$APP_DB_USER" \
        --set=kept="${POSTGRES_DB}_previous_$2"' sql "$stamp" "${kept:-}"
}

# kept_stamp: the time of the restore whose previous database is kept (the
# suffix of <db>_previous_<time>), if any.
kept_stamp() {
    # shellcheck disable=SC2016  # expanded by the container's shell
    "${compose[@]}" exec -T db sh -c 'exec psql --no-psqlrc --quiet --tuples-only --no-align --set=ON_ERROR_STOP=1 \
        --username="$POSTGRES_USER" --dbname=postgres --set=live="$POSTGRES_DB"' <<'SQL'
SELECT substr(datname, length(:'live') + 11) FROM pg_database
    WHERE starts_with(datname, :'live' || '_previous_') ORDER BY datname;
SQL
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
#   put_back PREVIOUS STAGED STATE [KEEP]
#                   undo a media swap that got as far as STATE: once every
#                   live entry was set aside (swapped), what is live came from
#                   STAGED and goes (into KEEP, if given: an undo's incoming
#                   files are kept ones); PREVIOUS's entries come back, if any
#                   were moved; what is left of STAGED goes (into KEEP too)
#   move FROM TO    rename FROM to TO
#   remove DIR      delete DIR
# shellcheck disable=SC2016  # expanded by the container's shell
media_functions='
live() { find . -mindepth 1 -maxdepth 1 ! -name ".restore-*" ! -name ".previous-*" "$@"; }
stage() { rm -rf .restore-*; mkdir "$1"; tar -C "$1" -xf -; }
set_aside() { mkdir -p "$1"; live -exec mv -t "$1" -- {} +; }
bring_in() { find "$1" -mindepth 1 -maxdepth 1 -exec mv -t . -- {} +; rmdir "$1"; }
put_back() {
    if [ "$3" = swapped ] && [ -n "${4:-}" ]; then set_aside "$4"; fi
    if [ "$3" = swapped ] && [ -z "${4:-}" ]; then live -exec rm -rf -- {} +; fi
    if [ -n "${4:-}" ] && [ -d "$2" ]; then mkdir -p "$4"; find "$2" -mindepth 1 -maxdepth 1 -exec mv -t "$4" -- {} +; fi
    if [ -d "$1" ]; then bring_in "$1"; fi
    rm -rf -- "$2"
}
move() { mv -T -- "$1" "$2"; }
remove() { rm -rf -- "$1"; }
'
# media FUNCTION [ARG...]: one of the functions above, in a throwaway web
# container (the app user, who owns the files), in the volume. Nothing with
# MEDIA_STORAGE=s3: the uploads stay in the bucket, which holds every file a
# database of any age names (docs/object-storage.md).
media() {
    [ -z "$media_in_bucket" ] || return 0
    # shellcheck disable=SC2016  # expanded by the container's shell
    "${compose[@]}" run --rm --no-deps -T --workdir /app/media --entrypoint sh web \
        -c "set -e; $media_functions"' "$@"' media "$@"
}

# What this run has changed so far, for abort to undo.
database_state=""  # fresh: the incoming database exists; swapped: it is live
media_state=""     # staged: the incoming files are beside the live ones;
                   # aside: the live ones are being moved aside; swapped: all
                   # of them were
web_stopped=""
kept=""            # undo: the time of the kept data being swapped back in

# abort WHAT: put back what this run changed, newest first, start web again
# if this run stopped it, and fail naming the step, what went wrong and where
# the data stands. What came in is dropped, unless it was kept data (undo),
# which is kept again.
abort() {
    trap '' INT TERM HUP  # putting things back must not be interrupted
    local outcome="the live database and media were not touched" trouble="" incoming
    note() { trouble+="${trouble:+; }$*"; }
    incoming='DROP DATABASE IF EXISTS :"fresh" WITH (FORCE);'
    [ -z "$kept" ] || incoming='ALTER DATABASE :"fresh" RENAME TO :"kept";'
    [ -z "$web_stopped" ] || "${compose[@]}" stop web worker || note "web could not be stopped"
    case "$database_state" in
        swapped)
            { swap_databases fresh previous && sql <<<"$incoming"; } \
                || note "the previous database could not be put back: it is kept as ${database}_previous_$stamp" ;;
        fresh) sql <<<"$incoming" || note "${database}_restore could not be dropped or renamed" ;;
    esac
    if [ -n "$media_state" ]; then
        media put_back ".previous-$stamp" ".restore-$stamp" "$media_state" ${kept:+".previous-$kept"} \
            || note "the media could not be put back: the previous ones are in /app/media/.previous-$stamp"
    fi
    if [ -n "$web_stopped" ]; then
        outcome="the previous database and media were put back"
        if scripts/prod-up.sh; then outcome+=" and web runs again"; else note "web did not start again"; fi
    fi
    fail "$step step failed: $1; ${outcome}${trouble:+, BUT $trouble}"
}
# A hang-up (the SSH session dropped) has no terminal left to write to or
# read from: the rest of the output, its last line included, goes to a log.
hung_up() {
    exec </dev/null >>"restore-$stamp.log" 2>&1
    abort "the terminal hung up"
}
trap 'abort "interrupted"' INT TERM
trap hung_up HUP

kept_list="$(kept_stamp)" || fail "cannot list the databases (the error is above)"
mapfile -t kept_stamps < <(grep . <<<"$kept_list" || true)
case "$action" in
    cleanup)
        [ "${#kept_stamps[@]}" -gt 0 ] || fail "nothing to clean up: no restore kept the data from before it"
        for kept in "${kept_stamps[@]}"; do
            { sql <<<'DROP DATABASE :"kept" WITH (FORCE);' && media remove ".previous-$kept"; } \
                || fail "could not delete the data kept by the restore of $kept (the error is above)"
            echo "restore: deleted the database ${database}_previous_$kept and the media kept by the restore of $kept"
        done
        exit 0 ;;
    undo)
        [ "${#kept_stamps[@]}" -eq 1 ] || fail "nothing to undo: no restore kept the data from before it"
        kept="${kept_stamps[0]}"
        media test -d ".previous-$kept" \
            || fail "the database from before the restore of $kept is kept, but not its media (/app/media/.previous-$kept): nothing was changed"
        echo "restore: undoing the restore of $kept: swapping the data from before it back in"
        step=stage
        { sql <<<'DROP DATABASE IF EXISTS :"fresh" WITH (FORCE);' && sql <<<'ALTER DATABASE :"kept" RENAME TO :"fresh";'; } \
            || fail "$step step failed: could not take up the kept database (the error is above); nothing was changed"
        database_state=fresh
        media_state=staged
        media move ".previous-$kept" ".restore-$stamp" || abort "could not take up the kept media" ;;
    restore)
        backup="${BACKUP:-}"
        step=verify
        [ -n "$backup" ] || fail "BACKUP is not set: expected a backup directory, e.g. make restore BACKUP=backups/20260101T000000Z CONFIRM=yes"
        [ -f "$backup/SHA256SUMS" ] || fail "BACKUP='$backup' is not a backup: no SHA256SUMS manifest there"
        (cd "$backup" && sha256sum --check --quiet --strict SHA256SUMS) \
            || fail "$step step failed: BACKUP='$backup' fails its checksums: refusing to restore it"
        problem="$(check_archives "$backup")" || fail "$step step failed: $problem; nothing was changed"
        # (grep reads to the end, without -q: tar must not die of SIGPIPE under pipefail.)
        [ -z "$media_in_bucket" ] || ! "${compose[@]}" exec -T db tar -tf - <"$backup/media.tar" | grep -v '^[.]/$' >/dev/null \
            || fail "$step step failed: $backup/media.tar holds uploads, but MEDIA_STORAGE=s3 keeps them in the bucket: copy them there first (docs/object-storage.md); nothing was changed"
        [ "${#kept_stamps[@]}" -eq 0 ] \
            || fail "the restore of ${kept_stamps[0]} kept the data from before it: make restore-undo brings it back, make restore-cleanup deletes it; then restore again. Nothing was changed"
        if [ "${CONFIRM:-}" != yes ]; then
            fail "'$backup' is complete, and restoring it replaces the current database and media (they are kept until make restore-cleanup). To go ahead: make restore BACKUP=$backup CONFIRM=yes"
        fi

        echo "restore: $backup is complete; restoring the database beside the live one"
        step=database
        database_state=fresh
        sql <<'SQL' || abort "could not create the database ${database}_restore beside the live one"
DROP DATABASE IF EXISTS :"fresh" WITH (FORCE);
CREATE DATABASE :"fresh" OWNER :"app" TEMPLATE template0;
SQL
        # As web's role, so that it owns what is restored, as it owned the original.
        # shellcheck disable=SC2016  # expanded by the container's shell
        "${compose[@]}" exec -T db sh -c 'exec pg_restore --username="$APP_DB_USER" --dbname="${POSTGRES_DB}_restore" \
            --no-owner --exit-on-error --single-transaction' <"$backup/database.dump" \
            || abort "pg_restore could not restore $backup/database.dump into a new database (its error is above)"

        step=media
        media_state=staged
        media stage ".restore-$stamp" <"$backup/media.tar" \
            || abort "could not extract $backup/media.tar beside the live media" ;;
esac

# The stop step starts before it is announced: a hang-up the moment the line
# is read (an SSH session dropping) is then put back as this step's.
step=stop
web_stopped=yes
echo "restore: database and media staged; stopping web to swap them in"
# The worker too: it writes to the database (and holds connections to it).
"${compose[@]}" stop web worker || abort "could not stop web"

step=swap
swap_databases previous fresh || abort "could not swap the incoming database in"
database_state=swapped
# Each state is set before its step, so that a half-done step is undone too.
media_state=aside
media set_aside ".previous-$stamp" || abort "could not move the live media aside"
media_state=swapped
media bring_in ".restore-$stamp" || abort "could not move the incoming media in"

echo "restore: swapped in; starting web on them"
step=start
scripts/prod-up.sh || abort "web did not start on the incoming data (the error is above; e.g. a migration of this image fails on it)"
trap - INT TERM HUP
what="$([ -n "$kept" ] && echo "the data from before the restore of $kept is back" || echo "$backup restored")"
echo "restore: $what in $((SECONDS - started))s. The data it replaced is kept: make restore-undo swaps it back in, make restore-cleanup deletes it"
