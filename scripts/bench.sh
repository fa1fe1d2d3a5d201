#!/usr/bin/env bash
# Print the figures the project tracks (not a test: nothing here can fail on a
# slow machine). Works on a copy of the tracked files, so your tree and your
# .env are never touched. Usage: make bench
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
project="babyshop-bench-$$"
image="babyshop-bench:$$"
base="${PYTHON_IMAGE:-python:3.13-slim}"

# `make prod-up`, in the copy, as its own project.
prod() {
    make --no-print-directory -C "$work" "$@" ENV_FILE="$work/.env" COMPOSE_PROJECT_NAME="$project"
}

cleanup() {
    prod prod-destroy CONFIRM=yes >/dev/null 2>&1 || true
    docker image rm --force "$image" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
mb() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1000000 }'; }

git -C "$root" ls-files -z | (cd "$root" && xargs -0 tar -cf - --) | tar -xf - -C "$work"
build() { docker build --quiet --target production -t "$image" "$@" "$work" >/dev/null; }

start="$(now)"
build --no-cache
cold="$(since "$start")"

echo "<!-- bench $(now) -->" >>"$work/babyshop_app/templates/base.html"
start="$(now)"
build
rebuild="$(since "$start")"

size="$(docker image inspect --format '{{.Size}}' "$image")"
base_size="$(docker image inspect --format '{{.Size}}' "$base")"

cat >"$work/.env" <<ENV
IMAGE=${image%%:*}
TAG=${image##*:}
SITE_DOMAIN=localhost
HTTP_PORT=127.0.0.1:0
HTTPS_PORT=127.0.0.1:0
ENV
SECRETS_DIR="$work/secrets" "$work/scripts/make-secrets.sh" >/dev/null
start="$(now)"
prod prod-up >/dev/null 2>&1
healthy="$(since "$start")"

printf '%-52s %8s\n' \
    "production image, own layers over $base (MB)" "$(mb $((size - base_size)))" \
    "production image, total (MB)" "$(mb "$size")" \
    "cold build, no layer cache (s)" "$cold" \
    "rebuild after a one-line template change (s)" "$rebuild" \
    "make prod-up to healthy, empty database (s)" "$healthy"
