# The load generator of `make bench` (tests/bench/bench.py): wrk, plus curl for
# the readiness probes and the one-off requests that find the page URLs.
# Built during each bench run from the Debian base the project already uses,
# so it needs no container registry, only Debian's package mirror.
#
# Nothing is pinned: wrk is a stable, finished tool (Debian ships 4.1.x),
# the bench compares the app's pages with each other and with a baseline
# measured by this same image in the same run, so a different wrk build on
# another day shifts every row alike. The Debian release is fixed by the tag.
FROM debian:trixie-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends wrk curl \
 && rm -rf /var/lib/apt/lists/*

# Unprivileged (nobody): it only opens outgoing connections.
USER 65534:65534
ENTRYPOINT ["wrk"]
