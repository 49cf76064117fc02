"""A real model as the judge: llama.cpp serving SmolLM2-135M grades 20 SimpleQA replies.

A 135M model is a poor grader, so this asserts the mechanics, not the grades: every sample
ends with a verdict read from the judge's reply, or as a judge error (never as a wrong
answer), and the judge's calls are counted apart from the model's. The evaluated model is the
mock (what it answers does not matter here).
"""

import json

from conftest import DATASETS, run_dir_of, run_evalpack


def test_smollm2_as_the_judge_of_20_simpleqa_items(real_model_url, mock_server, tmp_path):
    model = mock_server("--answer", "I think the answer is Paris.")
    proc = run_evalpack("eval", "--model", "mock", "--api-url", model.url, "--datasets", "simpleqa",
                        "--dataset-dir", str(DATASETS), "--limit", "20", "--work-dir", str(tmp_path), "--quiet",
                        "--judge-model-args", json.dumps({
                            "model_id": "smollm2-135m-instruct", "api_url": real_model_url,
                            "generation_config": {"temperature": 0, "max_tokens": 16, "timeout": 120}}),
                        "--judge-worker-num", "2", "--ignore-errors", timeout=1200)
    assert proc.returncode == 0, proc.stderr
    run_dir = run_dir_of(proc)
    ds = json.loads((run_dir / "report.json").read_text())["datasets"][0]
    rows = [json.loads(line) for line in (run_dir / "samples" / "simpleqa.jsonl").read_text().splitlines()]
    assert len(rows) == 20 and ds["num_errors"] == 0
    for row in rows:
        if row.get("error"):
            assert row["error"].startswith("judge error: ") and row["detail"]["judge_error"]
        else:
            assert row["extracted"] in ("CORRECT", "INCORRECT", "NOT_ATTEMPTED")
            assert 1 <= row["detail"]["judge_attempts"] <= 3
            assert row["score"] == float(row["extracted"] == "CORRECT")
    assert ds["num_scored"] + ds["judge"]["num_errors"] == 20
    assert 20 <= ds["judge"]["usage"]["calls"] <= 60
    assert model.stats()["chat_requests"] == 20
