"""`evalpack eval --datasets bfcl_v4` end to end: the real CLI, real HTTP to `evalpack mock`,
whose responder (tests/bfcl_responder.py) replays the ground truth of the real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_dir_of, run_evalpack
from bfcl_replay import UNSATISFIABLE

from evalpack.benchmarks.bfcl.data import LIVE, MULTI_TURN, NON_LIVE, RELEVANCE

RESPONDER = Path(__file__).parent / "responders" / "bfcl.py"
AST_CATEGORIES = [c for c in NON_LIVE + LIVE if c not in RELEVANCE]


@pytest.fixture
def replay_server(mock_server, monkeypatch, datasets_dir):
    """`evalpack mock` answering with the ground truth of `categories` (see responders/bfcl.py)."""

    def start(categories: list[str], mode: str = "fc", broken: str = ""):
        monkeypatch.setenv("BFCL_DATA", str(datasets_dir / "bfcl_v4"))
        monkeypatch.setenv("BFCL_CATEGORIES", ",".join(categories))
        monkeypatch.setenv("BFCL_MODE", mode)
        monkeypatch.setenv("BFCL_BREAK", broken)
        return mock_server("--responder", f"{RESPONDER}:respond")

    return start


def run_eval(server, datasets_dir: Path, work_dir: Path, categories: list[str], *extra: str,
             extra_params: dict | None = None) -> tuple[dict, list[dict], Path]:
    args = {"bfcl_v4": {"subset_list": categories, **({"extra_params": extra_params} if extra_params else {})}}
    proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", "bfcl_v4",
                        "--dataset-dir", str(datasets_dir), "--work-dir", str(work_dir),
                        "--dataset-args", json.dumps(args), "--quiet", "--eval-batch-size", "32", *extra,
                        timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = run_dir_of(proc)
    report = json.loads((run_dir / "report.json").read_text())["datasets"][0]
    samples = [json.loads(line) for line in (run_dir / "samples" / "bfcl_v4.jsonl").read_text().splitlines()]
    return report, samples, run_dir


def _by_category(report: dict) -> dict:
    return {row["name"]: row for row in report["subsets"]}


def test_single_turn_replay_native_tools(replay_server, datasets_dir, tmp_path):
    server = replay_server(AST_CATEGORIES)
    report, samples, run_dir = run_eval(server, datasets_dir, tmp_path, AST_CATEGORIES)
    assert report["num_errors"] == 0
    failed = {s["sample_id"]: s["detail"].get("error_type") for s in samples if s["score"] != 1.0}
    assert failed == UNSATISFIABLE
    sizes = {"simple_python": 400, "simple_java": 100, "simple_javascript": 50, "multiple": 200,
             "parallel": 200, "parallel_multiple": 200, "live_simple": 258, "live_multiple": 1053,
             "live_parallel": 16, "live_parallel_multiple": 24}
    rows = _by_category(report)
    for category, n in sizes.items():
        bad = sum(1 for k in UNSATISFIABLE if k.rsplit("_", 1)[0] == category)
        assert rows[category]["num"] == n
        assert rows[category]["score"] == pytest.approx((n - bad) / n)
    assert report["metrics"]["live"] == pytest.approx(
        sum(rows[c]["score"] * sizes[c] for c in LIVE[:4]) / sum(sizes[c] for c in LIVE[:4]))
    # scoring is a pure function of the stored outputs
    proc = run_evalpack("rescore", str(run_dir), "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = json.loads((run_dir / "report.json").read_text())["datasets"][0]
    assert again["score"] == report["score"] and again["subsets"] == report["subsets"]


def test_relevance_replay_native_tools(replay_server, datasets_dir, tmp_path):
    categories = list(RELEVANCE)
    server = replay_server(categories)
    report, samples, _ = run_eval(server, datasets_dir, tmp_path, categories)
    rows = _by_category(report)
    assert {c: (rows[c]["num"], rows[c]["score"]) for c in categories} == {
        "irrelevance": (240, 1.0), "live_irrelevance": (884, 1.0), "live_relevance": (16, 1.0)}
    assert report["metrics"]["irrelevance"] == 1.0 and report["metrics"]["relevance"] == 1.0


@pytest.mark.parametrize("category", MULTI_TURN)
def test_multi_turn_replay_step_by_step(replay_server, datasets_dir, tmp_path, category):
    server = replay_server([category])
    report, samples, _ = run_eval(server, datasets_dir, tmp_path, [category])
    assert report["num_errors"] == 0 and len(samples) == 200
    assert sorted(s["sample_id"] for s in samples if s["score"] != 1.0) == []
    assert report["score"] == 1.0 and report["metrics"].get("multi_turn") is None  # one category only
    # the loop really went step by step: mostly one call per step, a text reply ends each turn
    steps = [step for s in samples for turn in s["output"]["turns"] for step in turn]
    assert sum(1 for step in steps if len(step["tool_calls"] or []) == 1) > 0.9 * sum(
        1 for step in steps if step["tool_calls"])
    assert all(turn[-1]["tool_calls"] is None for s in samples for turn in s["output"]["turns"])


def test_a_wrong_call_in_one_turn_fails_only_that_entry(replay_server, datasets_dir, tmp_path):
    server = replay_server(["multi_turn_base"], broken="multi_turn_base_2:1")
    report, samples, _ = run_eval(server, datasets_dir, tmp_path, ["multi_turn_base"], "--limit", "5")
    scores = {s["sample_id"]: s["score"] for s in samples}
    assert scores == {f"multi_turn_base_{i}": (0.0 if i == 2 else 1.0) for i in range(5)}
    broken = next(s for s in samples if s["sample_id"] == "multi_turn_base_2")
    assert broken["detail"]["error_type"].startswith("multi_turn:")


def test_prompt_mode_replay(replay_server, datasets_dir, tmp_path):
    # one multi-turn category: without tools in the request the responder tells entries apart
    # by their user turns only, which repeat across the multi-turn categories
    categories = ["simple_python", "multiple", "parallel", "live_simple", "irrelevance", "multi_turn_miss_func"]
    server = replay_server(categories, mode="prompt")
    report, samples, _ = run_eval(server, datasets_dir, tmp_path, categories, "--limit", "15",
                                  extra_params={"is_fc_model": False})
    assert report["num_errors"] == 0
    assert len(samples) == 15 * len(categories)
    assert {s["sample_id"] for s in samples if s["score"] != 1.0} == set()
    first = next(s for s in samples if s["sample_id"] == "simple_python_0")
    assert first["output"]["tool_calls"] is None and first["output"]["content"].startswith("[")
