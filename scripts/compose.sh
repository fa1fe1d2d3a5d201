#!/usr/bin/env bash
# docker compose on the production stack, as the production scripts run it
# (project name, file, settings): the Makefile's prod-* targets call this.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
exec "${compose[@]}" "$@"
