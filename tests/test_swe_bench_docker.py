"""SWE-bench through real containers: the synthetic tinycalc instances, end to end.

Images are built here offline from the debootstrap base image (`.ci/setup-docker.sh` builds
it; this module builds it itself if missing), evaluations run with `--network none`.
The model is `evalpack mock` over real HTTP on 127.0.0.1 with a responder that answers
with the gold patch, a wrong patch, a patch leaving a hanging test, or a corrupt diff.
Skips only when no Docker engine answers on this machine; CI starts one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import run_dir_of, run_evalpack
from evalpack.benchmarks import registry
from evalpack import docker_engine
from evalpack.benchmarks.swe_bench import harness, images
from evalpack.benchmarks.swe_bench.specs import load_extra_specs, spec_for
from evalpack.errors import DataMissingError

FIXTURE = Path(__file__).parent / "fixtures" / "swe_synthetic"
sys.path.insert(0, str(FIXTURE))
from make_repo import make_repo  # noqa: E402

ENGINE_OK, ENGINE_WHY = docker_engine.available()
pytestmark = pytest.mark.skipif(not ENGINE_OK, reason=f"no Docker engine here: {ENGINE_WHY}")
NAME = "swe_bench_verified_mini"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The tinycalc repo, its instances and specs, and the base image."""
    repo = tmp_path_factory.mktemp("swe") / "tinycalc"
    make_repo(repo)
    rows = {r["instance_id"]: r for r in map(json.loads, open(FIXTURE / "test.jsonl", encoding="utf-8"))}
    arch = docker_engine.native_arch()
    images.build_base(arch)
    return {"repo": repo, "rows": rows, "arch": arch, "specs": load_extra_specs(FIXTURE / "specs.json")}


def run_eval(mock_server, env, tmp_path, responder: str) -> tuple[dict, dict]:
    server = mock_server("--responder", f"{FIXTURE / 'responder.py'}:{responder}")
    dataset_args = {NAME: {"local_path": str(FIXTURE),
                           "extra_params": {"repos": {"evalpack/tinycalc": str(env["repo"])}, "timeout": 10,
                                            "build_docker_images": True}}}
    proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", NAME,
                        "--dataset-args", json.dumps(dataset_args), "--dataset-dir", str(tmp_path),
                        "--work-dir", str(tmp_path / "out"), "--quiet", timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = run_dir_of(proc)
    section = json.loads((run_dir / "report.json").read_text())["datasets"][0]
    samples = {}
    for line in (run_dir / "samples" / f"{NAME}.jsonl").read_text().splitlines():
        row = json.loads(line)
        samples[row["sample_id"]] = row
    return section, samples


def test_gold_patches_resolve_every_instance(mock_server, env, tmp_path):
    section, samples = run_eval(mock_server, env, tmp_path, "gold")
    assert section["num_errors"] == 0, section
    assert section["score"] == 1.0 and section["statuses"] == {"resolved": 3}
    assert section["harness"] == ["evalpack"]
    for sid, row in samples.items():
        detail = row["detail"]
        f2p = json.loads(env["rows"][sid]["FAIL_TO_PASS"])
        assert detail["report"]["FAIL_TO_PASS"]["success"] == f2p
        assert detail["report"]["PASS_TO_PASS"]["failure"] == []
        assert detail["images"]["base"] == images.base_tag(env["arch"])
        assert docker_engine.image_exists(detail["images"]["instance"])
    # the django-style runner (docstring names) and pytest both parsed per test
    assert samples["evalpack__tinycalc-3"]["detail"]["tests_parsed"] == 6


def test_wrong_hanging_and_malformed_answers_are_unresolved_with_reasons(mock_server, env, tmp_path):
    section, samples = run_eval(mock_server, env, tmp_path, "wrong")
    assert section["num_errors"] == 0, section
    assert section["score"] == 0.0
    assert section["statuses"] == {"patch_malformed": 1, "timed_out": 1, "unresolved": 1}
    wrong = samples["evalpack__tinycalc-1"]["detail"]
    assert wrong["status"] == "unresolved"
    assert wrong["report"]["FAIL_TO_PASS"]["failure"] == ["tests/test_ops.py::ClampTest::test_clamp_high"]
    assert wrong["report"]["PASS_TO_PASS"]["failure"] == []
    hang = samples["evalpack__tinycalc-2"]["detail"]
    assert hang["status"] == "timed_out" and "10s limit" in hang["reason"]
    corrupt = samples["evalpack__tinycalc-3"]
    assert corrupt["detail"]["status"] == "patch_malformed" and "corrupt patch" in corrupt["detail"]["reason"]
    assert "images" not in corrupt["detail"]  # no container was started for it


def _instance_image(env, sid):
    inst = env["rows"][sid]
    spec = spec_for(inst["repo"], inst["version"], env["specs"])
    return inst, spec, images.build_instance(inst, spec, env["arch"], images.open_repo(env["repo"]))


def test_empty_and_unapplicable_patches(env):
    inst, spec, tag = _instance_image(env, "evalpack__tinycalc-1")
    empty = harness.evaluate(inst, "", spec, tag, arch=env["arch"], timeout=60)
    assert empty["status"] == "unresolved" and not empty["resolved"]
    assert empty["report"]["FAIL_TO_PASS"]["failure"] == json.loads(inst["FAIL_TO_PASS"])
    assert empty["report"]["PASS_TO_PASS"]["success"] == json.loads(inst["PASS_TO_PASS"])
    # a removed line that is not in the file: neither `git apply` nor `patch --fuzz=5` takes it
    stale = inst["patch"].replace("-        return value\n", "-        return the_value\n")
    assert stale != inst["patch"]
    failed = harness.evaluate(inst, stale, spec, tag, arch=env["arch"], timeout=60)
    assert failed["status"] == "patch_failed" and "does not apply" in failed["reason"]


def test_images_survive_a_save_and_load_round_trip_and_never_hit_a_registry(env, tmp_path):
    inst, spec, tag = _instance_image(env, "evalpack__tinycalc-1")
    env_image = images.build_env(inst["repo"], inst["version"], spec, env["arch"])  # already built: its tag
    manifest = images.save_images({"tinycalc": [env_image, tag]}, tmp_path / "kit")
    archive = manifest["archives"][0]
    assert archive["tags"] == [env_image, tag] and archive["bytes"] > 1_000_000
    assert (tmp_path / "kit" / archive["file"]).stat().st_size == archive["bytes"]
    assert images.sha256_of(tmp_path / "kit" / archive["file"]) == archive["sha256"]
    docker_engine.docker("rmi", tag)
    assert not docker_engine.image_exists(tag)
    # a missing image is an error that names the fix, never a pull
    bench = registry.get(NAME)
    with pytest.raises(DataMissingError, match="evalpack unpack"):
        bench.instance_image(inst, spec, env["arch"], None, build=False)
    assert images.load_images(tmp_path / "kit") == [env_image, tag]
    assert docker_engine.image_exists(tag)
    result = harness.evaluate(inst, inst["patch"], spec, tag, arch=env["arch"], timeout=60)
    assert result["status"] == "resolved"


def test_agentic_mode_edits_in_the_container_and_its_git_diff_is_scored(mock_server, env, tmp_path):
    server = mock_server("--responder", f"{FIXTURE / 'responder.py'}:agent")
    dataset_args = {NAME: {"local_path": str(FIXTURE), "extra_params": {
        "repos": {"evalpack/tinycalc": str(env["repo"])}, "mode": "agentic", "max_steps": 6,
        "build_docker_images": True,
        "instance_ids": ["evalpack__tinycalc-1"]}}}
    proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", NAME,
                        "--dataset-args", json.dumps(dataset_args), "--dataset-dir", str(tmp_path),
                        "--work-dir", str(tmp_path / "out"), "--quiet", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = run_dir_of(proc)
    section = json.loads((run_dir / "report.json").read_text())["datasets"][0]
    assert section["statuses"] == {"resolved": 1}, section
    row = json.loads((run_dir / "samples" / f"{NAME}.jsonl").read_text().splitlines()[0])
    assert row["output"]["steps"] == 4 and row["output"]["commands"] == 3 and row["output"]["stopped"] == "answered"
    assert "-        return value\n+        return high" in row["output"]["patch"]
    assert server.stats()["chat_requests"] == 4
