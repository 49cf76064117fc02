"""The LLM judge, end to end over real HTTP: SimpleQA and math graded by a judge mock whose
verdicts are known in advance (tests/responders/judge.py), resume and rescore from stored
verdicts, kill -9 during judging, and the sentences of a missing or unusable judge.

The judge is mocked because no grading model can exist here that gives known verdicts; the
evaluated model is the plain mock. Expected numbers come from the responder's plan and the
upstream CSV, read here independently of evalpack's loader.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATASETS, REPO, run_dir_of, run_evalpack, wait_until

sys.path.insert(0, str(Path(__file__).parent / "responders"))
import judge as plan  # noqa: E402

RESPONDER = str(Path(__file__).parent / "responders" / "judge.py")
SECRET = "judge-key-5f2c9a7e"


def _eval(model_url: str, judge_url: str, work: Path, *extra: str, limit: int = 200, datasets: str = "simpleqa"):
    return run_evalpack("eval", "--model", "mock", "--api-url", model_url, "--datasets", datasets,
                        "--dataset-dir", str(DATASETS), "--limit", str(limit), "--work-dir", str(work),
                        "--eval-batch-size", "8", "--quiet",
                        "--judge-model-args", json.dumps({"model_id": "judge", "api_url": judge_url,
                                                          "api_key": SECRET}),
                        "--judge-worker-num", "4", *extra)


def _section(run_dir: Path, name: str = "simpleqa") -> dict:
    report = json.loads((run_dir / "report.json").read_text())
    return next(d for d in report["datasets"] if d["dataset"] == name)


def _topics() -> list[str]:
    with (DATASETS / "simpleqa" / "simple_qa_test_set.csv").open(newline="", encoding="utf-8") as fh:
        return [row["metadata"].split("'topic': '")[1].split("'")[0] for row in csv.DictReader(fh)]


def test_simpleqa_exact_metrics_resume_and_rescore_from_stored_verdicts(mock_server, tmp_path):
    model = mock_server("--answer", "I believe it is Paris.")
    judge = mock_server("--responder", f"{RESPONDER}:respond", "--api-key", SECRET, model="judge")
    want = plan.expected(list(range(200)))

    proc = _eval(model.url, judge.url, tmp_path)
    # judge errors are not model errors, but a run with samples left unverdicted still exits 1
    assert proc.returncode == 1, proc.stderr
    assert "have no verdict from the judge (simpleqa 20)" in proc.stderr
    run_dir = run_dir_of(proc)
    ds = _section(run_dir)
    for key in ("correct", "incorrect", "not_attempted", "correct_given_attempted", "f_score"):
        assert ds["metrics"][key] == pytest.approx(want[key]), key
        assert ds["intervals"][key]["ci_low"] <= want[key] <= ds["intervals"][key]["ci_high"]
    assert ds["num_scored"] == 180 and ds["num_errors"] == 0
    assert ds["judge"]["num_errors"] == 20 and ds["judge"]["error_ids"] == want["judge_errors"]
    assert ds["judge"]["usage"]["calls"] == want["judge_calls"] == judge.stats()["chat_requests"]
    assert ds["judge"]["usage"]["prompt_tokens"] > 0
    # the model's own usage counts the model's 200 calls only
    assert json.loads((run_dir / "report.json").read_text())["meta"]["requests"]["requests"] == 200
    # per topic, from the CSV and the plan
    topics = _topics()
    art = [i for i in range(200) if topics[i] == "Art"]
    assert ds["per_topic"]["Art"]["correct"] == pytest.approx(plan.expected(art)["correct"])
    assert ds["per_topic"]["Art"]["num"] == len(art) - len(plan.expected(art)["judge_errors"])
    text = (run_dir / "report.md").read_text()
    assert f"judge judge (auto): {want['judge_calls']} calls" in text and "20 samples have no verdict" in text
    assert "20 samples have no verdict" in (run_dir / "report.html").read_text()

    # resume: every verdict (the unreadable ones too) is replayed, nothing is sent again
    model_calls, judge_calls = model.stats()["chat_requests"], judge.stats()["chat_requests"]
    again = _eval(model.url, judge.url, tmp_path, "--ignore-errors")
    assert again.returncode == 0, again.stderr
    assert (model.stats()["chat_requests"], judge.stats()["chat_requests"]) == (model_calls, judge_calls)

    # rescore with no server at all reproduces the judged scores
    model.stop()
    judge.stop()
    rescored = run_evalpack("rescore", str(run_dir))
    assert rescored.returncode == 0, rescored.stderr
    after = _section(run_dir)
    assert after["metrics"] == ds["metrics"] and after["judge"]["error_ids"] == want["judge_errors"]

    # a verdict that run.db does not hold: rescore says so, and that sample is a judge error
    db = sqlite3.connect(run_dir / "run.db")
    db.execute("DELETE FROM calls WHERE benchmark='simpleqa/judge' AND sample_id='0'")
    db.commit()
    db.close()
    rescored = run_evalpack("rescore", str(run_dir))
    assert rescored.returncode == 0, rescored.stderr
    assert "1 of them need a judge call that run.db does not hold" in rescored.stdout
    assert _section(run_dir)["judge"]["error_ids"] == sorted(want["judge_errors"] + ["0"])

    # the judge's key never reaches the run directory
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_a_judged_benchmark_without_a_judge_stops_before_any_request(mock_server, tmp_path):
    model = mock_server()
    base = ("eval", "--model", "mock", "--api-url", model.url, "--dataset-dir", str(DATASETS), "--limit", "2",
            "--work-dir", str(tmp_path), "--quiet")
    proc = run_evalpack(*base, "--datasets", "simpleqa")
    assert proc.returncode == 2
    assert "simpleqa is graded by an LLM judge and none is configured" in proc.stderr and "--judge-model" in proc.stderr
    proc = run_evalpack(*base, "--datasets", "math_500", "--judge-strategy", "llm_recall")
    assert proc.returncode == 2 and "--judge-model" in proc.stderr
    proc = run_evalpack(*base, "--datasets", "simpleqa", "--judge-model", "j", "--judge-strategy", "rule")
    assert proc.returncode == 2 and "has no rule-based scoring" in proc.stderr
    proc = run_evalpack(*base, "--datasets", "simpleqa", "--judge-model-args", '{"model_id": "j", "prompt_template": "x"}')
    assert proc.returncode == 2 and "prompt_template is not supported" in proc.stderr
    assert model.stats()["requests"] == 0


def test_another_judge_is_another_variant_and_model_calls_are_replayed(mock_server, tmp_path):
    model = mock_server("--answer", "Paris")
    judge = mock_server("--answer", "A", model="judge")
    args = ("eval", "--model", "mock", "--api-url", model.url, "--datasets", "simpleqa", "--dataset-dir",
            str(DATASETS), "--limit", "5", "--work-dir", str(tmp_path), "--quiet", "--judge-model", "judge",
            "--judge-api-url", judge.url)
    first = run_evalpack(*args)
    assert first.returncode == 0, first.stderr
    variant = _section(run_dir_of(first))["variant"]
    second = run_evalpack(*args, "--judge-model-args", '{"generation_config": {"temperature": 0.3}}')
    assert second.returncode == 0, second.stderr
    assert run_dir_of(first) == run_dir_of(second) and _section(run_dir_of(second))["variant"] != variant
    assert model.stats()["chat_requests"] == 5  # the model's replies were reused
    assert judge.stats()["chat_requests"] == 10  # the new judge settings asked again
    plans = json.loads((run_dir_of(second) / "plans.json").read_text())
    assert plans["simpleqa"]["judge"]["generation"] == {"temperature": 0.3}


def test_kill_9_during_judging_then_resume_repeats_only_judge_calls_in_flight(mock_server, tmp_path):
    hold = tmp_path / "hold"
    hold.write_text("x")
    gate = tmp_path / "gate.py"
    gate.write_text(
        "import asyncio, pathlib\n"
        "seen = 0\n"
        "async def respond(body):\n"
        "    global seen\n"
        "    seen += 1\n"
        f"    while seen > 10 and pathlib.Path({str(hold)!r}).exists():\n"
        "        await asyncio.sleep(0.02)\n"
        "    return 'A'\n", encoding="utf-8")
    model = mock_server("--answer", "Paris")
    judge = mock_server("--responder", f"{gate}:respond", model="judge")
    work = tmp_path / "out"
    cmd = [sys.executable, "-m", "evalpack", "eval", "--model", "mock", "--api-url", model.url, "--datasets",
           "simpleqa", "--dataset-dir", str(DATASETS), "--limit", "30", "--work-dir", str(work), "--quiet",
           "--eval-batch-size", "4", "--judge-model", "judge", "--judge-api-url", judge.url,
           "--judge-worker-num", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stored() -> int:
        dbs = list(work.glob("*/run.db"))
        if not dbs:
            return 0
        db = sqlite3.connect(f"file:{dbs[0]}?mode=ro", uri=True)
        try:
            return db.execute("SELECT count(*) FROM calls WHERE benchmark='simpleqa/judge'").fetchone()[0]
        except sqlite3.Error:
            return 0
        finally:
            db.close()

    try:
        wait_until(lambda: judge.stats()["chat_requests"] >= 12 and stored() >= 10, "10 verdicts stored, 2 held")
    finally:
        proc.kill()  # SIGKILL: nothing is flushed on the way out
        proc.wait()
    kept, seen = stored(), judge.stats()["chat_requests"]
    assert kept >= 10 and seen - kept <= 2  # at most --judge-worker-num were in flight
    hold.unlink()
    judge.reset()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert judge.stats()["chat_requests"] == 30 - kept  # the stored verdicts were not asked again
    assert _section(run_dir_of(again))["metrics"]["correct"] == 1.0


def test_math_llm_recall_asks_the_judge_only_where_the_rule_says_no(mock_server, tmp_path):
    model = mock_server("--responder", f"{RESPONDER}:math_model")
    judge = mock_server("--responder", f"{RESPONDER}:respond", model="judge")
    levels = ("--dataset-args", '{"math_500": {"subset_list": ["Level 1", "Level 2"]}}')
    proc = run_evalpack("eval", "--model", "mock", "--api-url", model.url, "--datasets", "math_500",
                        "--dataset-dir", str(DATASETS), "--limit", "6", "--work-dir", str(tmp_path), "--quiet",
                        "--judge-model", "judge", "--judge-api-url", judge.url, "--judge-strategy", "llm_recall",
                        *levels)
    assert proc.returncode == 0, proc.stderr
    run_dir = run_dir_of(proc)
    ds = _section(run_dir, "math_500")
    rows = [json.loads(line) for line in (run_dir / "samples" / "math_500.jsonl").read_text().splitlines()]
    rule_wrong = [r for r in rows if r["detail"]["rule_score"] == 0.0]
    assert judge.stats()["chat_requests"] == len(rule_wrong) == ds["judge"]["usage"]["calls"]
    index = plan.math500_rows()
    kinds = {r["sample_id"]: plan.MATH_PLAN[next(i for p, (i, _) in index.items()
                                                 if r["metadata"]["question"] == p) % 4] for r in rows}
    judge_right = sum(1 for r in rows if kinds[r["sample_id"]] == "judge-right")
    assert len(rows) == 12 and judge_right >= 1
    assert all(r["score"] == 1.0 for r in rows if kinds[r["sample_id"]] == "judge-right")
    assert all(r["score"] == 0.0 for r in rows if kinds[r["sample_id"]] in ("wrong", "no-box"))
    assert ds["metrics"]["rule_accuracy"] == pytest.approx(sum(r["detail"]["rule_score"] for r in rows) / 12)
    assert ds["score"] == pytest.approx(ds["metrics"]["rule_accuracy"] + judge_right / 12)
    assert ds["judge_raised"] == judge_right
    # rule-only, as a rule-only tool reports it: another variant, no judge asked
    rule = run_evalpack("eval", "--model", "mock", "--api-url", model.url, "--datasets", "math_500",
                        "--dataset-dir", str(DATASETS), "--limit", "6", "--work-dir", str(tmp_path), "--quiet",
                        *levels)
    assert rule.returncode == 0, rule.stderr
    assert _section(run_dir_of(rule), "math_500")["score"] == pytest.approx(ds["metrics"]["rule_accuracy"])
    assert judge.stats()["chat_requests"] == len(rule_wrong)


def test_judge_keys_in_yaml_and_the_python_api(mock_server, tmp_path):
    from evalpack import api

    model = mock_server("--answer", "Paris")
    judge = mock_server("--answer", "B", model="judge")
    result = api.evaluate("mock", model.url, "simpleqa", dataset_dir=str(DATASETS), limit=3,
                          work_dir=str(tmp_path), judge_model_args={"model_id": "judge", "api_url": judge.url},
                          judge_strategy="auto", judge_worker_num=2)
    assert result["simpleqa"].metrics["incorrect"] == 1.0
    assert result["simpleqa"].judge["usage"]["calls"] == 3 and result["simpleqa"].judge["num_errors"] == 0
    config = tmp_path / "run.yaml"
    config.write_text(f"model: mock\napi_url: {model.url}\ndatasets: [simpleqa]\ndataset_dir: {DATASETS}\n"
                      f"limit: 3\nwork_dir: {tmp_path}\njudge_model: judge\njudge_api_url: {judge.url}\n"
                      f"judge_worker_num: 2\nquiet: true\n", encoding="utf-8")
    proc = run_evalpack("eval", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert judge.stats()["chat_requests"] == 3  # the same keys, the same variant: verdicts replayed


def test_tau2_nl_assertions_through_the_judge(tmp_path):
    """tau2's NL assertions graded over real HTTP through a Context and the run store."""
    import asyncio

    asyncio.run(_tau2_nl(tmp_path))


async def _tau2_nl(tmp_path):
    from evalpack.benchmarks.tau2_bench.benchmark import Tau2Bench
    from evalpack.client import ModelClient
    from evalpack.context import Context
    from evalpack.mock import MockServer, start_in_process
    from evalpack.scoring.judge import Judge, JudgeSettings
    from evalpack.store import RunStore
    from evalpack.types import Sample

    tasks = json.loads((DATASETS / "tau2_bench" / "retail" / "tasks.json").read_text())
    task = next(t for t in tasks if len(t["evaluation_criteria"].get("nl_assertions") or []) >= 1)
    assertions = task["evaluation_criteria"]["nl_assertions"]
    replies = iter(["not json at all",
                    json.dumps({"results": [{"expectedOutcome": a, "reasoning": "ok", "metExpectation": True}
                                            for a in assertions]})])
    server = MockServer(model="judge", responder=lambda body: next(replies))
    runner, url = await start_in_process(server)
    store = RunStore(tmp_path / "run.db")
    client = ModelClient([url], "judge", concurrency=2, retries=0)
    try:
        settings = JudgeSettings(model_id="judge", api_url=url)
        ctx = Context(store=store, client=client, model="m", benchmark="tau2_bench", sample_id=task["id"], repeat=0,
                      args={}, generation={}, client_for=None, judge=(settings, lambda: client))
        output = {"messages": [{"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Hi"}],
                  "termination": "user_stop", "reward_info": {"reward": 1.0, "breakdown": {"DB": 1.0},
                                                              "nl_assertions": "not judged"}}
        score = await Tau2Bench().score(Sample(id=task["id"], subset="retail", target=task), output, {},
                                        judge=Judge(ctx.judge, "auto"))
    finally:
        await client.close()
        store.close()
        await runner.cleanup()
    assert score.value == 1.0 and score.detail["breakdown"]["NL_ASSERTION"] == 1.0
    assert [c["met"] for c in score.detail["nl_assertions"]] == [True] * len(assertions)
    assert server.stats["chat_requests"] == 2  # the unreadable reply was asked again once


def test_general_qa_judged_with_llm_and_bleu_rouge_beside(mock_server, tmp_path):
    fixture = REPO / "tests" / "fixtures" / "custom_eval" / "qa"
    refs = [json.loads(line)["response"] for line in (fixture / "example.jsonl").read_text("utf-8").splitlines()
            if line.strip()]
    model = mock_server("--answer", "骆驼")
    judge = mock_server("--responder", f"{RESPONDER}:respond", model="judge")
    base = ("eval", "--model", "mock", "--api-url", model.url, "--datasets", "general_qa", "--dataset-args",
            json.dumps({"general_qa": {"local_path": str(fixture)}}), "--work-dir", str(tmp_path), "--quiet",
            "--judge-model", "judge", "--judge-api-url", judge.url)
    refused = run_evalpack(*base, "--judge-strategy", "llm_recall")
    assert refused.returncode == 2 and "use --judge-strategy llm" in refused.stderr
    proc = run_evalpack(*base, "--judge-strategy", "llm")
    assert proc.returncode == 0, proc.stderr
    ds = _section(run_dir_of(proc), "general_qa")
    assert ds["metric"] == "acc" and judge.stats()["chat_requests"] == len(refs)
    assert ds["score"] == pytest.approx(sum("骆驼" in r for r in refs) / len(refs))
    assert "Rouge-L-R" in ds["metrics"] and "bleu-1" in ds["metrics"]


def test_general_qa_rows_without_a_reference_are_rated_by_the_judge(mock_server, tmp_path):
    """EvalScope's numeric template for rows with no reference: a 0-1 rating in [[...]], an
    out-of-scale one retried, none at all a judge error; rows with a reference keep A/B and BLEU."""
    data = tmp_path / "qa"
    data.mkdir()
    rows = [{"query": "Name a desert animal. rate:0.25"},
            {"query": "Describe a camel. rate:out-of-scale"},
            {"query": "Say anything. rate:never"},
            {"query": "What carries water in the desert?", "response": "骆驼"},
            {"query": "Which animal neighs?", "response": "horse"}]
    (data / "mixed.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    model = mock_server("--answer", "骆驼")
    judge = mock_server("--responder", f"{RESPONDER}:respond", model="judge")
    base = ("eval", "--model", "mock", "--api-url", model.url, "--datasets", "general_qa", "--dataset-args",
            json.dumps({"general_qa": {"local_path": str(data)}}), "--work-dir", str(tmp_path / "w"), "--quiet")

    # without a judge the row is refused before any request, naming the file, the line and the fix
    for extra in ((), ("--judge-model", "judge", "--judge-api-url", judge.url)):  # auto: BLEU/ROUGE only
        refused = run_evalpack(*base, *extra)
        assert refused.returncode == 2 and f"{data / 'mixed.jsonl'} line 1, field 'response'" in refused.stderr
        assert "--judge-strategy llm" in refused.stderr and "Traceback" not in refused.stderr
    assert model.stats()["chat_requests"] == 0 and judge.stats()["chat_requests"] == 0

    proc = run_evalpack(*base, "--judge-model", "judge", "--judge-api-url", judge.url, "--judge-strategy", "llm")
    assert proc.returncode == 1 and "have no verdict from the judge (general_qa 1)" in proc.stderr
    run_dir = run_dir_of(proc)
    ds = _section(run_dir, "general_qa")
    assert ds["metric"] == "acc" and ds["num_scored"] == 4 and ds["judge"]["error_ids"] == ["mixed/2"]
    assert ds["score"] == pytest.approx((0.25 + 0.5 + 1.0 + 0.0) / 4)
    # 1 + 2 (out of scale, then reminded) + 3 (never) numeric calls, 2 A/B calls
    assert judge.stats()["chat_requests"] == ds["judge"]["usage"]["calls"] == 8
    samples = {r["sample_id"]: r for r in map(json.loads, (run_dir / "samples" / "general_qa.jsonl").open())}
    assert samples["mixed/1"]["detail"]["judge_attempts"] == 2 and samples["mixed/1"]["score"] == 0.5
    assert "bleu-1" not in samples["mixed/0"]["detail"]  # nothing to overlap with
    # BLEU/ROUGE average the two rows with a reference only: one exact, one with no overlap
    assert ds["metrics"]["Rouge-L-R"] == pytest.approx(0.5)

    model.stop()
    judge.stop()
    rescored = run_evalpack("rescore", str(run_dir))
    assert rescored.returncode == 0, rescored.stderr
    assert _section(run_dir, "general_qa")["score"] == pytest.approx(ds["score"])
