"""Sweeps: `evalpack eval --config sweep.yaml` with several endpoints, each a run of its own,
then one compare; against real `evalpack mock` servers on 127.0.0.1 whose exact MMLU scores
are counted from the CSVs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import run_evalpack
from test_eval_mmlu import gold_letters

SUBJECTS = ["anatomy", "virology"]
LIMIT = 30
KEY = "sk-sweep-secret-7731"


def expected(datasets_dir: Path, letter: str) -> float:
    golds = [g for gs in gold_letters(datasets_dir, SUBJECTS).values() for g in gs[:LIMIT]]
    return golds.count(letter) / len(golds)


def write_sweep(path: Path, entries: list[dict], **shared) -> Path:
    data = {"datasets": ["mmlu"], "dataset_args": {"mmlu": {"subset_list": SUBJECTS}}, "limit": LIMIT,
            "quiet": True, **shared, "sweep": entries}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def run_dirs(stdout: str) -> list[Path]:
    return [Path(line.split(": ", 1)[1]) for line in stdout.splitlines() if line.startswith("run directory: ")]


def test_a_sweep_over_two_endpoints_runs_each_and_compares_them(mock_server, datasets_dir, tmp_path):
    a = mock_server("--answer", "ANSWER: C")
    b = mock_server("--answer", "The answer is (B).", "--api-key", KEY)
    entries = [{"model": "mock", "api_url": a.url}, {"model": "mock", "api_url": b.url, "api_key": KEY}]
    work = tmp_path / "out"
    same = run_evalpack("eval", "--config", str(write_sweep(tmp_path / "same.yaml", entries)),
                        "--dataset-dir", str(datasets_dir), "--work-dir", str(work))
    assert same.returncode == 2 and "would share the run directory" in same.stderr and "name:" in same.stderr
    assert a.stats()["chat_requests"] == 0 and not work.exists()  # refused before any run

    entries[0]["name"], entries[1]["name"] = "c-server", "b-server"
    config = write_sweep(tmp_path / "sweep.yaml", entries)
    done = run_evalpack("eval", "--config", str(config), "--dataset-dir", str(datasets_dir), "--work-dir", str(work))
    assert done.returncode == 0, done.stderr
    first, second = run_dirs(done.stdout)
    assert first.parent == (work / "c-server").resolve() and second.parent == (work / "b-server").resolve()
    assert a.stats()["chat_requests"] == b.stats()["chat_requests"] == 2 * LIMIT
    scores = [json.loads((d / "report.json").read_text())["datasets"][0]["score"] for d in (first, second)]
    assert scores == [pytest.approx(expected(datasets_dir, "C")), pytest.approx(expected(datasets_dir, "B"))]
    assert scores[0] != scores[1]

    # the compare, printed and written: both runs, both scores, the difference
    result = json.loads((work / "sweep-compare.json").read_text())
    assert [r["run_dir"] for r in result["runs"]] == [str(first), str(second)]
    assert [r["datasets"][0]["score"] for r in result["runs"]] == scores
    overall = result["comparisons"][0]["datasets"][0]
    assert overall["n_common"] == 2 * LIMIT and overall["difference"] == pytest.approx(scores[1] - scores[0])
    assert (work / "sweep-compare.html").is_file()
    # labelled by the entries' names (two runs of one model are otherwise "model · time #1/#2")
    assert [r["label"] for r in result["runs"]] == ["c-server (mock)", "b-server (mock)"]
    assert "A = c-server (mock)" in done.stdout and str(first) in done.stdout and str(second) in done.stdout
    line = next(l for l in done.stdout.splitlines() if l.startswith("| mmlu | accuracy | OVERALL"))
    assert f"{scores[0]:.4f}" in line and f"{scores[1]:.4f}" in line
    assert f"compare: {(work / 'sweep-compare.html').resolve()}" in done.stdout
    assert KEY not in done.stdout + done.stderr
    for f in work.rglob("*"):
        if f.is_file():
            assert KEY.encode() not in f.read_bytes(), f

    # the same command again resumes both runs: nothing is asked again, the compare is the same
    a.reset(), b.reset()
    again = run_evalpack("eval", "--config", str(config), "--dataset-dir", str(datasets_dir), "--work-dir", str(work))
    assert again.returncode == 0, again.stderr
    assert a.stats()["chat_requests"] == b.stats()["chat_requests"] == 0
    assert run_dirs(again.stdout) == [first, second]


def test_a_failing_endpoint_does_not_cost_the_other_runs(mock_server, datasets_dir, tmp_path):
    from conftest import free_port

    good = [mock_server("--answer", "ANSWER: A", model=m) for m in ("m1", "m3")]
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    config = write_sweep(tmp_path / "s.yaml", [{"model": "m1", "api_url": good[0].url},
                                               {"model": "m2", "api_url": dead},
                                               {"model": "m3", "api_url": good[1].url}],
                        generation_config={"retries": 0})
    done = run_evalpack("eval", "--config", str(config), "--dataset-dir", str(datasets_dir),
                        "--work-dir", str(tmp_path / "out"))
    assert done.returncode not in (0, 2) and "Traceback" not in done.stderr
    assert "sweep run 2 (m2) failed" in done.stderr and "sweep runs 2 (m2) did not finish" in done.stderr
    assert len(run_dirs(done.stdout)) == 2 and (tmp_path / "out" / "s-compare.json").is_file()


@pytest.mark.parametrize("entries, flags, message", [
    ([{"model": "a", "api_url": "http://127.0.0.1:9/v1", "colour": "red"}], [], "unknown key colour"),
    ([{"model": "a", "api_url": "http://127.0.0.1:9/v1"}], ["--model", "x"], "drop it from the command line"),
    ("not a list", [], "sweep must be a list of mappings"),
    ([{"model": "a", "api_url": "ftp://x"}], [], "sweep entry 1: --api-url 'ftp://x' is not an http(s) URL"),
    ([{"model": "a", "api_url": "http://127.0.0.1:9/v1", "name": "../up"}], [], "name must be a short folder"),
])
def test_a_bad_sweep_is_one_sentence_before_any_run(entries, flags, message, tmp_path, datasets_dir):
    config = write_sweep(tmp_path / "bad.yaml", entries)
    done = run_evalpack("eval", "--config", str(config), "--dataset-dir", str(datasets_dir),
                        "--work-dir", str(tmp_path / "out"), *flags)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_the_python_api_says_a_sweep_belongs_to_the_cli(tmp_path):
    import evalpack
    from evalpack.errors import UsageError

    with pytest.raises(UsageError, match="evalpack eval --config FILE"):
        evalpack.evaluate(model="m", api_url="http://127.0.0.1:9/v1", datasets=["mmlu"],
                          sweep=[{"model": "n"}], work_dir=str(tmp_path))


def test_a_sweep_on_ray_runs_each_entry_on_the_cluster(mock_server, datasets_dir, tmp_path):
    try:
        from ray.cluster_utils import Cluster
    except ImportError:
        if os.environ.get("EVALPACK_REQUIRE_RAY"):
            raise
        pytest.skip("ray is not installed (pip install -e '.[ray]')")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": 80 * 1024 * 1024})
    try:
        a, b = mock_server("--answer", "ANSWER: C", model="ma"), mock_server("--answer", "ANSWER: B", model="mb")
        config = write_sweep(tmp_path / "ray.yaml", [{"model": "ma", "api_url": a.url},
                                                     {"model": "mb", "api_url": b.url}], ray=cluster.address)
        done = run_evalpack("eval", "--config", str(config), "--dataset-dir", str(datasets_dir),
                            "--work-dir", str(tmp_path / "out"))
        assert done.returncode == 0, done.stderr[-3000:]
        address = cluster.address
        # the cluster's own record (GCS), read from another process (this one stays unconnected):
        # each run's samples went to a worker actor there, one driver (job) per run of the sweep
        code = ("import json, ray; ray.init(address=%r, logging_level='ERROR', log_to_driver=False); "
                "print(json.dumps([a['JobID'] for a in ray._private.state.actors().values() "
                "if 'SampleWorker' in a['ActorClassName']]))" % address)
        asked = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert asked.returncode == 0, asked.stderr
        jobs = json.loads(asked.stdout.strip().splitlines()[-1])
        assert len(set(jobs)) == 2, jobs
    finally:
        cluster.shutdown()
    first, second = run_dirs(done.stdout)
    for d, letter in ((first, "C"), (second, "B")):
        assert yaml.safe_load((d / "config.yaml").read_text())["ray"] == address
        score = json.loads((d / "report.json").read_text())["datasets"][0]["score"]
        assert score == pytest.approx(expected(datasets_dir, letter))
    assert (tmp_path / "out" / "ray-compare.json").is_file()
