"""Reasoning replies through `evalpack eval` (a subprocess) against `evalpack mock` with
tests/responders/reasoning_cli.py, on MMLU, GSM8K and BFCL (prompt mode, simple_python).

Each reply carries a decoy in its thoughts: inline <think>...</think> before the answer, or
the message's reasoning_content with the answer alone in content; graded is only the answer.
A reply cut off inside <think> is unparsed (score 0), never graded. The expected scores are
counted here from the dataset files and the responder's plan (every third item has the right
answer as the decoy and a wrong one as the answer), not read from evalpack.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from conftest import MockProcess, run_dir_of, run_evalpack

RESPONDER = Path(__file__).parent / "responders" / "reasoning_cli.py"
SUBJECTS = ["anatomy", "astronomy", "virology"]
LIMIT = 6


def right_by_plan(limit: int) -> float:
    """Share of the first `limit` items whose real answer is right (item i: right unless i % 3 == 2)."""
    return sum(1 for i in range(limit) if i % 3 != 2) / limit


def mmlu_share(datasets_dir: Path, letter: str) -> float:
    golds = []
    for subject in SUBJECTS:
        with open(datasets_dir / "mmlu" / "data" / "test" / f"{subject}_test.csv", newline="", encoding="utf-8") as fh:
            golds += [row[5].strip() for row in csv.reader(fh) if row][:LIMIT]
    return golds.count(letter) / len(golds)


def run(bench: str, style: str, datasets_dir: Path, work_dir: Path, monkeypatch, *extra: str):
    monkeypatch.setenv("REASONING_BENCH", bench)
    monkeypatch.setenv("REASONING_STYLE", style)
    monkeypatch.setenv("REASONING_RECORD", str(work_dir / "bodies.jsonl"))
    args: dict = {"mmlu": {"subset_list": SUBJECTS}, "gsm8k": {},
                  "bfcl_v4": {"subset_list": ["simple_python"], "extra_params": {"is_fc_model": False}}}[bench]
    if bench == "bfcl_v4":
        monkeypatch.setenv("BFCL_DATA", str(datasets_dir / "bfcl_v4"))
        monkeypatch.setenv("BFCL_CATEGORIES", "simple_python")
        monkeypatch.setenv("BFCL_MODE", "prompt")
    server = MockProcess("--responder", f"{RESPONDER}:respond")
    try:
        proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", bench,
                            "--dataset-dir", str(datasets_dir), "--work-dir", str(work_dir / "out"), "--quiet",
                            "--limit", str(LIMIT), "--dataset-args", json.dumps({bench: args}), *extra)
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = run_dir_of(proc)
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    samples = [json.loads(line) for line in (run_dir / "samples" / f"{bench}.jsonl").read_text().splitlines()]
    return report, samples


@pytest.mark.parametrize("style", ["think", "field"])
@pytest.mark.parametrize("bench", ["mmlu", "gsm8k", "bfcl_v4"])
def test_the_decoy_in_the_reasoning_is_never_graded(bench, style, datasets_dir, tmp_path, monkeypatch):
    report, samples = run(bench, style, datasets_dir, tmp_path, monkeypatch)
    section = report["datasets"][0]
    if bench == "mmlu":
        expected, if_decoy = mmlu_share(datasets_dir, "C"), mmlu_share(datasets_dir, "A")
    else:
        expected, if_decoy = right_by_plan(LIMIT), 1 - right_by_plan(LIMIT)
    assert expected != if_decoy  # the case tells grading the answer from grading the decoy
    assert section["score"] == pytest.approx(expected)
    assert section["num_unparsed"] == 0 and section["num_errors"] == 0
    assert len(samples) == section["num_samples"] == LIMIT * (len(SUBJECTS) if bench == "mmlu" else 1)
    for s in samples:
        output = s["output"]
        if bench == "bfcl_v4" and s["output"].get("turns"):
            continue
        if style == "field":  # the thoughts stay apart from the answer, in the sample and its reply
            assert "Let me see." in output["reasoning"] and "Let me see." not in output["content"]
        else:
            assert output["reasoning"] is None and output["content"].startswith("<think>")


@pytest.mark.parametrize("bench", ["mmlu", "gsm8k", "bfcl_v4"])
def test_a_reply_cut_off_inside_think_is_unparsed(bench, datasets_dir, tmp_path, monkeypatch):
    report, samples = run(bench, "unclosed", datasets_dir, tmp_path, monkeypatch)
    section = report["datasets"][0]
    assert section["score"] == 0.0
    assert section["num_unparsed"] == section["num_samples"] == len(samples) > 0
    assert all(s["score"] == 0.0 and s["unparsed"] for s in samples)


def test_reasoning_effort_and_extra_body_reach_the_server_and_thinking_tokens_count_apart(
        datasets_dir, tmp_path, monkeypatch):
    gen = {"reasoning_effort": "low", "extra_body": {"chat_template_kwargs": {"enable_thinking": False}}}
    report, samples = run("mmlu", "field", datasets_dir, tmp_path, monkeypatch,
                          "--generation-config", json.dumps(gen))
    bodies = [json.loads(line) for line in (tmp_path / "bodies.jsonl").read_text().splitlines()]
    assert len(bodies) == len(samples) == LIMIT * len(SUBJECTS)
    for body in bodies:  # extra_body's keys go into the body, as the OpenAI SDK sends them
        assert body["reasoning_effort"] == "low"
        assert body["chat_template_kwargs"] == {"enable_thinking": False}
        assert "extra_body" not in body
    # the server's usage.completion_tokens_details.reasoning_tokens, kept per call and summed apart
    per_call = [c["usage"]["completion_tokens_details"]["reasoning_tokens"] for s in samples for c in s["calls"]]
    assert len(per_call) == len(samples) and all(n > 0 for n in per_call)
    assert report["meta"]["requests"]["tokens_reasoning"] == sum(per_call)
