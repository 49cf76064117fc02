#!/usr/bin/env bash
# Make a Docker engine available for the SWE-bench tests on a machine without an
# init system and without Docker Hub:
#   1. install docker.io + debootstrap (if missing),
#   2. start dockerd in the background with no bridge network (containers get
#      only loopback, which is what an offline evaluation wants anyway),
#   3. wait until `docker info` answers,
#   4. build the base image (Debian bookworm minbase, from the apt mirror) once.
# Idempotent: re-running it on a ready machine does nothing but check.
set -euo pipefail

log() { echo "setup-docker: $*" >&2; }

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    log "installing docker.io and debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker.io debootstrap >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
    log "starting dockerd (log: /var/log/dockerd.log)"
    nohup dockerd --iptables=false --ip6tables=false --bridge=none \
        --storage-driver=overlay2 >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    docker info >/dev/null 2>&1 || { log "dockerd did not come up; see /var/log/dockerd.log"; tail -20 /var/log/dockerd.log >&2; exit 1; }
fi
log "docker engine ready ($(docker version --format '{{.Server.Version}}'))"

# The base image is built by evalpack itself (one code path for CI and users).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHONPATH="$here/src${PYTHONPATH:+:$PYTHONPATH}" python3 -m evalpack.benchmarks.swe_bench.images base
