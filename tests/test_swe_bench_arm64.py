"""SWE-bench with `force_arch: arm64` on this x86_64 engine: arm64 images from an arm64 debootstrap
base (no Docker Hub), the synthetic instances run in arm64 containers under qemu binfmt emulation.

Needs a Docker engine (`.ci/setup-docker.sh`) and qemu-aarch64 registered with the F flag
(`.ci/setup-arm64.sh`); skips with the reason otherwise. The base image is built once per
machine (debootstrap under emulation) and stays in the engine for later runs.
"""

from __future__ import annotations

import json
import shutil
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import run_dir_of, run_evalpack
from evalpack import docker_engine
from evalpack.benchmarks.swe_bench import images

FIXTURE = Path(__file__).parent / "fixtures" / "swe_synthetic"
sys.path.insert(0, str(FIXTURE))
from make_repo import make_repo  # noqa: E402

ENGINE_OK, ENGINE_WHY = docker_engine.available()
EMULATED = images.emulation_enabled("arm64") or (ENGINE_OK and docker_engine.native_arch() == "arm64")
pytestmark = [
    pytest.mark.skipif(not ENGINE_OK, reason=f"no Docker engine here: {ENGINE_WHY}"),
    pytest.mark.skipif(not EMULATED, reason="arm64 binaries do not run here: register qemu-aarch64 with "
                                            "binfmt_misc (.ci/setup-arm64.sh)"),
]
NAME = "swe_bench_verified_mini"


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    path = tmp_path_factory.mktemp("swe-arm64") / "tinycalc"
    make_repo(path)
    images.build_base("arm64")
    return path


def run_eval(mock_server, repo: Path, tmp_path: Path, responder: str) -> tuple[dict, dict]:
    server = mock_server("--responder", f"{FIXTURE / 'responder.py'}:{responder}")
    extra = {"repos": {"evalpack/tinycalc": str(repo)}, "timeout": 120, "force_arch": "arm64",
             "build_docker_images": True, "instance_ids": ["evalpack__tinycalc-1", "evalpack__tinycalc-3"]}
    proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", NAME,
                        "--dataset-args", json.dumps({NAME: {"local_path": str(FIXTURE), "extra_params": extra}}),
                        "--dataset-dir", str(tmp_path), "--work-dir", str(tmp_path / "out"), "--quiet",
                        timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = run_dir_of(proc)
    section = json.loads((run_dir / "report.json").read_text())["datasets"][0]
    rows = [json.loads(line) for line in (run_dir / "samples" / f"{NAME}.jsonl").read_text().splitlines()]
    return section, {r["sample_id"]: r for r in rows}


def test_gold_resolves_in_arm64_containers(mock_server, repo, tmp_path):
    section, samples = run_eval(mock_server, repo, tmp_path, "gold")
    assert section["num_errors"] == 0, section
    assert section["statuses"] == {"resolved": 2}, section
    for row in samples.values():
        tags = row["detail"]["images"]
        assert tags["base"] == images.base_tag("arm64")
        assert ".arm64." in tags["instance"]
        inspected = docker_engine.docker("image", "inspect", "--format", "{{.Architecture}}", tags["instance"])
        assert inspected.stdout.strip() == "arm64"


def test_a_wrong_patch_does_not_resolve_on_arm64(mock_server, repo, tmp_path):
    section, samples = run_eval(mock_server, repo, tmp_path, "wrong")
    assert section["num_errors"] == 0, section
    assert samples["evalpack__tinycalc-1"]["detail"]["status"] == "unresolved"
    assert samples["evalpack__tinycalc-3"]["detail"]["status"] == "patch_malformed"
    assert section["score"] == 0.0


def test_pack_with_images_and_force_arch_arm64_packs_arm64_images(repo, tmp_path):
    mirror = tmp_path / "mirror" / NAME  # a dataset dir holding the sample: --mirror's layout
    mirror.mkdir(parents=True)
    for name in ("test.jsonl", "specs.json", "evalpack-sample.json"):
        shutil.copy(FIXTURE / name, mirror / name)
    out = tmp_path / "kit.tar"
    proc = run_evalpack("pack", "--datasets", NAME, "--mirror", str(mirror.parent), "--with-images",
                        "--force-arch", "arm64", "--repo", f"evalpack/tinycalc={repo}", "--out", str(out),
                        timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with tarfile.open(out) as tar:
        listing = json.load(tar.extractfile(f"datasets/{NAME}/images/images.json"))
    tags = [t for archive in listing["archives"] for t in archive["tags"]]
    assert tags and all("-arm64-" in t or ".arm64." in t for t in tags), tags
    for tag in tags:
        arch = docker_engine.docker("image", "inspect", "--format", "{{.Architecture}}", tag)
        assert arch.stdout.strip() == "arm64", tag
