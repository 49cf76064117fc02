"""The offline software kit, built for aarch64, installed and run on aarch64 (under emulation).

`.ci/setup-arm64.sh` registers qemu-aarch64 with binfmt_misc and debootstraps a Debian bookworm
arm64 root once (cached). Here, for real:
  1. `evalpack pack --wheels --platform manylinux2014_aarch64 --python-version 3.11` (from PyPI,
     the one network this machine has: the connected side of the seed's flow);
  2. the kit's own install.sh in the aarch64 root, inside a network namespace with no interface
     up (nothing can be downloaded);
  3. `evalpack demo` there (`uname -m` = aarch64);
  4. MMLU (3 subjects) and GSM8K against `evalpack mock` on this host's 127.0.0.1, and the same
     command on x86_64: the scores must be equal.
The root is never written: the kit, the venv, the datasets (read-only) and the outputs are
bind-mounted into it inside a private mount namespace. Skips, with the reason, where binfmt
cannot be enabled or the setup script has not run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import DATASETS, run_dir_of, run_evalpack

ROOT = Path(os.environ.get("EVALPACK_ARM64_ROOT", "/var/cache/evalpack-ci/arm64-bookworm"))
RESPONDER = Path(__file__).parent / "responders" / "arm64.py"
SUBJECTS = ["astronomy", "college_biology", "world_religions"]


def unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root (chroot, mount and network namespaces)"
    reason = ROOT.with_name(ROOT.name + ".unavailable")
    if reason.is_file():
        return reason.read_text().strip()
    if not (ROOT / ".evalpack-root-ok").is_file():
        return f"no aarch64 root at {ROOT}: run .ci/setup-arm64.sh (CI does)"
    if not Path("/proc/sys/fs/binfmt_misc/qemu-aarch64").is_file():
        return "qemu-aarch64 is not registered with binfmt_misc: run .ci/setup-arm64.sh"
    for tool in ("unshare", "chroot", "mount"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    return None


pytestmark = pytest.mark.skipif(unavailable() is not None, reason=f"aarch64 emulation: {unavailable()}")


def in_root(mounts: dict[str, tuple[Path, bool]], command: list[str], *, offline: bool = False,
            env: dict | None = None, timeout: float = 1200) -> subprocess.CompletedProcess:
    """Run `command` in the aarch64 root with host dirs bind-mounted at /mnt/<name> (ro when True),
    /proc and a /dev/shm for multiprocessing; with offline, in a network namespace of its own."""
    binds = "".join(f"mount --bind {src} {ROOT}/mnt/{name} && "
                    + (f"mount -o remount,bind,ro {ROOT}/mnt/{name} && " if ro else "")
                    for name, (src, ro) in mounts.items())
    script = (f"mount --make-rprivate / && {binds}mount -t proc proc {ROOT}/proc && "
              f"mount -t tmpfs tmpfs {ROOT}/dev/shm && exec chroot {ROOT} \"$@\"")
    unshare = ["unshare", "--mount", "--fork"] + (["--net"] if offline else [])
    return subprocess.run([*unshare, "sh", "-c", script, "sh", *command], capture_output=True, text=True,
                          timeout=timeout, env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": "/root",
                                                "LANG": "C.UTF-8", **(env or {})})


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The aarch64 software kit, verified and installed offline in the root: (mounts, pack log)."""
    work = tmp_path_factory.mktemp("arm64")
    kit = work / "software.tar"
    proc = run_evalpack("pack", "--wheels", "--platform", "manylinux2014_aarch64", "--python-version", "3.11",
                        "--out", str(kit), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    unpacked = work / "kit"
    with tarfile.open(kit) as tar:
        tar.extractall(unpacked, filter="data")
    assert (unpacked / "INSTALL.md").is_file() and (unpacked / "install.sh").is_file()
    for name in ("venv", "out"):
        (work / name).mkdir()
    mounts = {"kit": (unpacked, True), "venv": (work / "venv", False), "data": (DATASETS, True),
              "out": (work / "out", False)}
    # PIP_NO_COMPILE: byte-compiling all of sympy under qemu-user takes minutes and tests nothing
    # about the kit (a real aarch64 machine compiles it in seconds)
    setup = in_root(mounts, ["sh", "/mnt/kit/install.sh", "/mnt/venv"], offline=True, env={"PIP_NO_COMPILE": "1"})
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-3000:]
    assert "evalpack " in setup.stdout
    return mounts, work


def test_software_kit_is_all_aarch64_wheels_with_checksums(installed):
    _, work = installed
    manifest = json.loads((work / "kit" / "manifest.json").read_text())
    assert manifest["datasets"] == []
    names = [w["name"] for w in manifest["wheels"]["files"]]
    assert any(n.startswith("evalpack-") for n in names)
    binary = [n for n in names if not n.endswith("-none-any.whl")]
    assert binary and all("aarch64" in n for n in binary), binary  # aiohttp, pyyaml, ... for the target
    sums = (work / "kit" / "SHA256SUMS").read_text().split()
    assert sorted(sums[1::2]) == sorted(names)


def test_a_corrupt_wheel_stops_the_install_before_pip(installed, tmp_path):
    _, work = installed
    bad = tmp_path / "kit"
    shutil.copytree(work / "kit", bad)
    wheel = next((bad / "wheels").glob("evalpack-*.whl"))
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 1
    wheel.write_bytes(bytes(data))
    (tmp_path / "venv").mkdir()
    proc = in_root({"kit": (bad, True), "venv": (tmp_path / "venv", False)},
                   ["sh", "/mnt/kit/install.sh", "/mnt/venv"], offline=True)
    assert proc.returncode != 0
    assert "FAILED" in proc.stdout + proc.stderr
    assert not (tmp_path / "venv" / "bin").exists()  # pip never ran


def test_demo_runs_on_aarch64(installed):
    mounts, _ = installed
    arch = in_root(mounts, ["uname", "-m"])
    assert arch.stdout.strip() == "aarch64", arch
    demo = in_root(mounts, ["/mnt/venv/bin/evalpack", "demo", "--work-dir", "/mnt/out/demo", "--quiet"])
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "mmlu" in demo.stdout


def test_mmlu_and_gsm8k_score_the_same_on_aarch64_and_x86_64(installed, mock_server, tmp_path):
    mounts, work = installed
    server = mock_server("--responder", f"{RESPONDER}:respond")
    args = ["eval", "--model", "mock", "--api-url", server.url, "--datasets", "mmlu", "gsm8k",
            "--dataset-args", json.dumps({"mmlu": {"subset_list": SUBJECTS}}), "--limit", "8", "--quiet"]
    arm = in_root(mounts, ["/mnt/venv/bin/evalpack", *args, "--dataset-dir", "/mnt/data",
                           "--work-dir", "/mnt/out/eval"])
    assert arm.returncode == 0, arm.stdout[-2000:] + arm.stderr[-3000:]
    arm_dir = work / "out" / run_dir_of(arm).relative_to("/mnt/out")
    x86 = run_evalpack(*args, "--dataset-dir", str(DATASETS), "--work-dir", str(tmp_path / "x86"))
    assert x86.returncode == 0, x86.stderr[-3000:]

    def scores(run_dir: Path) -> dict:
        report = json.loads((run_dir / "report.json").read_text())
        # what was scored, not how long it took or where it ran
        kept = ("score", "metric", "metrics", "num_scored", "num_samples", "num_errors", "num_unparsed", "subsets",
                "groups")
        return {d["dataset"]: {k: d[k] for k in kept if k in d} for d in report["datasets"]}

    arm_scores, x86_scores = scores(arm_dir), scores(run_dir_of(x86))
    assert set(arm_scores) == {"mmlu", "gsm8k"}
    assert arm_scores == x86_scores
    # not a degenerate run: some right, some wrong, nothing errored
    for section in arm_scores.values():
        assert section["num_errors"] == 0 and section["num_samples"] > 0
    assert 0 < arm_scores["gsm8k"]["score"] < 1

