#!/usr/bin/env bash
# Print the base image the Dockerfile names (e.g. python:3.13-slim): the one
# place the Python version is written. The Makefile (lock files' target),
# make-secrets.sh and the bench read it from here.
set -euo pipefail

dockerfile="$(dirname "$0")/../Dockerfile"
image="$(sed -n 's/^FROM \(python:[^ ]*\) AS base$/\1/p' "$dockerfile")"
if [ -z "$image" ]; then
    echo "base-image: $dockerfile has no 'FROM python:<version>-slim AS base' line" >&2
    exit 2
fi
echo "$image"
