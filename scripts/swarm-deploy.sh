#!/usr/bin/env bash
# Deploy a pushed image to a Docker Swarm (make swarm-deploy): the stack of
# docker-compose.prod.yml with docker-compose.swarm.yml over it, on the swarm
# this Docker client talks to (a manager node, or DOCKER_HOST / a docker
# context pointing at one).
#
# Before anything changes, it checks what Swarm would only find out later: a
# manager answers, the secret files exist, nodes carry the labels the
# placement needs (babyshop.db, babyshop.edge), the ports are plain numbers
# and the media volume is set. Then it exports the env file's settings (docker
# stack reads no .env), deploys, and waits until every service has converged.
# The web update is Swarm's: one task at a time, the new one healthy before an
# old one stops, and a failing one rolls the service back by itself; this
# script then says so and exits non-zero.
#
# Migrations: every web task applies them at start under PostgreSQL's advisory
# lock (entrypoint.sh, manage.py migrate_locked). With one task updated at a
# time, the first new task applies them and becomes healthy only after; the
# others find nothing to do. A separate migration job would need ordering
# that Swarm does not have: a new web task could start before the job ends.
#
# Environment: DEPLOY_IMAGE (registry/repository) and DEPLOY_TAG, ENV_FILE,
# STACK_NAME (default babyshop), SWARM_FILES (the compose files, in order).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"


stack="${STACK_NAME:-babyshop}"
image="${DEPLOY_IMAGE:-}"
tag="${DEPLOY_TAG:-}"
env_file="${ENV_FILE:-.env}"
read -r -a files <<<"${SWARM_FILES:-${compose_files[*]} docker-compose.swarm.yml}"
[ -n "$image" ] && [ -n "$tag" ] || fail "DEPLOY_IMAGE and DEPLOY_TAG must name a pushed image"
[ -z "$monitoring" ] \
    || fail "MONITORING=true is for a single VM (make prod-up): on a swarm, set it to false and scrape the services from a Prometheus of your own (docs/monitoring.md)"
require_settings
[[ "$stack" =~ ^[a-z0-9][a-z0-9_-]*$ ]] || fail "STACK_NAME='$stack' is not valid: expected lower-case letters, digits, - and _"

manager="$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)" \
    || fail "no Docker engine answers${DOCKER_HOST:+ at DOCKER_HOST=$DOCKER_HOST}: expected a swarm manager"
[ "$manager" = true ] \
    || fail "this Docker engine is not a swarm manager: run make swarm-deploy on a manager node, or point DOCKER_HOST (or a docker context) at one"

for name in HTTP_PORT HTTPS_PORT; do
    value="$(setting "$name")"
    [[ -z "$value" || "$value" =~ ^[0-9]+$ ]] \
        || fail "$name='$value' is not valid for a swarm: expected a port number (the proxy listens on every address of the edge nodes)"
done
replicas="$(web_replicas)"
[ -n "$media_in_bucket" ] || [ -n "$(setting MEDIA_VOLUME_DEVICE)" ] \
    || fail "MEDIA_VOLUME_DEVICE is not set: expected the shared directory every node mounts for uploads, e.g. :/srv/babyshop-media on an NFS server (see .env.example)"

labelled() { # labelled LABEL: the hostnames of the nodes where LABEL is true
    docker node ls --quiet | xargs docker node inspect \
        --format "{{if eq (index .Spec.Labels \"$1\") \"true\"}}{{.Description.Hostname}}{{end}}" | sed '/^$/d'
}
for label in babyshop.db babyshop.edge; do
    [ -n "$(labelled "$label")" ] \
        || fail "no node is labelled $label=true: label one with docker node update --label-add $label=true NODE"
done
[ "$(labelled babyshop.db | wc -l)" -eq 1 ] \
    || fail "several nodes are labelled babyshop.db=true: expected exactly one (the node that keeps the database volume)"

# Every variable the compose files read, from the environment or else the env
# file, as Compose would take it; then the ones this script decides.
while read -r name; do
    value="$(setting "$name")"
    if [ -n "$value" ]; then export "$name=$value"; fi
done < <(cat "${files[@]}" | grep -o '[$]{[A-Z_][A-Z0-9_]*' | cut -c 3- | sort -u)
CADDYFILE_DIGEST="$(sha256sum Caddyfile | cut -c 1-12)"
DB_INIT_DIGEST="$(sha256sum scripts/db-init.sh | cut -c 1-12)"
export IMAGE="$image" TAG="$tag" ENV_FILE="$env_file" STACK_NAME="$stack" CADDYFILE_DIGEST DB_INIT_DIGEST

echo "swarm-deploy: $image:$tag as stack $stack"
deploy=(docker stack deploy --detach=false --with-registry-auth)
for file in "${files[@]}"; do deploy+=(-c "$file"); done
"${deploy[@]}" "$stack"

# docker stack deploy returns once the services have converged, which after a
# failed update may be while Swarm is still rolling web back: wait for the end.
# web and the worker are updated alike (docker-compose.swarm.yml): check both.
for service in web worker; do
    for _ in $(seq 1 300); do
        state="$(docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "${stack}_$service")"
        case "$state" in
            updating | rollback_started) sleep 1 ;;
            *) break ;;
        esac
    done
    case "$state" in
        paused | rollback_paused)
            fail "the update of $service to $image:$tag stopped halfway ($state): docker service ps ${stack}_$service shows why; make swarm-rollback TAG=<a good tag> resumes" ;;
    esac
    running="$(docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "${stack}_$service")"
    running="${running%@*}"  # without the digest Swarm pinned
    if [ "$running" != "$image:$tag" ]; then
        reason="$(docker service ps --no-trunc --filter desired-state=shutdown --format '{{.Error}}' "${stack}_$service" \
            | sed '/^$/d' | head -n 1)"
        fail "the update of $service to $image:$tag failed${reason:+ ($reason)} and was rolled back to $running, which runs on (its logs: docker service logs ${stack}_$service)"
    fi
done
echo "swarm-deploy: stack $stack runs $image:$tag ($replicas web tasks)"
