"""Math reasoning benchmarks (minerva_math, gsm8k, math_500) and their verifier.

Everything runs on the real dataset files and the real math-verify package, in real worker
processes; the end-to-end tests drive `evalpack eval` and `evalpack rescore` as subprocesses
against `evalpack mock` on 127.0.0.1 with tests/math_responder.py as the "model".
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from pathlib import Path

import pytest
from conftest import run_dir_of, run_evalpack

from evalpack.benchmarks import registry
from evalpack.errors import UsageError
from evalpack.scoring.math_equiv import (Verdict, VerifyPool, check_answers, extract_answer, gold_from_gsm8k,
                                         gold_from_solution, last_boxed, quick_verdict, to_verifiable)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import math_responder  # noqa: E402  (the e2e "model"; also an independent reader of the golds)


def rows(datasets_dir: Path, path: str) -> list[dict]:
    with open(datasets_dir / path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="module")
def pool():
    p = VerifyPool(workers=2)
    yield p
    p.close()


# ---------------------------------------------------------------------------- extraction


def test_last_boxed_handles_nesting_the_last_box_and_truncation():
    text = r"First \boxed{1}, then $\boxed{\frac{1}{\sqrt{2}}}$ and more."
    assert last_boxed(text) == r"\frac{1}{\sqrt{2}}"
    assert last_boxed(r"so $\boxed 5$.") == "5"
    assert last_boxed(r"\fbox{\{1, 2\}}") == r"\{1, 2\}"
    # a reply cut off inside its last box falls back to the previous complete one
    assert last_boxed(r"\boxed{3} ... finally \boxed{\frac{1") == "3"
    assert last_boxed("no box here") is None


def test_extract_answer_fallbacks_in_the_graders_order():
    assert extract_answer(r"work \boxed{2} ... The answer is \boxed{7}.") == ("7", "boxed")
    assert extract_answer("Final Answer: The final answer is $4.5e33$. I hope it is correct.") == (
        "4.5e33", "minerva_format")
    assert extract_answer("Adding up, the answer is 1,234.\nDone") == ("1,234", "answer_is")
    assert extract_answer("She pays 3 + 4 = 7 dollars, then 1,200 more.") == ("1200", "last_number")
    assert extract_answer("no digits at all") == (None, None)
    # an empty box (the instruction echoed back) is no answer, as in the graders: no fallback
    assert extract_answer("The answer is 42, put within \\boxed{}.") == (None, "empty_box")
    assert extract_answer(None) == (None, None)
    # only what follows a reasoning model's </think> is the answer
    assert extract_answer(r"<think>maybe \boxed{1}</think>It is \boxed{2}") == ("2", "boxed")


def test_gold_answers_of_the_real_files(datasets_dir):
    minerva = [gold_from_solution(r["solution"]) for r in rows(datasets_dir, "minerva_math/test.jsonl")]
    assert len(minerva) == 272 and all(minerva)
    assert minerva[:2] == ["1.6", "4.5e33"]
    # nested braces inside the box survive
    assert any(g.count("{") >= 2 for g in minerva)
    gsm = [gold_from_gsm8k(r["answer"]) for r in rows(datasets_dir, "gsm8k/test.jsonl")]
    assert len(gsm) == 1319 and gsm[0] == "18"
    assert all(re.fullmatch(r"-?\d+", g) for g in gsm)  # thousands separators dropped ("2,125")
    assert "2125" in gsm
    math500 = rows(datasets_dir, "math500/test.jsonl")
    assert len(math500) == 500
    # the `answer` field is the last box of the solution in the upstream file
    assert sum(gold_from_solution(r["solution"]) == r["answer"] for r in math500) > 480


def test_to_verifiable_rewrites_e_notation_and_plain_units():
    assert to_verifiable("4.5e33") == r"4.5 \times 10^{33}"
    assert to_verifiable("1.325e-27") == r"1.325 \times 10^{-27}"
    assert to_verifiable("18 dollars") == "18"
    assert to_verifiable(r"\text{east}") == r"\text{east}"
    assert to_verifiable("x = e^2") == "x = e^2"


def test_quick_verdicts_need_no_worker():
    assert quick_verdict("18", None).status == "no_answer"
    assert quick_verdict("4.5e33", r"4.5 \times 10^{33}") == Verdict(True, "same_text")
    assert quick_verdict("2125", "2,125") == Verdict(True, "integers")
    assert quick_verdict("18", "19") == Verdict(False, "integers")
    assert quick_verdict("18", "18.0") is None and quick_verdict("1,2", "12") is None  # left to math-verify


# ---------------------------------------------------------------------------- equivalence


def test_equivalent_forms_are_accepted(pool, datasets_dir):
    minerva = [gold_from_solution(r["solution"]) for r in rows(datasets_dir, "minerva_math/test.jsonl")]
    math500 = [r["answer"] for r in rows(datasets_dir, "math500/test.jsonl")]
    assert math500[219] == r"\frac{1}{2}" and minerva[0] == "1.6" and minerva[1] == "4.5e33"
    accepted = [
        (math500[219], "0.5"), (math500[219], "1/2"), (math500[219], r"\dfrac12"),
        (minerva[0], "1.60"), (minerva[0], r"1.6 \mathrm{~cm}"), (minerva[0], r"1.60\text{ cm}"),
        (minerva[1], r"4.5 \times 10^{33}"), (minerva[1], r"4.50\cdot 10^{33} \mathrm{erg/s}"),
        (minerva[265], r"1.325 \times 10^{-27} \mathrm{~kg~m/s}"),
        ("18", r"\$18.00"), ("2125", "2,125"),
        (math500[0], r"(3, \pi/2)"), (math500[307], r"(-\infty,0]"), (math500[8], r"\sqrt{117}"),
        (math500[4], "Evelyn"), (math500[301], "5.4"),
    ]
    verdicts = check_answers(accepted, pool=pool)
    assert [v.correct for v in verdicts] == [True] * len(accepted), list(zip(accepted, verdicts))
    # these went through math-verify, not a text shortcut
    assert all(v.status == "ok" for v in verdicts[:6])


def test_near_misses_are_rejected(pool, datasets_dir):
    minerva = [gold_from_solution(r["solution"]) for r in rows(datasets_dir, "minerva_math/test.jsonl")]
    math500 = [r["answer"] for r in rows(datasets_dir, "math500/test.jsonl")]
    rejected = [
        (math500[219], "0.49"), (math500[219], "1/3"),
        (minerva[0], "1.7"), (minerva[0], r"1.5 \mathrm{~cm}"),
        (minerva[1], "4.6e33"), (minerva[1], r"4.5 \times 10^{32}"),
        # math-verify alone rounds both of these to 0 and calls them equal
        (minerva[265], "1.325e-28"), (minerva[267], "4.7e-24"),
        ("18", "19"), ("2125", "2126"),
        (math500[0], r"(3, \pi)"), (math500[307], r"(-\infty,0)"),
        # math-verify alone reads 52_8 as 52
        (math500[30], "52_9"),
        (math500[4], "Navin"),
    ]
    verdicts = check_answers(rejected, pool=pool)
    assert [v.correct for v in verdicts] == [False] * len(rejected), list(zip(rejected, verdicts))


def test_a_hanging_verification_is_cut_off_and_the_others_are_scored(caplog):
    # With math-verify's own SIGALRM guards off, (10^7)! really hangs the worker (sympy grinds
    # on for minutes); only the pool's deadline can stop it. The worker is killed and replaced.
    # Only the hanging item gets a short deadline, so a busy machine cannot make the others miss theirs.
    pairs = [("\\frac{1}{2}", "0.5"), ("5", "(10^{7})!"), ("1.6", "1.60"), ("18", "19"), ("3", "3.0")]
    hung_pool = VerifyPool(workers=2, signal_timeouts=False)
    try:
        with caplog.at_level(logging.WARNING, logger="evalpack.math"):
            futures = [hung_pool.submit(gold, pred, timeout=3 if i == 1 else 120)
                       for i, (gold, pred) in enumerate(pairs)]
            verdicts = [f.result(timeout=300) for f in futures]
        assert [v.correct for v in verdicts] == [True, False, True, False, True]
        assert verdicts[1].status == "timeout" and "killed" in verdicts[1].message
        assert [v.status for i, v in enumerate(verdicts) if i != 1] == ["ok"] * 4
        assert hung_pool.stats["workers_replaced"] == 1
        assert any("timeout" in r.getMessage() and "(10^{7})!" in r.getMessage() for r in caplog.records)
        # the pool goes on with a fresh worker
        assert check_answers([("2", "4/2")], pool=hung_pool)[0].correct
    finally:
        hung_pool.close()


def test_math_verify_internal_timeout_scores_zero_and_is_logged(pool, caplog):
    # With its guards on (the default), math-verify gives up on its own after
    # timeout/6 s; the item scores 0 with status "timeout" and the worker survives.
    replaced = pool.stats["workers_replaced"]
    with caplog.at_level(logging.WARNING, logger="evalpack.math"):
        verdict = check_answers([("5", "(10^{7})!")], pool=pool, timeout=12)[0]
    assert not verdict.correct and verdict.status == "timeout"
    assert "Timeout" in verdict.message
    assert pool.stats["workers_replaced"] == replaced
    assert any("timeout" in r.getMessage() for r in caplog.records)


def test_a_crashed_worker_costs_only_its_item():
    crash_pool = VerifyPool(workers=1, signal_timeouts=False)
    try:
        slow = crash_pool.submit("5", "(10^{7})!", timeout=60)
        deadline = time.monotonic() + 30
        while not (crash_pool._workers and crash_pool._workers[0].job) and time.monotonic() < deadline:
            time.sleep(0.05)
        crash_pool._workers[0].proc.kill()  # stands in for a segfault / OOM kill
        verdict = slow.result(timeout=30)
        assert verdict.status == "crash" and not verdict.correct
        assert check_answers([("1.6", "1.60")], pool=crash_pool)[0].correct
    finally:
        crash_pool.close()


def test_workers_that_cannot_start_answer_with_errors_instead_of_hanging():
    broken = VerifyPool(workers=2)
    broken._env["PYTHONHOME"] = "/nonexistent"  # the worker interpreter dies at once
    try:
        verdicts = check_answers([("1", "0.5"), ("3", "x")], pool=broken)
        assert [(v.correct, v.status) for v in verdicts] == [(False, "error")] * 2
        assert "while starting" in verdicts[0].message
    finally:
        broken.close()


# ---------------------------------------------------------------------------- benchmarks


def test_prompts_subsets_and_args(datasets_dir):
    math500 = registry.get("math_500")
    samples = math500.load(datasets_dir, math500.resolve_args({"subset_list": ["Level 1"]}))
    assert len(samples) == 43 and {s.subset for s in samples} == {"Level 1"}
    content = samples[0].messages[0]["content"]
    assert content.endswith("Please reason step by step, and put your final answer within \\boxed{}.")
    assert samples[0].metadata["subject"]
    minerva = registry.get("minerva_math").load(datasets_dir, registry.get("minerva_math").resolve_args({}))
    assert len(minerva) == 272 and len({s.metadata["type"] for s in minerva}) == 9
    gsm = registry.get("gsm8k")
    assert gsm.resolve_args({})["few_shot_num"] == 0
    with pytest.raises(UsageError, match="train"):
        gsm.load(datasets_dir, gsm.resolve_args({"few_shot_num": 4}))
    with pytest.raises(UsageError, match="few_shot_num"):
        math500.load(datasets_dir, math500.resolve_args({"few_shot_num": 2}))


def test_gsm8k_few_shot_uses_the_first_train_rows(tmp_path, datasets_dir):
    # The shared data has no GSM8K train split; a two-row file in the upstream format stands in.
    (tmp_path / "test.jsonl").write_text((datasets_dir / "gsm8k/test.jsonl").read_text(encoding="utf-8"))
    train = [{"question": "Q one?", "answer": "1 + 1 = <<1+1=2>>2\n#### 2"},
             {"question": "Q two?", "answer": "So 3.\n#### 3"}]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train))
    gsm = registry.get("gsm8k")
    sample = gsm.load(tmp_path, gsm.resolve_args({"few_shot_num": 1, "local_path": str(tmp_path)}))[0]
    content = sample.messages[0]["content"]
    assert content.startswith("Here are some examples of how to solve similar problems:\n\nQ one?\n\nReasoning:\n")
    assert "ANSWER: \\boxed{2}" in content and "Q two?" not in content
    assert "Janet" in content


# ---------------------------------------------------------------------------- end to end


def expected_accuracy(items: list[tuple[str, str]]) -> float:
    return sum(math_responder.is_known(i) for i in range(len(items))) / len(items)


def test_eval_and_rescore_end_to_end(mock_server, datasets_dir, tmp_path):
    """All 272 + 1,319 + 500 items through `evalpack eval`, then `evalpack rescore` on the stored run."""
    server = mock_server("--responder", f"{HERE / 'math_responder.py'}:respond")
    done = run_evalpack("eval", "--model", "mock", "--api-url", server.url,
                        "--datasets", "minerva_math", "gsm8k", "math_500", "--dataset-dir", str(datasets_dir),
                        "--work-dir", str(tmp_path), "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = run_dir_of(done)

    golds = math_responder.gold_answers()
    minerva_rows = rows(datasets_dir, "minerva_math/test.jsonl")
    math500_rows = rows(datasets_dir, "math500/test.jsonl")

    def check(report: dict) -> None:
        by_name = {d["dataset"]: d for d in report["datasets"]}
        for name in ("minerva_math", "gsm8k", "math_500"):
            section = by_name[name]
            assert section["num_scored"] == len(golds[name])
            assert section["score"] == pytest.approx(expected_accuracy(golds[name]), abs=1e-12), name
            assert section["num_errors"] == 0
        # per course / per level / per subject, counted straight from the files
        courses = {}
        for i, r in enumerate(minerva_rows):
            courses.setdefault(r["type"], []).append(math_responder.is_known(i))
        got = {g["name"]: (g["score"], g["num"]) for g in by_name["minerva_math"]["groups"]["course"]}
        assert got == {k: (pytest.approx(sum(v) / len(v)), len(v)) for k, v in courses.items()}
        levels, subjects = {}, {}
        for i, r in enumerate(math500_rows):
            levels.setdefault(f"Level {r['level']}", []).append(math_responder.is_known(i))
            subjects.setdefault(r["subject"], []).append(math_responder.is_known(i))
        got_levels = {s["name"]: (s["score"], s["num"]) for s in by_name["math_500"]["subsets"]}
        assert got_levels == {k: (pytest.approx(sum(v) / len(v)), len(v)) for k, v in levels.items()}
        got_subjects = {g["name"]: (g["score"], g["num"]) for g in by_name["math_500"]["groups"]["subject"]}
        assert got_subjects == {k: (pytest.approx(sum(v) / len(v)), len(v)) for k, v in subjects.items()}

    check(json.loads((run_dir / "report.json").read_text()))

    # rescore from the stored replies: same numbers, no server involved
    (run_dir / "report.json").unlink()
    started = time.perf_counter()
    rescored = run_evalpack("rescore", str(run_dir), "--quiet")
    elapsed = time.perf_counter() - started
    assert rescored.returncode == 0, rescored.stderr[-3000:]
    report = json.loads((run_dir / "report.json").read_text())
    assert report.get("rescored") is True
    check(report)
    print(f"\nevalpack rescore of 272 + 1,319 + 500 stored replies: {elapsed:.1f} s")


def test_a_hanging_item_in_a_run_scores_zero_is_logged_and_the_run_goes_on(mock_server, datasets_dir, tmp_path):
    """`evalpack eval` on 6 GSM8K items whose second reply makes math-verify hang."""
    responder = tmp_path / "responder.py"
    responder.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(HERE)!r})\n"
        "import math_responder\n"
        "def respond(body):\n"
        "    if body['messages'][-1]['content'].startswith('A robe takes 2 bolts'):\n"
        "        return 'So the answer is \\\\boxed{(10^{7})!}'\n"
        "    return math_responder.respond(body)\n")
    server = mock_server("--responder", f"{responder}:respond")
    done = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", "gsm8k",
                        "--dataset-dir", str(datasets_dir), "--work-dir", str(tmp_path / "out"), "--quiet",
                        "--limit", "6", "--dataset-args", '{"gsm8k": {"verify_timeout": 12}}')
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = run_dir_of(done)
    samples = {r["sample_id"]: r for r in map(json.loads, (run_dir / "samples/gsm8k.jsonl").read_text().splitlines())}
    assert samples["1"]["score"] == 0.0 and samples["1"]["error"] is None
    assert samples["1"]["detail"]["verdict"] == "timeout"
    # items 0 and 3 carry the gold, 2, 4 and 5 a near miss: all scored as usual
    assert {k: samples[k]["score"] for k in "02345"} == {
        "0": 1.0, "2": 0.0, "3": 1.0, "4": 0.0, "5": 0.0}
    report = json.loads((run_dir / "report.json").read_text())["datasets"][0]
    assert report["score"] == pytest.approx(2 / 6) and report["num_errors"] == 0
    assert report["verifier"]["timeout"] == 1
    log_text = (run_dir / "evalpack.log").read_text()
    assert "math-verify timeout" in log_text and "(10^{7})!" in log_text


def test_real_model_replies_are_read_and_verified(real_model_url, datasets_dir, tmp_path):
    """SmolLM2-135M (llama.cpp) on one item of each dataset: real replies, not canned ones.

    The model is far too small to solve these, so this asserts the pipeline: every reply
    stored, read (or counted as unparsed) and given a verdict, and the score consistent with it.
    """
    done = run_evalpack("eval", "--model", "smollm2-135m-instruct", "--api-url", real_model_url,
                        "--datasets", "gsm8k", "math_500", "minerva_math", "--limit", "1",
                        "--dataset-args", '{"math_500": {"subset_list": ["Level 1"]}}',
                        "--dataset-dir", str(datasets_dir), "--work-dir", str(tmp_path), "--quiet",
                        "--generation-config", '{"temperature": 0, "max_tokens": 160, "timeout": 300}',
                        timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = run_dir_of(done)
    for section in json.loads((run_dir / "report.json").read_text())["datasets"]:
        assert section["num_samples"] == 1 and section["num_errors"] == 0 and section["num_scored"] == 1
    for name in ("gsm8k", "math_500", "minerva_math"):
        (row,) = [json.loads(line) for line in (run_dir / "samples" / f"{name}.jsonl").read_text().splitlines()]
        assert isinstance(row["output"]["content"], str) and row["usage"].get("completion_tokens", 0) > 0
        verdict = row["detail"]["verdict"]
        assert verdict in {"ok", "same_text", "integers", "no_answer", "timeout"}
        assert row["unparsed"] == (row["extracted"] is None) == (verdict == "no_answer")
        assert row["score"] in (0.0, 1.0)
        if verdict in ("no_answer", "timeout"):
            assert row["score"] == 0.0
