"""The runner's parts on their own: plan, run directory, context (call store), pool, rescore.

Models are `evalpack mock` processes on 127.0.0.1 (real HTTP); data is the real MMLU/GPQA
files from the shared datasets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from conftest import run_evalpack, run_dir_of
from evalpack.config import build_config
from evalpack.errors import DataMissingError, StoreError, UsageError
from evalpack.plan import make_plans
from evalpack.pool import score
from evalpack.run_dir import RunDir, settings_hash
from evalpack.types import Sample, Score

HERE = Path(__file__).resolve().parent


def config(datasets_dir, tmp_path, **flags):
    base = {"model": "m", "api_url": "http://127.0.0.1:9/v1", "datasets": ["mmlu"],
            "dataset_dir": str(datasets_dir), "work_dir": str(tmp_path)}
    return build_config({**base, **flags})


def test_plan_resolves_args_fills_run_defaults_and_limits(datasets_dir, tmp_path):
    cfg = config(datasets_dir, tmp_path, datasets=["mmlu", "humaneval"], seed=7, sandbox="local", limit=2,
                 dataset_args={"mmlu": {"subset_list": ["anatomy", "virology"], "few_shot_num": 0}})
    mmlu, humaneval = make_plans(cfg)
    assert mmlu.args["seed"] == 7 and humaneval.args["seed"] == 7
    assert humaneval.args["sandbox"] == "local"  # from --sandbox: the runner names no benchmark's args
    assert [s.id for s in mmlu.samples] == ["anatomy/0", "anatomy/1", "virology/0", "virology/1"]
    assert mmlu.total == 4 and humaneval.total == 2
    assert mmlu.settings_hash == settings_hash("mmlu", mmlu.args, cfg)
    other = config(datasets_dir, tmp_path, seed=8,
                   dataset_args={"mmlu": {"subset_list": ["anatomy", "virology"], "few_shot_num": 0}})
    assert make_plans(other)[0].settings_hash != mmlu.settings_hash


def test_plan_refuses_args_of_a_dataset_not_selected(datasets_dir, tmp_path):
    with pytest.raises(UsageError, match="'gpqa_diamond', which --datasets does not select"):
        make_plans(config(datasets_dir, tmp_path, dataset_args={"gpqa_diamond": {"seed": 1}}))


def test_run_dir_files(tmp_path, datasets_dir):
    with pytest.raises(DataMissingError, match="plans.json is missing"):
        RunDir.existing(tmp_path)
    cfg = config(datasets_dir, tmp_path, dataset_args={"mmlu": {"subset_list": ["anatomy"]}}, limit=1)
    plans = make_plans(cfg)
    run_dir = RunDir.for_run(cfg)
    assert run_dir.path == tmp_path / cfg.run_id() and (run_dir.path / "config.yaml").is_file()
    run_dir.write_plans(plans)
    assert run_dir.read_plans() == {"mmlu": {"variant": plans[0].settings_hash, "args": plans[0].args,
                                             "num_samples": 1}}
    assert run_dir.read_config()["model"] == "m"
    with pytest.raises(StoreError, match="another evalpack"):  # one writer per run directory
        RunDir.for_run(cfg)
    run_dir.release()
    again = RunDir.for_run(cfg)  # the same command, once the first has finished, resumes the same directory
    assert again.path == run_dir.path
    again.release()


class _Bench:
    name = "fake"

    def __init__(self, outcome):
        self.outcome = outcome

    def score(self, sample, output, args):
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def test_one_scoring_path_for_sync_async_and_failing_scorers():
    sample = Sample("s", "x")
    assert score(_Bench(Score(1, "A")), sample, {}, {}) == {
        "score": 1.0, "extracted": "A", "unparsed": False, "detail": {}, "error": None}
    failed = score(_Bench(ValueError("bad")), sample, {}, {})
    assert failed["error"] == "scoring failed: ValueError: bad" and failed["score"] is None

    async def later():
        await asyncio.sleep(0)
        raise KeyError("k")

    class Async(_Bench):
        def score(self, sample, output, args):
            return later()

    assert asyncio.run(score(Async(None), sample, {}, {}))["error"] == "scoring failed: KeyError: 'k'"


def eval_args(url, datasets_dir, work, *extra):
    return ("eval", "--model", "mock", "--api-url", url, "--datasets", "mmlu", "--dataset-dir", str(datasets_dir),
            "--work-dir", str(work), "--quiet", "--dataset-args",
            '{"mmlu": {"subset_list": ["anatomy"], "few_shot_num": 0}}', *extra)


def test_a_refused_key_mid_run_stops_the_run(mock_server, datasets_dir, tmp_path):
    responder = tmp_path / "refuse.py"
    responder.write_text("def respond(body):\n    return {'status': 401, 'content': 'bad key'}\n")
    server = mock_server("--responder", f"{responder}:respond")
    proc = run_evalpack(*eval_args(server.url, datasets_dir, tmp_path, "--eval-batch-size", "1"))
    assert proc.returncode == 3 and "refused the API key" in proc.stderr and "Traceback" not in proc.stderr
    assert server.stats()["chat_requests"] == 1  # 135 questions, one request: the workers stop


def test_resume_replays_stored_calls_and_rescore_matches(mock_server, datasets_dir, tmp_path):
    server = mock_server("--answer", "ANSWER: B")
    first = run_evalpack(*eval_args(server.url, datasets_dir, tmp_path, "--limit", "5"))
    assert first.returncode == 0, first.stderr
    run_dir = run_dir_of(first)
    assert run_dir.is_absolute()
    sent = server.stats()["chat_requests"]
    again = run_evalpack(*eval_args(server.url, datasets_dir, tmp_path, "--limit", "5"))
    assert again.returncode == 0 and server.stats()["chat_requests"] == sent == 5
    live = json.loads((run_dir / "report.json").read_text())
    rescored = run_evalpack("rescore", str(run_dir), "--quiet")
    assert rescored.returncode == 0, rescored.stderr
    after = json.loads((run_dir / "report.json").read_text())
    assert after.pop("rescored") is True
    for report in (live, after):
        report.pop("created")
    assert after == live


def test_tau_bench_airline_alone_needs_no_retail_file(datasets_dir, tmp_path):
    import shutil

    shutil.copytree(datasets_dir / "tau_bench" / "airline", tmp_path / "data" / "tau_bench" / "airline")
    cfg = config(tmp_path / "data", tmp_path, datasets=["tau_bench"], limit=1,
                 dataset_args={"tau_bench": {"subset_list": ["airline"]}})
    (plan,) = make_plans(cfg)  # files are declared once (the manifest), tagged by domain
    assert [s.id for s in plan.samples] == ["airline_0"]
    with pytest.raises(DataMissingError, match="retail"):
        make_plans(config(tmp_path / "data", tmp_path, datasets=["tau_bench"], limit=1))
