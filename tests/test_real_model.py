"""Integration against a real model server: llama.cpp serving SmolLM2-135M-Instruct.

The model is near chance on MMLU, so these tests assert the run, not the score:
every sample answered, parsed or counted as unparsed, report written.
"""

import json

from conftest import run_dir_of, run_evalpack


def test_mmlu_limit_2_against_the_real_model(real_model_url, datasets_dir, tmp_path):
    proc = run_evalpack("eval", "--model", "smollm2-135m-instruct", "--api-url", real_model_url,
                        "--datasets", "mmlu", "--dataset-dir", str(datasets_dir), "--limit", "2",
                        "--dataset-args", '{"mmlu": {"subset_list": ["anatomy", "astronomy", "virology"]}}',
                        "--generation-config", '{"temperature": 0, "max_tokens": 48, "timeout": 120}',
                        "--eval-batch-size", "2", "--work-dir", str(tmp_path), "--quiet", timeout=900)
    assert proc.returncode == 0, proc.stderr
    run_dir = run_dir_of(proc)
    report = json.loads((run_dir / "report.json").read_text())["datasets"][0]
    assert report["num_samples"] == 6 and report["num_errors"] == 0 and report["num_scored"] == 6
    rows = [json.loads(line) for line in (run_dir / "samples" / "mmlu.jsonl").read_text().splitlines()]
    assert len(rows) == 6
    for row in rows:
        assert isinstance(row["output"]["content"], str)
        assert row["usage"].get("completion_tokens", 0) > 0 and row["latency"] > 0
        assert (row["extracted"] in "ABCD" and not row["unparsed"]) if row["extracted"] else row["unparsed"]
        assert row["score"] == float(row["extracted"] == row["target"])
    assert (run_dir / "report.md").is_file()
