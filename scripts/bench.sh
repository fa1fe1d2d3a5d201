#!/usr/bin/env bash
# make bench: every figure the project tracks (README "Figures", issue 8),
# measured in one run and printed as one table, each beside its goal.
#
# Not a test: a missed goal is reported, never an error, since figures depend
# on the machine. The exit status is non-zero only when something is broken:
# a build or a start-up fails, or a page answers anything but 2xx.
#
# It works on a throwaway copy of the working tree (the tracked files and the
# untracked ones git does not ignore, so work not yet added is measured too;
# never .env, secrets or .venv), under names of its own (babyshop-bench-PID),
# and on exit removes every container, network, volume and image it created,
# whether it finished, failed or was interrupted. Nothing is published except
# the proxy's ports on random 127.0.0.1 ports: all traffic stays here.
#
#   1. builds, timed: cold (no layer cache; an untimed build first keeps the
#      download caches warm), then after a one-line template change and a
#      one-line view change, noting any dependency-install step that re-ran;
#   2. `make prod-up` in the copy on an empty database, timed; then again
#      with SEED_DEMO=true, so that the catalog pages have the demo catalog;
#   3. load with wrk, from a container on the stack's network: straight to
#      web (with the headers the proxy sends) and through Caddy over HTTPS;
#   4. the production stack goes; the seed-style baseline comes
#      (tests/bench/seed-style.Dockerfile): same catalog, same CPU limit,
#      same load, straight to it;
#   5. the table.
#
# Settings, from the environment (make bench BENCH_QUICK=1 works too):
#   BENCH_CPUS=1          CPU limit of both web containers (WEB_CPUS for the stack)
#   BENCH_CONNECTIONS=16  wrk connections, the same for every row
#   BENCH_THREADS=2       wrk threads
#   BENCH_SECONDS=10      measured seconds per row
#   BENCH_WARMUP=2        unmeasured seconds of the same load before each row
#   BENCH_QUICK=1         smoke test: 1 s per row, no warm-up (figures meaningless)
#   PYTHON_IMAGE          the base the image's own layers are measured over
#                         (default: the Dockerfile's, scripts/base-image.sh);
#                         the seed-style baseline is built on it too
set -euo pipefail

fail() {
    echo "bench: $*" >&2
    exit 2
}

# ---- settings: all checked before anything starts ---------------------------

quick="${BENCH_QUICK:-0}"
case "$quick" in
    0 | 1) ;;
    *) fail "BENCH_QUICK=$quick is not valid: use 1 (smoke test) or 0" ;;
esac
cpus="${BENCH_CPUS:-1}"
connections="${BENCH_CONNECTIONS:-16}"
threads="${BENCH_THREADS:-2}"
seconds="${BENCH_SECONDS:-$((quick ? 1 : 10))}"
warmup="${BENCH_WARMUP:-$((quick ? 0 : 2))}"
base="${PYTHON_IMAGE:-$("$(dirname "$0")/base-image.sh")}"

whole() { # whole NAME VALUE MINIMUM
    if ! [[ "$2" =~ ^(0|[1-9][0-9]{0,5})$ ]] || (("$2" < $3)); then
        fail "$1=$2 is not valid: expected a whole number from $3"
    fi
}
whole BENCH_CONNECTIONS "$connections" 1
whole BENCH_THREADS "$threads" 1
whole BENCH_SECONDS "$seconds" 1
whole BENCH_WARMUP "$warmup" 0
((threads <= connections)) || fail "BENCH_THREADS=$threads is more than BENCH_CONNECTIONS=$connections: wrk needs a connection per thread"

docker info >/dev/null 2>&1 || fail "cannot reach the Docker engine (docker info failed): start it first"
docker compose version >/dev/null 2>&1 || fail "docker compose (Compose v2) is not installed"
# Docker refuses a CPU limit above the engine's CPU count.
engine_cpus="$(docker info --format '{{.NCPU}}')"
if ! [[ "$cpus" =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)$ ]] \
    || ! awk -v c="$cpus" -v n="$engine_cpus" 'BEGIN { exit !(c >= 0.01 && c <= n) }'; then
    fail "BENCH_CPUS=$cpus is not valid: expected a number of CPUs from 0.01 to $engine_cpus (this engine's count)"
fi

root="$(cd "$(dirname "$0")/.." && pwd)"
git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1 \
    || fail "$root is not a git checkout: the copy is made from git's list of files"
seed_dockerfile="tests/bench/seed-style.Dockerfile"

# The baseline must install what the app imports (requirements/base.in), or
# it would fail minutes into the run: compare package names, extras and
# version ranges aside, outside comments.
missing=""
while read -r package; do
    grep -v '^[[:space:]]*#' "$root/$seed_dockerfile" | tr 'A-Z_.' 'a-z--' \
        | grep -qE "(^|[[:space:]\"'])$package([][<>=~!\"'[:space:]]|$)" || missing+=" $package"
done < <(sed -e 's/#.*//' -e '/^[[:space:]]*-/d' "$root/requirements/base.in" \
    | sed -n 's/^[[:space:]]*\([A-Za-z0-9][A-Za-z0-9._-]*\).*/\1/p' | tr 'A-Z_.' 'a-z--')
[ -z "$missing" ] || fail "$seed_dockerfile does not install${missing} (listed in requirements/base.in): add it to its pip install"

# ---- names, scratch space and the clean-up that always runs -----------------

id="babyshop-bench-$$"
tmp="$(mktemp -d)"
work="$tmp/tree"   # the copy: build context and the stack's project directory
logs="$tmp/logs"   # build and start-up output, shown when a step fails
results="$tmp/results.tsv"
mkdir -p "$work" "$logs"
: >"$results"
images=()          # every tag this run builds, removed at the end
label="babyshop.bench=$id"  # on every container and network started here

# compose_env: the environment for Compose in the copy. Every variable the
# compose file interpolates is removed from it, so that the run's env file
# decides, not whatever the calling shell exports (IMAGE, TAG, WEB_CPUS...);
# so are an outer make's flags.
compose_env=(env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS)  # completed after the copy
prod() { # prod TARGET...: make TARGET in the copy, as its own Compose project
    "${compose_env[@]}" make --no-print-directory -C "$work" "$@" \
        ENV_FILE="$work/.env" SECRETS_DIR="$work/secrets" COMPOSE_PROJECT_NAME="$id"
}
compose() {
    "${compose_env[@]}" ENV_FILE="$work/.env" SECRETS_DIR="$work/secrets" docker compose -p "$id" \
        -f "$work/docker-compose.prod.yml" --env-file "$work/.env" "$@"
}

remove_all() { # remove_all KIND FILTER: docker KIND rm every object matching FILTER
    local kind="$1" filter="$2" objects
    case "$kind" in
        container) objects="$(docker ps --all --quiet --filter "$filter")" ;;
        *) objects="$(docker "$kind" ls --quiet --filter "$filter")" ;;
    esac
    [ -z "$objects" ] && return 0
    # shellcheck disable=SC2086  # one ID per word
    case "$kind" in
        container) docker rm --force --volumes $objects ;;
        *) docker "$kind" rm $objects ;;
    esac
}

cleanup() {
    local status=$? kind filter tag
    trap '' INT TERM  # a second Ctrl-C must not leave half of it behind
    echo "bench: removing this run's containers, networks, volumes and images" >&2
    if [ -f "$work/.env" ]; then
        compose down --volumes --remove-orphans --timeout 10 >/dev/null 2>&1 || true
    fi
    # Whatever compose down missed (or could not read its env file for), by
    # the labels Compose and this script put on everything they create.
    # Containers first: a network cannot go while one is attached to it.
    for kind in container network volume; do
        for filter in "label=com.docker.compose.project=$id" "label=$label"; do
            remove_all "$kind" "$filter" >/dev/null 2>&1 || true
        done
    done
    # By tag: an image another tag also names (an identical, fully cached
    # build) only loses this run's tag.
    for tag in ${images[@]+"${images[@]}"}; do
        docker image rm "$tag" >/dev/null 2>&1 || true
    done
    rm -rf "$tmp"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers -----------------------------------------------------------------

say() { echo "bench: $*" >&2; }
# Wall-clock seconds with a fraction (bash 5's EPOCHREALTIME, else date).
now() { if [ -n "${EPOCHREALTIME:-}" ]; then echo "${EPOCHREALTIME/,/.}"; else date +%s.%N; fi; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
calc() { awk "BEGIN { $1 }"; }  # calc 'AWK STATEMENTS': arithmetic with fractions

# build TAG LOG [docker build options]: the production image, with BuildKit's
# plain progress in LOG, so that the steps that ran can be read from it.
build() {
    local tag="$1" log="$2"
    shift 2
    images+=("$id:$tag")
    docker build --progress=plain --target production --tag "$id:$tag" "$@" "$work" >"$log" 2>&1 \
        || { tail -n 25 "$log" >&2; fail "the production image does not build (docker build output above)"; }
}

# dependency_steps LOG: the dependency-install steps (pip, uv, apt-get...)
# that ran rather than came from the layer cache, one per line.
dependency_steps() {
    awk '
        /^#[0-9]+ \[/ {
            step = $0; sub(/^#[0-9]+ /, "", step)
            if (step ~ /(pip3?|uv pip) install|uv sync|poetry install|pdm (install|sync)|pipenv (install|sync)|apt-get [^&;|]*install|apk add|npm (ci|install)/)
                found[$1] = step
        }
        /^#[0-9]+ CACHED/ { cached[$1] = 1 }
        END { for (n in found) if (!(n in cached)) print found[n] }' "$1"
}

# ran_summary LOG: "none", or how many dependency steps ran and the first one.
ran_summary() {
    local steps count
    steps="$(dependency_steps "$1")"
    if [ -z "$steps" ]; then
        echo none
        return
    fi
    count="$(wc -l <<<"$steps" | tr -d ' ')"
    echo "$count re-ran: $(head -n 1 <<<"$steps" | cut -c 1-60)"
}

# cpu_ns CONTAINER: CPU time the container has used, in nanoseconds, from its
# own cgroup (v1: cpuacct.usage; v2: cpu.stat usage_usec + 000); empty if not
# readable. Read from inside, so it works whatever the host's cgroup layout.
cpu_ns() {
    # shellcheck disable=SC2016  # for the container's shell
    docker exec "$1" sh -c 'cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null \
        || sed -n "s/^usage_usec \([0-9]*\)$/\1000/p" /sys/fs/cgroup/cpu.stat' 2>/dev/null || true
}

# percent_of_core BEFORE AFTER SECONDS: the CPU nanoseconds used between two
# readings, in % of one core over the seconds wrk measured (the container idles
# outside them).
percent_of_core() {
    [ -n "$1" ] && [ -n "$2" ] || { echo "n/a"; return; }
    calc "printf \"%.0f%%\", ($2 - $1) / ($3 * 1e9) * 100"
}

# memory CONTAINER: its memory use as docker stats shows it (resident memory,
# page cache excluded), in MiB.
memory() {
    docker stats --no-stream --format '{{.MemUsage}}' "$1" | awk '{
        v = $1 + 0
        if ($1 ~ /GiB$/) v *= 1024; else if ($1 ~ /KiB$/) v /= 1024; else if ($1 ~ /[0-9]B$/) v /= 1048576
        printf "%.0f", v }'
}

# status URL [curl options]: the HTTP status of one GET from the tool container.
status() {
    local url="$1"
    shift
    docker exec "$tool" curl --silent --insecure --output /dev/null --max-time 20 \
        --write-out '%{http_code}' "$@" "$url" || true
}

# fetch URL [curl options]: the body of one GET from the tool container.
fetch() {
    local url="$1"
    shift
    docker exec "$tool" curl --silent --insecure --max-time 20 "$@" "$url" || true
}

# wrk SECONDS URL [wrk options]: wrk in the tool container; its report, then
# the line of `times` with its CPU time (user and system), for the wrk CPU column.
wrk() {
    local duration="$1" url="$2"
    shift 2
    # shellcheck disable=SC2016  # for the container's shell
    docker exec "$tool" sh -c 'wrk "$@"; status=$?; times; exit $status' wrk \
        --threads "$threads" --connections "$connections" --duration "${duration}s" \
        --timeout 10s --latency "$@" "$url"
}

# parse_wrk: wrk's report on stdin -> req/s, p50 ms, p99 ms, non-2xx, socket
# errors, wrk's CPU seconds, the seconds it ran (tab-separated).
parse_wrk() {
    awk '
        function ms(v) {
            if (v ~ /us$/) return v / 1000
            if (v ~ /ms$/) return v + 0
            if (v ~ /[0-9]s$/) return v * 1000
            if (v ~ /m$/) return v * 60000
            return v + 0
        }
        function secs(t) { split(t, p, "m"); return p[1] * 60 + p[2] }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /^Requests\/sec:/ { rps = $2 }
        /Non-2xx or 3xx responses:/ { bad = $NF }
        /Socket errors:/ { gsub(/,/, ""); sock = $4 + $6 + $8 + $10 }
        / requests in / { ran = $4; sub(/,$/, "", ran); ran = ms(ran) / 1000 }
        /^[0-9]+m[0-9.]+s [0-9]+m[0-9.]+s$/ { cpu = secs($1) + secs($2) }
        END {
            if (rps == "" || ran <= 0) exit 1
            printf "%s\t%.2f\t%.2f\t%d\t%d\t%.2f\t%.3f\n", rps, p50, p99, bad, sock, cpu, ran
        }'
}

# measure TARGET KEY URL WEB [curl and wrk options]: one row. Checks that the
# URL answers 200 (wrk counts only 4xx/5xx as errors, so a redirect would
# pass unnoticed), warms up, then measures with the CPU time of the web
# container (and of the proxy for the proxy rows) around it.
measure() {
    local target="$1" key="$2" url="$3" web="$4" code report figures
    local web_before web_after proxy_before="" proxy_after="" proxy_cpu="" wrk_cpu ran
    shift 4
    code="$(status "$url" "$@")"
    if [ "$code" != 200 ]; then
        say "$target $url answered ${code:-nothing}, not 200: row skipped"
        printf '%s\t%s\terror\tHTTP %s\n' "$target" "$key" "${code:-none}" >>"$results"
        return
    fi
    if ((warmup > 0)); then wrk "$warmup" "$url" "${wrk_headers[@]}" >/dev/null 2>&1 || true; fi
    web_before="$(cpu_ns "$web")"
    [ "$target" = proxy ] && proxy_before="$(cpu_ns "$proxy")"
    if ! report="$(wrk "$seconds" "$url" "${wrk_headers[@]}" 2>&1)" || ! figures="$(parse_wrk <<<"$report")"; then
        say "wrk failed on $target $url: $(grep -v '^[0-9]*m[0-9.]*s ' <<<"$report" | tail -n 1)"
        printf '%s\t%s\terror\twrk failed\n' "$target" "$key" >>"$results"
        return
    fi
    web_after="$(cpu_ns "$web")"
    ran="$(cut -f 7 <<<"$figures")"
    [ "$target" = proxy ] && proxy_after="$(cpu_ns "$proxy")" && proxy_cpu="$(percent_of_core "$proxy_before" "$proxy_after" "$ran")"
    wrk_cpu="$(calc "printf \"%.0f%%\", $(cut -f 6 <<<"$figures") / $ran * 100")"
    printf '%s\t%s\tok\t%s\t%s\t%s\t%s\n' "$target" "$key" "$(cut -f 1-5 <<<"$figures")" \
        "$(percent_of_core "$web_before" "$web_after" "$ran")" "${proxy_cpu:--}" "$wrk_cpu" >>"$results"
    say "$(printf '%-6s %-28s %8s req/s' "$target" "$url" "$(cut -f 1 <<<"$figures")")"
}

# field TARGET KEY N: field N of a result row (4 req/s, 5 p50, 6 p99, 7 non-2xx,
# 8 socket errors, 9 web CPU, 10 proxy CPU, 11 wrk CPU); empty if that row failed.
field() {
    awk -F '\t' -v t="$1" -v k="$2" -v n="$3" '$1 == t && $2 == k && $3 == "ok" { print $n }' "$results"
}

# start_tool NETWORK [docker run options]: the load generator's container on
# NETWORK, idle until wrk and curl are run in it; sets $tool.
start_tool() {
    local network="$1"
    shift
    tool="$(docker run --detach --label "$label" --network "$network" "$@" \
        --entrypoint sleep "$wrk_image" infinity)"
}

# load TARGET BASE WEB [curl and wrk options]: the five rows of one target.
# The static asset is the stylesheet the home page links to (hashed name in
# production), so each target is asked for what its own pages use.
load() {
    local target="$1" url="$2" web="$3" css
    shift 3
    css="$(fetch "$url/" "$@" | grep -o '<link[^>]*rel="\{0,1\}stylesheet[^>]*>' | head -n 1 \
        | sed -n 's/.*href="\([^"]*\)".*/\1/p')"
    [ -n "$css" ] || css="/no-stylesheet-link-on-the-home-page"
    measure "$target" home "$url/" "$web" "$@"
    measure "$target" category "$url/category/toys/" "$web" "$@"
    measure "$target" product "$url/products/baby-monitor/" "$web" "$@"
    measure "$target" static "$url$css" "$web" "$@"
    measure "$target" healthz "$url/healthz" "$web" "$@"
}

# ---- 1. the copy and the builds ----------------------------------------------

say "copying the working tree to $work"
(
    cd "$root"
    git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' file; do
        # A tracked file deleted in the tree is left out, as a build would.
        if [ -e "$file" ] || [ -L "$file" ]; then printf '%s\0' "$file"; fi
    done | tar --null -T - -cf -
) | tar -xf - -C "$work"
while read -r name; do
    compose_env+=(-u "$name")
done < <(grep -o '[$]{[A-Za-z_][A-Za-z0-9_]*' "$work/docker-compose.prod.yml" | cut -c 3- | sort -u)
tree="$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
untracked="$(git -C "$root" ls-files --others --exclude-standard | wc -l | tr -d ' ')"

# The load generator and the baseline come first, from the unchanged copy, so
# that a re-run on the same tree finds both in the layer cache.
wrk_image="$id-wrk:run"
seed_image="$id-seed:run"
say "building the load generator (tests/bench/wrk.Dockerfile) and the seed-style baseline"
images+=("$wrk_image")
docker build --progress=plain --tag "$wrk_image" --file "$work/tests/bench/wrk.Dockerfile" \
    "$work/tests/bench" >"$logs/wrk.log" 2>&1 || { tail -n 25 "$logs/wrk.log" >&2; fail "the wrk image does not build (output above)"; }
images+=("$seed_image")
docker build --progress=plain --tag "$seed_image" --file "$work/$seed_dockerfile" \
    --build-arg PYTHON_IMAGE="$base" "$work" >"$logs/seed.log" 2>&1 || { tail -n 25 "$logs/seed.log" >&2; fail "$seed_dockerfile does not build (output above)"; }
# (wrk -v prints its version and exits non-zero.)
wrk_version="$( (docker run --rm --label "$label" "$wrk_image" -v 2>&1 || true) | sed -n 's/^wrk \([^ ]*\).*/\1/p')"

# Untimed: checks that the tree builds at all, and fills the download caches
# (cache mounts: apt's packages, uv's wheels, the psycopg wheel it built).
say "building the production image once, untimed (download caches)"
build warm "$logs/build-warm.log"

# A cold build is one with no layer cache but warm download caches. BuildKit
# starts --no-cache builds with EMPTY cache mounts, so instead the copy's
# Dockerfile gets a new build argument in every stage: every RUN then misses
# the layer cache, while the cache mounts stay.
say "cold build (no layer cache; download caches warm)"
sed -i "/^FROM /a ARG BENCH_COLD=$id-$(now)" "$work/Dockerfile"
start="$(now)"
build cold "$logs/build-cold.log"
cold="$(since "$start")"

# rebuild_after KIND FILE LINE: append LINE to FILE in the copy and rebuild
# (image tag KIND); sets rebuilt_in (seconds) and rebuilt_ran (the
# dependency-install steps that re-ran).
rebuild_after() {
    local start
    say "rebuild after a one-line $1 change"
    echo "$3" >>"$work/$2"
    start="$(now)"
    build "$1" "$logs/build-$1.log"
    rebuilt_in="$(since "$start")"
    rebuilt_ran="$(ran_summary "$logs/build-$1.log")"
}
rebuild_after template babyshop_app/templates/base.html "<!-- bench $(now) -->"
rebuild_template="$rebuilt_in" ran_template="$rebuilt_ran"
rebuild_after view babyshop_app/products/views.py "# bench $(now)"
rebuild_view="$rebuilt_in" ran_view="$rebuilt_ran"

size="$(docker image inspect --format '{{.Size}}' "$id:view")"
base_size="$(docker image inspect --format '{{.Size}}' "$base" 2>/dev/null || echo "")"
base_note=""
if [ -z "$base_size" ]; then
    base_note=" (no $base here)"
elif [[ "$(docker image inspect --format '{{join .RootFS.Layers " "}}' "$id:view")" \
    != "$(docker image inspect --format '{{join .RootFS.Layers " "}}' "$base")"* ]]; then
    base_note=" (not built on $base: set PYTHON_IMAGE)"
fi

# ---- 2. make prod-up -----------------------------------------------------------
# One web container (WEB_REPLICAS=1): the load direct to web and through Caddy
# then reaches the same one, at BENCH_CPUS.

cat >"$work/.env" <<ENV
IMAGE=$id
TAG=view
SITE_DOMAIN=localhost
HTTP_PORT=127.0.0.1:0
HTTPS_PORT=127.0.0.1:0
WEB_CPUS=$cpus
WEB_REPLICAS=1
ENV
SECRETS_DIR="$work/secrets" "$work/scripts/make-secrets.sh" >/dev/null

say "make prod-up, empty database"
start="$(now)"
prod prod-up >"$logs/prod-up.log" 2>&1 \
    || { tail -n 25 "$logs/prod-up.log" >&2; fail "make prod-up failed (output above)"; }
healthy="$(since "$start")"

# The catalog for the load: the same env file with SEED_DEMO=true, so web is
# recreated and loads the demo catalog at start, as a demo deployment does.
say "make prod-up again with SEED_DEMO=true"
echo "SEED_DEMO=true" >>"$work/.env"
prod prod-up >"$logs/prod-up-seed.log" 2>&1 \
    || { tail -n 25 "$logs/prod-up-seed.log" >&2; fail "make prod-up with SEED_DEMO=true failed (output above)"; }

# ---- 3. load on the production stack -----------------------------------------

web="$(compose ps --quiet web)"
proxy="$(compose ps --quiet proxy)"
[ -n "$web" ] && [ -n "$proxy" ] || fail "the production stack has no running web or proxy container"
networks() { docker inspect --format '{{range $name, $_ := .NetworkSettings.Networks}}{{println $name}}{{end}}' "$1" | sed '/^$/d' | sort; }
# The network the proxy reaches web on: the load generator joins it.
edge="$(comm -12 <(networks "$web") <(networks "$proxy") | head -n 1)"
[ -n "$edge" ] || fail "web and proxy share no network"
proxy_ip="$(docker inspect --format "{{(index .NetworkSettings.Networks \"$edge\").IPAddress}}" "$proxy")"

# HTTPS must be asked for as localhost, the site's name: Caddy picks its
# certificate by the TLS server name (SNI), which wrk takes from the URL, and
# has none for "proxy". So in the tool container "localhost" is the proxy: an
# /etc/hosts of our own for wrk, --resolve for curl (which never looks
# localhost up). Web and the baseline are still found by Docker's DNS.
printf '%s localhost\n' "$proxy_ip" >"$tmp/hosts"
chmod 644 "$tmp/hosts"
start_tool "$edge" --volume "$tmp/hosts:/etc/hosts:ro"

say "load: production web, direct, then through the proxy (${seconds} s a row, ${warmup} s warm-up)"
# What Caddy sends web: the site's host, the scheme it was reached by and a
# client address (documentation range).
wrk_headers=(-H "Host: localhost" -H "X-Forwarded-Proto: https" -H "X-Forwarded-For: 203.0.113.7")
load web "http://web:8000" "$web" "${wrk_headers[@]}"
wrk_headers=(-H "Host: localhost")
# (An explicit port: without one wrk looks up the "https" service, and the
# slim image has no /etc/services.)
load proxy "https://localhost:443" "$web" --resolve "localhost:443:$proxy_ip" "${wrk_headers[@]}"
memory_web="$(memory "$web")"

say "stopping the production stack"
compose down --volumes --remove-orphans --timeout 10 >/dev/null 2>&1
docker rm --force "$tool" >/dev/null

# ---- 4. the seed-style baseline --------------------------------------------------

say "starting the seed-style baseline (migrate, seed_demo, runserver)"
seed_net="$id-seed"
docker network create --internal --label "$label" "$seed_net" >/dev/null
docker run --detach --name "$id-seed-db" --label "$label" --network "$seed_net" --network-alias db \
    --env POSTGRES_PASSWORD=bench postgres:17 >/dev/null
# Like the tutorials' compose files, the app is started once the database
# answers (on TCP: the image's first-start server listens on the socket only).
deadline=$((SECONDS + 120))
until docker exec "$id-seed-db" pg_isready --quiet --host 127.0.0.1 --username postgres; do
    ((SECONDS < deadline)) || fail "the baseline's PostgreSQL did not start within 120 s"
    sleep 0.5
done
seed_web="$(docker run --detach --name "$id-seed-web" --label "$label" --network "$seed_net" \
    --cpus "$cpus" --env DATABASE_URL=postgres://postgres:bench@db:5432/postgres "$seed_image")"
start_tool "$seed_net"
seed_url="http://$id-seed-web:8000"
wrk_headers=(-H "Host: localhost" -H "X-Forwarded-Proto: https" -H "X-Forwarded-For: 203.0.113.7")
deadline=$((SECONDS + 300))
until [ "$(status "$seed_url/healthz" "${wrk_headers[@]}")" = 200 ]; do
    if [ "$(docker inspect --format '{{.State.Running}}' "$seed_web")" != true ] || ((SECONDS >= deadline)); then
        docker logs --tail 25 "$seed_web" >&2
        fail "the seed-style baseline did not start (its log above)"
    fi
    sleep 1
done

say "load: seed-style baseline, direct"
load seed "$seed_url" "$seed_web" "${wrk_headers[@]}"
memory_seed="$(memory "$seed_web")"

# ---- 5. the table --------------------------------------------------------------

# table ALIGN: tab-separated lines on stdin as an aligned markdown table; the
# first line is the header; ALIGN has an l or r per column.
table() {
    awk -F '\t' -v align="$1" '
        { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) }
          if (NF > n) n = NF }
        END {
            for (r = 1; r <= NR; r++) {
                line = "|"
                for (i = 1; i <= n; i++) {
                    fmt = "%-" w[i] "s"
                    if (substr(align, i, 1) == "r") fmt = "%" w[i] "s"
                    line = line " " sprintf(fmt, cell[r, i]) " |"
                }
                print line
                if (r > 1) continue
                line = "|"
                for (i = 1; i <= n; i++) {
                    dash = sprintf("%" w[i] "s", ""); gsub(/ /, "-", dash)
                    if (substr(align, i, 1) == "r") dash = substr(dash, 2) ":"
                    line = line " " dash " |"
                }
                print line
            }
        }'
}

# mark VALUE OP GOAL: met or missed (n/a when there is no value).
mark() {
    [ -n "$1" ] || { echo "n/a"; return; }
    calc "print (($1 $2 $3) ? \"met\" : \"missed\")"
}
# ratio A B: A / B, empty if either is missing.
ratio() { [ -n "$1" ] && [ -n "$2" ] && calc "if ($2 > 0) printf \"%.3f\", $1 / $2" || true; }
rate() { [ -n "$1" ] && calc "fmt = $1 >= 100 ? \"%.0f\" : \"%.1f\"; printf fmt, $1" || echo "n/a"; }

mb() { calc "printf \"%.1f\", $1 / 1000000"; }
own="$(if [ -n "$base_size" ]; then mb $((size - base_size)); fi)"
x_seed="$(ratio "$(field web home 4)" "$(field seed home 4)")"
pct_web="$(ratio "$(field web home 4)" "$(field web healthz 4)")"
pct_proxy="$(ratio "$(field proxy home 4)" "$(field proxy healthz 4)")"
both() { # both SECONDS RAN GOAL: met only if within GOAL seconds and no dependency step ran
    if [ "$(mark "$1" "<=" "$3")" = met ] && [ "$2" = none ]; then echo met; else echo missed; fi
}
latency() { # latency TARGET: "p50 / p99 ms" of the catalog home page
    [ -n "$(field "$1" home 5)" ] && printf '%s / %s ms' "$(field "$1" home 5)" "$(field "$1" home 6)" || echo "n/a"
}
times_text() { [ -n "$1" ] && calc "printf \"%.2fx\", $1" || echo "n/a"; }
pct_text() { [ -n "$1" ] && calc "printf \"%.0f %%\", $1 * 100" || echo "n/a"; }

echo
echo "babyshop bench, $(date -u '+%Y-%m-%d %H:%M UTC'), tree $tree ($untracked untracked files included)"
echo "machine: $(nproc) CPUs (nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)," \
    "Docker Engine $(docker version --format '{{.Server.Version}}'), Compose $(docker compose version --short)"
echo "settings: web CPU limit $cpus for both web containers (BENCH_CPUS); wrk $wrk_version, $threads threads," \
    "$connections connections, $seconds s a row after $warmup s of warm-up (BENCH_THREADS, BENCH_CONNECTIONS," \
    "BENCH_SECONDS, BENCH_WARMUP)$( ((quick)) && echo "; QUICK MODE: a smoke test, the load figures mean nothing")"
echo
{
    printf 'figure\tvalue\tgoal\tresult\n'
    printf 'production image, own layers over %s%s\t%s MB\t<= 60 MB\t%s\n' "$base" "$base_note" "${own:-n/a}" "$(mark "$own" "<=" 60)"
    printf 'production image, total\t%s MB\t-\treported\n' "$(mb "$size")"
    printf 'cold build, no layer cache (download caches warm)\t%s s\t<= 20 s\t%s\n' "$cold" "$(mark "$cold" "<=" 20)"
    printf 'rebuild after a one-line template change\t%s s\t<= 1.5 s, no dependency step\t%s\n' \
        "$rebuild_template" "$(both "$rebuild_template" "$ran_template" 1.5)"
    printf '  dependency-install steps re-run\t%s\tnone\t\n' "$ran_template"
    printf 'rebuild after a one-line Python (view) change\t%s s\t<= 2 s, no dependency step\t%s\n' \
        "$rebuild_view" "$(both "$rebuild_view" "$ran_view" 2)"
    printf '  dependency-install steps re-run\t%s\tnone\t\n' "$ran_view"
    printf 'make prod-up -> healthy, empty database\t%s s\t<= 8 s\t%s\n' "$healthy" "$(mark "$healthy" "<=" 8)"
    printf 'catalog page req/s: production web / seed-style web (direct, %s CPU each)\t%s\t>= 4x\t%s\n' \
        "$cpus" "$(times_text "$x_seed")" "$(mark "$x_seed" ">=" 4)"
    printf 'catalog page req/s / healthz req/s: production web, direct\t%s\t>= 50 %%\t%s\n' \
        "$(pct_text "$pct_web")" "$(mark "$pct_web" ">=" 0.5)"
    printf 'catalog page req/s / healthz req/s: through Caddy HTTPS\t%s\t>= 80 %%\t%s\n' \
        "$(pct_text "$pct_proxy")" "$(mark "$pct_proxy" ">=" 0.8)"
    printf 'catalog page p50 / p99: production web, direct\t%s\t-\treported\n' "$(latency web)"
    printf 'catalog page p50 / p99: through Caddy HTTPS\t%s\t-\treported\n' "$(latency proxy)"
    printf 'catalog page p50 / p99: seed-style web, direct\t%s\t-\treported\n' "$(latency seed)"
    printf 'web memory after the load: production / seed-style\t%s / %s MiB\t-\treported\n' \
        "${memory_web:-n/a}" "${memory_seed:-n/a}"
} | table lrll

echo
names() { # names TARGET KEY: the row's labels
    case "$1" in
        web) printf 'production web, direct' ;;
        proxy) printf 'through Caddy HTTPS' ;;
        seed) printf 'seed-style web, direct' ;;
    esac
    case "$2" in
        home) printf '\tcatalog /' ;;
        category) printf '\tcategory /category/toys/' ;;
        product) printf '\tproduct /products/baby-monitor/' ;;
        static) printf '\tstatic site.css (linked)' ;;
        healthz) printf '\t/healthz' ;;
    esac
}
errors=0
for target in web proxy seed; do
    for key in home category product static healthz; do
        bad="$(field "$target" "$key" 7)"
        if [ -z "$bad" ] || ((bad > 0)); then errors=$((errors + 1)); fi
    done
done
{
    printf 'target\tpage\treq/s\tp50 ms\tp99 ms\tnon-2xx\tsocket err\tweb CPU\tproxy CPU\twrk CPU\tvs /healthz\tvs seed-style\n'
    for target in web proxy seed; do
        for key in home category product static healthz; do
            if [ -z "$(field "$target" "$key" 4)" ]; then
                printf '%s\t%s\n' "$(names "$target" "$key")" \
                    "$(awk -F '\t' -v t="$target" -v k="$key" '$1 == t && $2 == k { print $4 }' "$results")"
                continue
            fi
            vs_health="$(ratio "$(field "$target" "$key" 4)" "$(field "$target" healthz 4)")"
            vs_seed=""
            [ "$target" = web ] && vs_seed="$(times_text "$(ratio "$(field web "$key" 4)" "$(field seed "$key" 4)")")"
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(names "$target" "$key")" \
                "$(rate "$(field "$target" "$key" 4)")" "$(field "$target" "$key" 5)" "$(field "$target" "$key" 6)" \
                "$(field "$target" "$key" 7)" "$(field "$target" "$key" 8)" "$(field "$target" "$key" 9)" \
                "$(field "$target" "$key" 10)" "$(field "$target" "$key" 11)" "$(pct_text "$vs_health")" "${vs_seed:--}"
        done
    done
} | table llrrrrrrrrrr
cat <<'NOTES'

CPU columns: CPU time used during the measured seconds, in % of one core. A
web container near its limit (BENCH_CPUS x 100 %) set the pace; one well under
it was held back by something else sharing this machine's cores: the proxy,
the database, wrk itself or other work. "socket err" counts what wrk counts
(connect, read, write, timeout); Django's development server closes the
connection after a response without Content-Length (/healthz), which wrk
counts as a read error although the request succeeded.
NOTES
if ((errors > 0)); then
    echo >&2
    fail "$errors row(s) failed or had non-2xx answers (see the table)"
fi
