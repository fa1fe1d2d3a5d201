#!/usr/bin/env bash
# Back up the running production stack (make backup): the database as a
# pg_dump custom-format archive taken inside the db container, the media
# volume as a tar archive, and a SHA256SUMS manifest, in
# BACKUP_DIR/<UTC time>/ (default ./backups). Keeps the newest BACKUP_KEEP
# backups (default 7) and deletes older ones.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"


root="${BACKUP_DIR:-backups}"
keep="${BACKUP_KEEP:-7}"
case "$keep" in
    '' | *[!0-9]* | 0) fail "BACKUP_KEEP='$keep' is not valid: expected a whole number of backups to keep, at least 1" ;;
esac
require_running db web

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
target="$root/$stamp"
partial="$root/.$stamp.partial"
[ ! -e "$target" ] || fail "$target exists already: wait a second and run it again"
mkdir -p "$partial"
trap 'rm -rf "$partial"' EXIT
chmod 700 "$root" "$partial"

# Inside the db container, over its local socket: no password needed here.
# shellcheck disable=SC2016  # expanded by the container's shell
"${compose[@]}" exec -T db sh -c 'pg_dump --username="$POSTGRES_USER" --dbname="$POSTGRES_DB" --format=custom' \
    >"$partial/database.dump"
"${compose[@]}" exec -T web tar -C /app/media -cf - . >"$partial/media.tar"
"${compose[@]}" exec -T web python manage.py shell --verbosity 0 -c \
    "from products.models import Product, Category; print(f'products={Product.objects.count()} categories={Category.objects.count()}')" \
    >"$partial/contents.txt"
(cd "$partial" && sha256sum database.dump media.tar contents.txt >SHA256SUMS)

mv "$partial" "$target"
trap - EXIT
echo "backup: $target ($(du -sh "$target" | cut -f1); $(cat "$target/contents.txt"))"

# Retention: the newest $keep backups stay.
find "$root" -mindepth 1 -maxdepth 1 -type d -name '20*Z' | sort | head -n "-$keep" | while read -r old; do
    rm -rf "$old"
    echo "backup: removed $old (BACKUP_KEEP=$keep)"
done
