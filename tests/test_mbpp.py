"""MBPP: the paper's 3-shot prompt on the real files, code extraction, and scoring by the asserts
in the real sandbox, through the CLI against `evalpack mock` on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MockProcess
from evalpack.benchmarks import registry
from evalpack.benchmarks.mbpp import completion_code

RESPONDERS = Path(__file__).parent / "responders" / "code.py"


def test_prompts_are_evalscopes_three_shot_prompts(datasets_dir):
    bench = registry.get("mbpp")
    samples = bench.load(datasets_dir, bench.resolve_args({}))
    assert len(samples) == 500 and samples[0].id == "full/11"
    lengths = [len(s.messages[0]["content"]) for s in samples]
    # EvalScope's published statistics of its mbpp prompts (docs/en/benchmarks/mbpp.md)
    assert round(statistics.mean(lengths), 2) == 1872.34 and min(lengths) == 1727 and max(lengths) == 5896
    text = samples[0].messages[0]["content"]
    assert text.count("You are an expert Python programmer, and here is your task: ") == 4
    assert text.count("[DONE]") == 3 and text.endswith("[BEGIN]\n")
    assert "Write a python function to remove first and last occurrence of a given character" in text
    sanitized = bench.load(datasets_dir, bench.resolve_args({"subset_list": ["sanitized"]}))
    assert len(sanitized) == 257 and all(s.subset == "sanitized" for s in sanitized)


@pytest.mark.parametrize("reply", [
    "def f(x):\n    return x + 1\n[DONE]",
    "[BEGIN]\ndef f(x):\n    return x + 1\n[DONE]\nYou are an expert Python programmer...",
    "```python\ndef f(x):\n    return x + 1\n\nassert f(1) == 3\n```",
    "Here you go:\n\ndef f(x):\n    return x + 1\n\nif __name__ == '__main__':\n    print(f(input()))\n",
])
def test_completion_code_keeps_the_function_only(reply):
    code = completion_code(reply)
    assert "def f(x)" in code and "assert" not in code and "[DONE]" not in code and "input()" not in code


def test_setup_code_runs_after_the_solution(datasets_dir):
    """Task 367's test_setup_code builds trees of the solution's Node class."""
    bench = registry.get("mbpp")
    args = bench.resolve_args({})
    sample = next(s for s in bench.load(datasets_dir, args) if s.id == "full/367")
    assert "Node(1)" in sample.metadata["setup"]
    score = asyncio.run(bench.score(sample, {"content": sample.target + "\n[DONE]"}, args))
    assert score.value == 1.0, score.detail


def _eval(responder: str, datasets_dir: Path, work: Path, *extra: str) -> dict:
    mock = MockProcess("--responder", f"{RESPONDERS}:{responder}")
    try:
        cmd = [sys.executable, "-m", "evalpack", "eval", "--model", "mock", "--api-url", mock.url,
               "--datasets", "mbpp", "--dataset-dir", str(datasets_dir), "--work-dir", str(work),
               "--quiet", *extra]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    finally:
        mock.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = Path(done.stdout.strip().splitlines()[-1].split("run directory:")[1].strip())
    section = json.loads((run_dir / "report.json").read_text())["datasets"][0]
    section["markdown"] = (run_dir / "report.md").read_text()
    return section


BOTH = ["--dataset-args", '{"mbpp": {"subset_list": ["full", "sanitized"]}}', "--limit", "12"]


@pytest.mark.parametrize("responder", ["mbpp_gold", "mbpp_gold_fenced"])
def test_gold_replay_passes_both_subsets(responder, datasets_dir, tmp_path):
    section = _eval(responder, datasets_dir, tmp_path, *BOTH)
    assert section["num_scored"] == 24 and section["num_errors"] == 0, section["markdown"]
    assert section["metrics"] == {"pass@1": 1.0}, section["markdown"]
    assert {s["name"]: s["num"] for s in section["subsets"]} == {"full": 12, "sanitized": 12}
    # the full set's challenge tests (tasks 11, 16, 20 among the first 12) run too, reported apart
    assert section["challenge_status_counts"] == {"passed": 3}, section["markdown"]


def test_wrong_replay_scores_zero(datasets_dir, tmp_path):
    section = _eval("mbpp_wrong", datasets_dir, tmp_path, *BOTH)
    assert section["num_scored"] == 24 and section["metrics"] == {"pass@1": 0.0}
    assert section["status_counts"]["failed"] == 24
