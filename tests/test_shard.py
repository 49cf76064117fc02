"""`--shard I/N` and `evalpack merge`: the parts of a run, run as separate processes against a
real `evalpack mock` over HTTP (and the real sandbox for HumanEval), joined into one run whose
report.json is a single run's, field for field, apart from timing and place."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import gate_responder, run_dir_of, run_evalpack, wait_until
from evalpack import cli
from evalpack.config import build_config
from evalpack.plan import make_plans
from evalpack.shard import Shard, part_of
from evalpack.store import RunDirLock

SUBJECTS = ["anatomy", "astronomy", "college_physics", "virology", "marketing", "philosophy"]
KEY = "sk-shard-secret-0042"
RESPONDER = '''
import gzip, json, os, re

TASKS = [json.loads(l) for l in gzip.open(os.environ["HUMANEVAL_FILE"], "rt")]

def respond(body):
    text = body["messages"][-1]["content"]
    task = next((t for t in TASKS if t["prompt"] in text), None)
    if task is None:
        return "ANSWER: C"
    number = int(task["task_id"].split("/")[1])
    body_ = task["canonical_solution"] if number % 3 else "    return None\\n"  # 2 of 3 tasks pass
    return "```python\\n" + task["prompt"] + body_ + "```"
'''

# fields that say when and where a run happened, not what it scored (docs/distributed.md)
TIMING = ("created", "run_dir")
META_TIMING = ("command", "started", "wall_seconds", "dataset_seconds")


def comparable(report: dict) -> dict:
    out = copy.deepcopy(report)
    for key in TIMING:
        out.pop(key)
    meta = out["meta"]
    for key in META_TIMING:
        meta.pop(key)
    meta["requests"] = {k: v for k, v in meta["requests"].items() if not k.endswith(("_p50", "_p95"))}
    for section in out["datasets"]:
        section.pop("serving", None)
        # the sandbox's note names the uid it ran under, one per process (a rescore runs anew)
        section["notes"] = [re.sub(r"uid \d+", "uid N", n) for n in section.get("notes") or []]
    return out


def tree_digest(path: Path) -> dict:
    return {str(p.relative_to(path)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture
def server(mock_server, datasets_dir, tmp_path, monkeypatch):
    responder = tmp_path / "responder.py"
    responder.write_text(RESPONDER)
    monkeypatch.setenv("HUMANEVAL_FILE", str(datasets_dir / "humaneval" / "HumanEval.jsonl.gz"))
    return mock_server("--responder", f"{responder}:respond", "--api-key", KEY)


def eval_args(url: str, datasets_dir: Path, work: Path, *extra: str, datasets=("mmlu", "humaneval")) -> list[str]:
    args = {"mmlu": {"subset_list": SUBJECTS}, "humaneval": {"n": 2}}
    return ["eval", "--model", "mock", "--api-url", url, "--api-key", KEY, "--datasets", *datasets,
            "--dataset-dir", str(datasets_dir), "--work-dir", str(work), "--quiet", "--eval-batch-size", "8",
            "--dataset-args", json.dumps({k: v for k, v in args.items() if k in datasets}), *extra]


def merge(*args) -> subprocess.CompletedProcess:
    return run_evalpack("merge", *map(str, args))


# --- the partition ----------------------------------------------------------------------

def plans(datasets_dir: Path, shard: str | None = None, limit=None) -> dict[str, list[tuple[str, str]]]:
    config = build_config({"model": "m", "api_url": "http://127.0.0.1:9/v1", "datasets": ["mmlu", "humaneval"],
                           "dataset_dir": str(datasets_dir), "shard": shard, "limit": limit})
    return {p.bench.name: [(s.subset, s.id) for s in p.samples] for p in make_plans(config)}


def test_shards_are_a_partition_stable_under_limit_and_order(datasets_dir):
    whole = plans(datasets_dir)
    assert len(whole["mmlu"]) == 14042 and len(whole["humaneval"]) == 164
    parts = [plans(datasets_dir, f"{i}/3") for i in (1, 2, 3)]
    for name, samples in whole.items():
        got = [s for part in parts for s in part[name]]
        assert sorted(got) == sorted(samples)  # covering, and disjoint: nothing counted twice
        sizes = [len(part[name]) for part in parts]
        assert all(abs(n - len(samples) / 3) < 0.1 * len(samples) for n in sizes), sizes
        for i, part in enumerate(parts, 1):  # each keeps the dataset's order
            assert part[name] == [s for s in samples if part_of(name, s[0], s[1], 3) == i]
    # --limit picks the first N per subset, then the shard: a limited shard is the limited run's part
    limited = plans(datasets_dir, "2/3", limit=7)
    assert set(limited["mmlu"]) == set(plans(datasets_dir, limit=7)["mmlu"]) & set(parts[1]["mmlu"])
    # a function of the sample alone: the same on any machine, in any order, for any Python
    assert [part_of("mmlu", "anatomy", "anatomy/0", n) for n in (2, 3, 4, 10)] == [
        int.from_bytes(hashlib.sha256(b"mmlu\x00anatomy\x00anatomy/0").digest()[:8], "big") % n + 1
        for n in (2, 3, 4, 10)]
    assert part_of("mmlu", "anatomy", "anatomy/0", 3) == 2 and part_of("humaneval", "openai_humaneval",
                                                                         "HumanEval/0", 3) == 3
    shuffled = list(whole["humaneval"])
    random.Random(1).shuffle(shuffled)
    assert {s for s in shuffled if Shard(3, 3).holds("humaneval", *s)} == set(parts[2]["humaneval"])


@pytest.mark.parametrize("value", ["0/3", "4/3", "3", "a/b", "1/0", "-1/3", "1/3/3", ""])
def test_a_bad_shard_is_one_sentence_and_exit_2(value, capsys, tmp_path):
    code = cli.main(["eval", "--model", "m", "--api-url", "http://127.0.0.1:9/v1", "--datasets", "mmlu",
                     "--work-dir", str(tmp_path), f"--shard={value}"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("evalpack: --shard") and "Traceback" not in err
    assert "I/N" in err or "from 1 to" in err
    assert not any(tmp_path.iterdir())  # refused before a run directory exists


# --- run, merge, compare ----------------------------------------------------------------

def test_three_shards_merged_equal_a_single_run(server, datasets_dir, tmp_path):
    single = run_evalpack(*eval_args(server.url, datasets_dir, tmp_path / "single", "--limit", "24"))
    assert single.returncode == 0, single.stderr
    single_dir = run_dir_of(single)
    requests_single = server.stats()["chat_requests"]
    server.reset()
    shard_dirs = []
    for i in (1, 2, 3):
        proc = run_evalpack(*eval_args(server.url, datasets_dir, tmp_path / "shards", "--limit", "24",
                                       "--shard", f"{i}/3"))
        assert proc.returncode == 0, proc.stderr
        shard_dirs.append(run_dir_of(proc))
        assert f"shard {i}/3: this report covers only this part's samples" in proc.stdout
        assert f"shard {i}/3: this report covers only" in (run_dir_of(proc) / "report.html").read_text()
    assert [d.name.endswith(f"-shard{i}of3") for i, d in enumerate(shard_dirs, 1)] == [True] * 3
    assert server.stats()["chat_requests"] == requests_single  # every sample asked once over the shards

    reports = [json.loads((d / "report.json").read_text()) for d in shard_dirs]
    plans_ = [json.loads((d / "plans.json").read_text()) for d in shard_dirs]
    for name in ("mmlu", "humaneval"):  # one settings hash across the shards; the shard is not in it
        assert len({p[name]["variant"] for p in plans_}) == 1
    assert [r["meta"]["shard"]["index"] for r in reports] == [1, 2, 3]
    whole = json.loads((single_dir / "report.json").read_text())["datasets"]
    assert sum(r["datasets"][0]["num_samples"] for r in reports) == whole[0]["num_samples"] == 144
    assert sum(r["datasets"][1]["num_samples"] for r in reports) == whole[1]["num_samples"] == 48
    for r in reports:  # repeats stay together: a shard's pass@k is over whole questions
        assert r["datasets"][1]["num_samples"] % 2 == 0 and r["datasets"][1]["num_scored"] % 2 == 0

    before = {d: tree_digest(d) for d in shard_dirs}
    done = merge(*shard_dirs, "--out", tmp_path / "merged")
    assert done.returncode == 0, done.stderr
    assert run_dir_of(done) == (tmp_path / "merged").resolve()
    assert "shards 1+2+3 of 3" in done.stdout and "0 duplicates dropped" in done.stdout
    assert {d: tree_digest(d) for d in shard_dirs} == before  # inputs never touched
    merged = json.loads((tmp_path / "merged" / "report.json").read_text())
    expected = json.loads((single_dir / "report.json").read_text())
    assert comparable(merged) == comparable(expected)
    assert "this report covers only" not in (tmp_path / "merged" / "report.html").read_text()
    assert "shard" not in merged["meta"] and merged["meta"]["command"] == expected["meta"]["command"].replace(
        str(tmp_path / "single"), str(tmp_path / "shards"))
    humaneval = merged["datasets"][1]
    assert humaneval["metrics"]["pass@1"] == pytest.approx(sum(1 for n in range(24) if n % 3) / 24)

    def rows(d: Path, name: str) -> list:
        return sorted((r["sample_id"], r["repeat"], r["score"], r["extracted"], json.dumps(r["prompt"]))
                      for r in map(json.loads, (d / "samples" / f"{name}.jsonl").read_text().splitlines()))
    for name in ("mmlu", "humaneval"):
        assert rows(tmp_path / "merged", name) == rows(single_dir, name)
    for f in (tmp_path / "merged").rglob("*"):  # the key was scrubbed in the shards and stays so
        if f.is_file():
            assert KEY.encode() not in f.read_bytes(), f

    # idempotent: a run merged with itself, and the merge with one of its own shards, change nothing
    again = merge(single_dir, single_dir, "--out", tmp_path / "self")
    assert again.returncode == 0, again.stderr
    assert "384 results read, 192 duplicates dropped, 192 kept" in again.stdout
    assert comparable(json.loads((tmp_path / "self" / "report.json").read_text())) == comparable(expected)
    twice = merge(tmp_path / "merged", shard_dirs[0], shard_dirs[0], "--out", tmp_path / "twice")
    assert twice.returncode == 0, twice.stderr
    assert comparable(json.loads((tmp_path / "twice" / "report.json").read_text())) == comparable(expected)

    # rescore of the merged run keeps its report (it is an ordinary run directory)
    rescored = run_evalpack("rescore", str(tmp_path / "merged"), "--quiet")
    assert rescored.returncode == 0, rescored.stderr
    after = json.loads((tmp_path / "merged" / "report.json").read_text())
    after.pop("rescored")
    assert comparable(after) == comparable(expected)


def small(url, datasets_dir, work, *extra, limit: int = 12):
    return eval_args(url, datasets_dir, work, "--limit", str(limit), *extra, datasets=("mmlu",))


def test_merge_refuses_other_settings_missing_shards_and_busy_dirs(server, datasets_dir, tmp_path):
    dirs = {}
    for name, extra in {"1/2": [], "2/2": [], "2/2 zero-shot": ["--dataset-args", json.dumps(
            {"mmlu": {"subset_list": SUBJECTS, "few_shot_num": 0}})], "2/3": [], "2/2 limit": ["--limit", "5"]}.items():  # the last --limit counts
        proc = run_evalpack(*small(server.url, datasets_dir, tmp_path / name.replace(" ", "_"),
                                   "--shard", name.split()[0], *extra))
        assert proc.returncode == 0, proc.stderr
        dirs[name] = run_dir_of(proc)

    other = merge(dirs["1/2"], dirs["2/2 zero-shot"], "--out", tmp_path / "x")
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert str(dirs["1/2"]) in other.stderr and str(dirs["2/2 zero-shot"]) in other.stderr
    assert "few_shot_num 5 vs 0" in other.stderr and "settings hash" in other.stderr
    limit = merge(dirs["1/2"], dirs["2/2 limit"], "--out", tmp_path / "x")
    assert limit.returncode == 2 and "--limit 12 vs 5" in limit.stderr
    split = merge(dirs["1/2"], dirs["2/3"], "--out", tmp_path / "x")
    assert split.returncode == 2 and "different splits" in split.stderr
    missing = merge(dirs["1/2"], "--out", tmp_path / "x")
    assert missing.returncode == 2 and "shard 2 of 2 is missing" in missing.stderr
    assert not (tmp_path / "x").exists()  # nothing written by a refused merge

    partial = merge(dirs["1/2"], "--out", tmp_path / "partial", "--allow-partial")
    assert partial.returncode == 0, partial.stderr
    assert "shard 1/2: this report covers only" in (tmp_path / "partial" / "report.md").read_text()
    completed = merge(tmp_path / "partial", dirs["2/2"], "--out", tmp_path / "full")  # a partial merge + the rest
    assert completed.returncode == 0, completed.stderr
    direct = merge(dirs["1/2"], dirs["2/2"])  # default --out: the unsharded run's directory name
    assert direct.returncode == 0, direct.stderr
    assert run_dir_of(direct).name == dirs["1/2"].name.rsplit("-shard", 1)[0]
    assert comparable(json.loads((tmp_path / "full" / "report.json").read_text())) == comparable(
        json.loads((run_dir_of(direct) / "report.json").read_text()))

    again = merge(dirs["1/2"], dirs["2/2"])  # the output exists now: never overwritten
    assert again.returncode == 2 and "not empty" in again.stderr
    into_input = merge(dirs["1/2"], dirs["2/2"], "--out", dirs["2/2"])
    assert into_input.returncode == 2 and "one of the inputs" in into_input.stderr
    inside = merge(dirs["1/2"], dirs["2/2"], "--out", dirs["1/2"] / "merged")
    assert inside.returncode == 2 and "inside one" in inside.stderr and not (dirs["1/2"] / "merged").exists()
    assert not list(tmp_path.glob(".*merging*"))  # built beside, renamed into place, nothing left over
    with RunDirLock(dirs["2/2"]):  # a shard still running
        busy = merge(dirs["1/2"], dirs["2/2"], "--out", tmp_path / "busy")
    assert busy.returncode == 2 and f"pid {os.getpid()}" in busy.stderr


def test_a_killed_shard_resumes_and_then_merges(mock_server, datasets_dir, tmp_path):
    answered, concurrency = 40, 4
    gated = mock_server("--responder", gate_responder(tmp_path, answered, "ANSWER: B"), "--api-key", KEY)
    cmd = small(gated.url, datasets_dir, tmp_path / "w", "--shard", "2/2", "--eval-batch-size", str(concurrency),
                limit=40)
    proc = subprocess.Popen([sys.executable, "-m", "evalpack", *cmd], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_until(lambda: gated.stats()["chat_requests"] >= answered + concurrency, "the gate to fill")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    shard2 = next((tmp_path / "w").glob("*-shard2of2"))

    server = mock_server("--answer", "ANSWER: B", "--api-key", KEY)
    first = run_evalpack(*small(server.url, datasets_dir, tmp_path / "w", "--shard", "1/2", limit=40))
    assert first.returncode == 0, first.stderr
    unfinished = merge(run_dir_of(first), shard2, "--out", tmp_path / "m")
    assert unfinished.returncode == 2 and "unfinished" in unfinished.stderr and "of" in unfinished.stderr
    server.reset()
    resumed = run_evalpack(*small(server.url, datasets_dir, tmp_path / "w", "--shard", "2/2", limit=40))
    assert resumed.returncode == 0, resumed.stderr
    total2 = json.loads((shard2 / "plans.json").read_text())["mmlu"]["num_samples"]
    assert server.stats()["chat_requests"] == total2 - answered  # only what was never answered
    done = merge(run_dir_of(first), shard2, "--out", tmp_path / "m")
    assert done.returncode == 0, done.stderr

    server.reset()
    single = run_evalpack(*small(server.url, datasets_dir, tmp_path / "single", limit=40))
    assert single.returncode == 0, single.stderr
    assert comparable(json.loads((tmp_path / "m" / "report.json").read_text())) == comparable(
        json.loads((run_dir_of(single) / "report.json").read_text()))


def test_a_success_beats_an_error_stored_for_the_same_sample(mock_server, datasets_dir, tmp_path):
    rules = tmp_path / "rules.json"  # the anatomy questions fail with a 500, the others are answered
    rules.write_text(json.dumps([{"match": r"about anatomy", "reply": {"status": 500, "content": "overloaded"}},
                                 {"match": ".", "reply": "ANSWER: A"}]))
    flaky = mock_server("--rules", str(rules), "--api-key", KEY)
    good = mock_server("--answer", "ANSWER: A", "--api-key", KEY)
    retry = json.dumps({"retries": 0})
    failed = run_evalpack(*small(flaky.url, datasets_dir, tmp_path / "w", "--shard", "1/2",
                                 "--generation-config", retry, "--ignore-errors"))
    assert failed.returncode == 0, failed.stderr
    errors = json.loads((run_dir_of(failed) / "report.json").read_text())["datasets"][0]["num_errors"]
    assert errors > 0
    # merged as they are, the errors fail the merged run as they failed the shard (exit 1, eval's rule)
    unfixed = merge(run_dir_of(failed), "--out", tmp_path / "partial", "--allow-partial")
    assert unfixed.returncode == 1 and f"{errors} samples ended in an error" in unfixed.stderr
    assert "Traceback" not in unfixed.stderr
    accepted = merge(run_dir_of(failed), "--out", tmp_path / "accepted", "--allow-partial", "--ignore-errors")
    assert accepted.returncode == 0, accepted.stderr
    fixed = run_evalpack(*small(good.url, datasets_dir, tmp_path / "w", "--shard", "1/2", "--fresh",
                                "--generation-config", retry))
    other = run_evalpack(*small(good.url, datasets_dir, tmp_path / "w", "--shard", "2/2",
                                "--generation-config", retry))
    single = run_evalpack(*small(good.url, datasets_dir, tmp_path / "single", "--generation-config", retry))
    assert fixed.returncode == other.returncode == single.returncode == 0
    done = merge(run_dir_of(failed), run_dir_of(fixed), run_dir_of(other), "--out", tmp_path / "m")
    assert done.returncode == 0, done.stderr
    merged = json.loads((tmp_path / "m" / "report.json").read_text())
    assert merged["datasets"][0]["num_errors"] == 0
    expected = json.loads((run_dir_of(single) / "report.json").read_text())
    assert merged["meta"].pop("api_urls") == [flaky.url, good.url]  # the union: the shards asked both
    expected["meta"].pop("api_urls")
    assert set(merged["meta"].pop("served_models")) == {flaky.url, good.url}
    expected["meta"].pop("served_models")
    assert comparable(merged) == comparable(expected)
