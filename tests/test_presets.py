"""Run presets: `evalpack eval --config NAME` reads the packaged evalpack/presets/NAME.yaml."""

from __future__ import annotations

import json

import pytest

from conftest import run_dir_of, run_evalpack
from evalpack.benchmarks import registry
from evalpack.config import build_config, presets
from evalpack.errors import UsageError

FLAGS = {"model": "m", "api_url": "http://127.0.0.1:9/v1"}
# issue 17's groups, beside the seed's core/agent/swe
REQUIRED = {
    "reasoning": {"aime24", "aime25", "hmmt25", "gpqa_diamond", "mmlu_pro"},
    "instruct": {"ifeval", "bbh", "mmlu_pro"},
    "code": {"humaneval", "humaneval_plus", "mbpp_plus"},
    "agent": {"bfcl_v4", "tau_bench", "tau2_bench"},
    "core": {"mmlu", "gsm8k"},
    "swe": {"swe_bench_verified_mini"},
}


def test_every_preset_names_registered_benchmarks_only():
    assert set(REQUIRED) <= set(presets())
    for name in presets():
        config = build_config(dict(FLAGS), name)
        assert config.datasets, name
        for dataset in config.datasets:
            registry.get(dataset)  # raises UsageError for a name no module registers
        assert REQUIRED.get(name, set()) <= set(config.datasets), name


def test_flags_override_a_preset_and_unknown_names_are_usage_errors(tmp_path):
    config = build_config({**FLAGS, "datasets": ["bbh"]}, "reasoning")
    assert config.datasets == ["bbh"] and config.generation["max_tokens"] == 32768
    with pytest.raises(UsageError, match="no such file or preset; presets: agent, code, core"):
        build_config(dict(FLAGS), "reasonin")
    with pytest.raises(UsageError, match="no such file"):
        build_config(dict(FLAGS), str(tmp_path / "reasoning"))
    own = tmp_path / "reasoning.yaml"
    own.write_text("datasets: [gsm8k]\n")
    assert build_config(dict(FLAGS), str(own)).datasets == ["gsm8k"]  # a file path is a file, not a preset


def test_eval_with_a_preset_runs_its_benchmarks(mock_server, datasets_dir, tmp_path):
    server = mock_server("--answer", "The answer is (A). So the answer is (A). \\boxed{1}")
    proc = run_evalpack("eval", "--config", "reasoning", "--model", "mock", "--api-url", server.url,
                        "--dataset-dir", str(datasets_dir), "--work-dir", str(tmp_path), "--limit", "1", "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((run_dir_of(proc) / "report.json").read_text(encoding="utf-8"))
    assert {d["dataset"] for d in report["datasets"]} == REQUIRED["reasoning"]
    assert all(d["num_errors"] == 0 for d in report["datasets"])
    bad = run_evalpack("eval", "--config", "nosuchpreset", "--model", "mock", "--api-url", server.url)
    assert bad.returncode == 2 and "presets: " in bad.stderr and "Traceback" not in bad.stderr
