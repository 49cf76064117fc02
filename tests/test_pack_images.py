"""`evalpack pack --with-images` -> `docker rmi` -> `evalpack unpack` -> `evalpack eval`, offline.

The synthetic tinycalc instances (tests/fixtures/swe_synthetic, sample data) are packed from a
--mirror dir with their images and a git bundle of the repo, all through the real CLI; the
images are removed from the engine, the kit is unpacked into a fresh dir (which verifies and
`docker load`s it) and `evalpack mock` answers with the gold patches. Image builds are
forbidden during that eval (build_docker_images: false) and the loaded images must be the
packed ones (same image IDs). Docker Hub is never contacted: the base image is debootstrapped.
The Docker tests skip only when no engine answers; CI starts one (.ci/setup-docker.sh).
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
NAME = "swe_bench_verified_mini"
IMAGES = f"datasets/{NAME}/images/swe_bench_images.tar.gz"
ENGINE_OK, ENGINE_WHY = docker_engine.available()
needs_engine = pytest.mark.skipif(not ENGINE_OK, reason=f"no Docker engine here: {ENGINE_WHY}")


def image_id(tag: str) -> str:
    return docker_engine.docker("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """The synthetic instances packed with --with-images through the CLI."""
    sys.path.insert(0, str(FIXTURE))
    from make_repo import make_repo

    work = tmp_path_factory.mktemp("packimg")
    repo = work / "tinycalc"
    make_repo(repo)
    mirror = work / "mirror" / NAME  # a dataset dir holding the sample: --mirror's layout
    mirror.mkdir(parents=True)
    for name in ("test.jsonl", "specs.json", "evalpack-sample.json"):
        shutil.copy(FIXTURE / name, mirror / name)
    images.build_base(docker_engine.native_arch())  # CI's setup script builds it; no-op then
    out = work / "kit.tar"
    proc = run_evalpack("pack", "--datasets", NAME, "--mirror", str(mirror.parent), "--with-images",
                        "--repo", f"evalpack/tinycalc={repo}", "--out", str(out), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with tarfile.open(out) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        listing = json.load(tar.extractfile(f"datasets/{NAME}/images/images.json"))
    tags = listing["archives"][0]["tags"]
    return {"work": work, "out": out, "repo": repo, "mirror": mirror, "manifest": manifest, "tags": tags,
            "ids": {t: image_id(t) for t in tags}}


@needs_engine
def test_kit_manifest_lists_bundle_and_images_with_sizes_and_hashes(kit):
    entry = kit["manifest"]["datasets"][0]
    assert entry["name"] == NAME and entry["sample"] is True
    assert sorted(f["path"] for f in entry["files"]) == ["evalpack-sample.json", "specs.json", "test.jsonl"]
    packed = {f["path"]: f for f in entry["packed"]}
    assert sorted(packed) == ["images/images.json", "images/swe_bench_images.tar.gz",
                              "repos/evalpack__tinycalc.bundle"]
    with tarfile.open(kit["out"]) as tar:
        for path, f in packed.items():
            member = tar.getmember(f"datasets/{NAME}/{path}")
            assert member.size == f["size"] and len(f["sha256"]) == 64
    assert packed["images/swe_bench_images.tar.gz"]["size"] > 1_000_000
    arch = docker_engine.native_arch()
    assert [t.split(":")[0] for t in kit["tags"]] == [
        "evalpack/swe-env", *(f"evalpack/swe-inst.{arch}.evalpack__tinycalc-{n}" for n in (1, 2, 3))]


@needs_engine
def test_unpacked_kit_loads_its_images_and_evaluates_without_building(kit, mock_server, tmp_path):
    docker_engine.docker("rmi", *kit["tags"])
    assert not any(docker_engine.image_exists(t) for t in kit["tags"])
    data = tmp_path / "data"
    proc = run_evalpack("unpack", str(kit["out"]), "--to", str(data), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "6 files written" in proc.stdout and f"{NAME}: 4 images in the Docker engine" in proc.stdout
    # the packed images themselves are back (docker save/load keeps image IDs), nothing rebuilt
    assert {t: image_id(t) for t in kit["tags"]} == kit["ids"]
    assert (data / NAME / "repos" / "evalpack__tinycalc.bundle").is_file()

    server = mock_server("--responder", f"{FIXTURE / 'responder.py'}:gold")
    args = {NAME: {"extra_params": {"build_docker_images": False, "timeout": 60}}}
    proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", NAME,
                        "--dataset-args", json.dumps(args), "--dataset-dir", str(data),
                        "--work-dir", str(tmp_path / "out"), "--quiet", timeout=900,
                        env={"EVALPACK_CACHE": str(tmp_path / "cache")})  # the bundle's clone goes here
    assert proc.returncode == 0, proc.stderr[-3000:]
    section = json.loads((run_dir_of(proc) / "report.json").read_text())["datasets"][0]
    assert section["num_errors"] == 0, section
    assert section["score"] == 1.0 and section["statuses"] == {"resolved": 3}
    used = section["images"]["env"] + section["images"]["instance"]
    assert sorted(used) == sorted(kit["tags"])
    assert {t: image_id(t) for t in kit["tags"]} == kit["ids"]

    again = run_evalpack("unpack", str(kit["out"]), "--to", str(data), timeout=600)
    assert again.returncode == 0 and "0 files written, 6 already there" in again.stdout

    # the unpacked sample dir as a --mirror, with --repo only: a fresh bundle replaces its copy
    proc = run_evalpack("pack", "--datasets", NAME, "--mirror", str(data), "--repo",
                        f"evalpack/tinycalc={kit['repo']}", "--out", str(tmp_path / "repacked.tar"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    with tarfile.open(tmp_path / "repacked.tar") as tar:
        entry = json.load(tar.extractfile("manifest.json"))["datasets"][0]
        names = tar.getnames()
    assert [f["path"] for f in entry["packed"]] == ["repos/evalpack__tinycalc.bundle"]
    assert "repos/evalpack__tinycalc.bundle" not in [f["path"] for f in entry["files"]]
    assert names.count(f"datasets/{NAME}/repos/evalpack__tinycalc.bundle") == 1


@needs_engine
def test_unpack_without_an_engine_leaves_the_images_to_the_first_eval(kit, tmp_path):
    proc = run_evalpack("unpack", str(kit["out"]), "--to", str(tmp_path / "data"),
                        env={"PATH": str(tmp_path)})  # no `docker` on this PATH
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "images were not loaded, and the first eval will load them" in proc.stdout
    assert "no `docker` command was found" in proc.stdout
    assert (tmp_path / "data" / NAME / "images" / "images.json").is_file()


@needs_engine
def test_unpack_detects_a_corrupt_byte_in_the_image_archive(kit, tmp_path):
    bad = tmp_path / "bad.tar"
    shutil.copy(kit["out"], bad)
    with tarfile.open(bad) as tar:
        member = tar.getmember(IMAGES)
    with open(bad, "r+b") as fh:  # flip one byte in the middle of the image archive
        fh.seek(member.offset_data + member.size // 2)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 0xFF]))
    data = tmp_path / "data"
    proc = run_evalpack("unpack", str(bad), "--to", str(data), timeout=600)
    assert proc.returncode == 1
    assert f"CORRUPT {NAME}/images/swe_bench_images.tar.gz: sha256" in proc.stdout
    assert "images in the Docker engine" not in proc.stdout  # nothing loaded from a bad kit
    assert not (data / NAME / "images" / "swe_bench_images.tar.gz").exists()
    assert (data / NAME / "repos" / "evalpack__tinycalc.bundle").is_file()  # the sound files are written


@needs_engine
def test_with_images_names_each_repo_without_a_clone(kit, tmp_path):
    proc = run_evalpack("pack", "--datasets", NAME, "--mirror", str(kit["mirror"].parent), "--with-images",
                        "--out", str(tmp_path / "k.tar"))
    assert proc.returncode == 2
    assert "needs a local clone of evalpack/tinycalc" in proc.stderr
    assert "--repo evalpack/tinycalc=PATH" in proc.stderr


def test_with_images_applies_only_to_swe_bench(tmp_path):
    proc = run_evalpack("pack", "--datasets", "gsm8k", "--with-images", "--out", str(tmp_path / "k.tar"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--with-images only applies to swe_bench_verified_mini" in proc.stderr
    assert not (tmp_path / "k.tar").exists()


def test_with_images_and_no_docker_command_says_how_to_get_an_engine(tmp_path):
    proc = run_evalpack("pack", "--datasets", NAME, "--with-images", "--out", str(tmp_path / "k.tar"),
                        env={"PATH": str(tmp_path)})  # no `docker` on this PATH
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no `docker` command was found" in proc.stderr and "apt-get install docker.io" in proc.stderr
    assert not (tmp_path / "k.tar.staging").exists()  # refused before anything was staged
