#!/usr/bin/env bash
# An emulated Debian aarch64 root for tests/test_arm64.py (the offline kit installed and run on
# aarch64): qemu-user-static + binfmt_misc, then `debootstrap --arch=arm64` once. The root is cached
# in $EVALPACK_ARM64_ROOT (default /var/cache/evalpack-ci/arm64-bookworm) and reused by later runs on
# the same machine; the tests never write into it (they bind-mount their own dirs). Where binfmt
# cannot be enabled this says why, writes the reason beside the root, and exits 0: the test skips
# with that reason.
set -uo pipefail
ROOT=${EVALPACK_ARM64_ROOT:-/var/cache/evalpack-ci/arm64-bookworm}
log() { echo "setup-arm64: $*" >&2; }
skip() { log "$*"; mkdir -p "$(dirname "$ROOT")"; echo "$*" > "$ROOT.unavailable"; exit 0; }
rm -f "$ROOT.unavailable"

if [ "$(uname -m)" = "aarch64" ]; then log "native aarch64: no emulation needed"; fi
if ! command -v qemu-aarch64-static >/dev/null || ! command -v update-binfmts >/dev/null \
    || ! command -v debootstrap >/dev/null; then
    log "installing qemu-user-static, binfmt-support and debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq qemu-user-static binfmt-support debootstrap >/dev/null; } \
        || skip "apt-get could not install qemu-user-static/binfmt-support/debootstrap"
fi
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null \
        || skip "binfmt_misc cannot be mounted here (not root, or no binfmt_misc in this kernel)"
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null \
    || skip "qemu-aarch64 is not registered with binfmt_misc (update-binfmts --enable qemu-aarch64 failed)"

build_root() {
    mirror=$(sed -n 's/^URIs: *\(.*\/debian\) *$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    mirror=${mirror:-http://deb.debian.org/debian}
    log "debootstrap bookworm arm64 (minbase + python3-venv) from $mirror into $ROOT: 5-30 min under emulation"
    start=$(date +%s)
    rm -rf "$ROOT.part"
    debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv,python3-pip \
        bookworm "$ROOT.part" "$mirror" > "$ROOT.log" 2>&1 \
        || { tail -5 "$ROOT.log" >&2; skip "debootstrap --arch=arm64 failed (log: $ROOT.log)"; }
    mkdir -p "$ROOT.part/mnt/kit" "$ROOT.part/mnt/venv" "$ROOT.part/mnt/data" "$ROOT.part/mnt/out"
    touch "$ROOT.part/.evalpack-root-ok"
    rm -rf "$ROOT" && mv "$ROOT.part" "$ROOT"
    log "aarch64 root ready in $(( $(date +%s) - start )) s"
}
if [ -x "$ROOT/usr/bin/python3" ] && [ -f "$ROOT/.evalpack-root-ok" ]; then
    log "cached aarch64 root: $ROOT"
else
    build_root
fi

# tests/test_swe_bench_arm64.py: the arm64 SWE-bench base image (debootstrap under emulation, once per
# machine: it stays in the Docker engine).
if docker info >/dev/null 2>&1; then
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    if ! docker image inspect evalpack/swe-base:bookworm-arm64 >/dev/null 2>&1; then
        log "building the arm64 SWE-bench base image (debootstrap under emulation, once per machine)"
    fi
    start=$(date +%s)
    PYTHONPATH="$here/src${PYTHONPATH:+:$PYTHONPATH}" python3 -m evalpack.benchmarks.swe_bench.images base arm64 >/dev/null \
        || log "the arm64 base image could not be built; tests/test_swe_bench_arm64.py will say why"
    log "arm64 SWE-bench base image ready ($(( $(date +%s) - start )) s)"
fi
