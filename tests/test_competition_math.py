"""AIME 2024, AIME 2025 and HMMT February 2025 on the real MathArena / QwQ / Qwen files.

The end-to-end tests drive `evalpack eval` as a subprocess against `evalpack mock` on
127.0.0.1 with tests/responders/reasoning.py as the "model": it reads the gold answers from
the files itself and replies by plan (gold, wrong with a gold decoy inside <think>, varied
styles, a fixed number right out of 4 repeats). Scoring runs the real math-verify.
"""

from __future__ import annotations

import asyncio
import json
from math import comb

import pytest

from evalpack.benchmarks import registry
from evalpack.benchmarks.base import Result
from evalpack.errors import UsageError
from evalpack.scoring.math_equiv import check_answers
from reasoning_support import run_eval
from responders import reasoning
BENCHES = ("aime24", "aime25", "hmmt25")


def load(name: str, datasets_dir, **args):
    bench = registry.get(name)
    resolved = bench.resolve_args(args)
    return bench, resolved, bench.load(datasets_dir, resolved)


def run(responder: str, datasets_dir, work_dir, *extra: str) -> dict:
    return run_eval(responder, list(BENCHES), datasets_dir, work_dir, *extra)


# ------------------------------------------------------------------ data and prompts


def test_every_copy_gives_the_same_problems_and_answers(datasets_dir):
    for name, sources in (("aime24", ("matharena", "qwen2.5-math", "qwq")), ("aime25", ("matharena", "qwq"))):
        golds = []
        for source in sources:
            _, _, samples = load(name, datasets_dir, source=source)
            assert len(samples) == 30 and len({s.id for s in samples}) == 30
            golds.append({s.id: s.target for s in samples})
        assert all(g == golds[0] for g in golds), name
    _, _, aime24 = load("aime24", datasets_dir)
    by_id = {s.id: s for s in aime24}
    # answers.csv writes "025"; the gold is the integer
    assert by_id["2024-I-2"].target == "25" and by_id["2024-I-1"].target == "204"
    assert by_id["2024-II-8"].metadata["exam"] == "II"
    assert "[asy]" in by_id["2024-II-8"].messages[0]["content"] or "<asy>" in by_id["2024-II-8"].messages[0]["content"]
    _, _, hmmt = load("hmmt25", datasets_dir)
    golds = {s.id: s.target for s in hmmt}
    assert golds["hmmt_feb_2025-1"] == "103" and golds["hmmt_feb_2025-3"] == r"\frac{1}{576}"
    assert sum(s.metadata["answer_type"] == "expression" for s in hmmt) == 16


def test_prompts_are_each_copys_own(datasets_dir):
    _, _, aime = load("aime24", datasets_dir)
    first = aime[0].messages[0]["content"]
    # MathArena: config.yaml's instruction (a format string there: "\\boxed{{}}") before the problem
    assert first.startswith("Please reason step by step, and put your final answer within \\boxed{}.\n"
                            "The answer is an integer between 0 and 999 inclusive.\n\nEvery morning Aya")
    _, _, qwq = load("aime25", datasets_dir, source="qwq")
    raw = [json.loads(line) for line in (datasets_dir / "aime25/qwq/aime25.jsonl").read_text().splitlines()]
    assert [s.messages[0]["content"] for s in qwq] == [r["prompt"] for r in raw]  # QwQ's prompt, as shipped
    _, _, hmmt = load("hmmt25", datasets_dir, system_prompt="Be brief.",
                      prompt_template="Problem:\n{question}\n\nPut the answer in \\boxed{{}}.")
    assert hmmt[0].messages == [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "Problem:\nCompute the sum of the positive divisors "
                                 "(including $1$) of $9!$ that have units digit $1$.\n\nPut the answer in \\boxed{}."}]


@pytest.mark.parametrize("args, message", [
    ({"source": "qwen2.5-math"}, "source must be one of matharena, qwq"),
    ({"repeats": 0}, "repeats must be an integer between 1 and 1000"),
    ({"strict_parsing": "yes"}, "strict_parsing must be true or false"),
    ({"few_shot_num": 4}, "unknown key 'few_shot_num'"),
])
def test_bad_args_are_usage_errors(args, message):
    with pytest.raises(UsageError, match=message):
        registry.get("aime25").resolve_args(args)


def test_hmmt_latex_answers_are_checked_by_math_verify():
    pairs = [(r"\frac{-1+\sqrt{17}}{2}, \frac{-1-\sqrt{17}}{2}", r"\frac{-1-\sqrt{17}}{2}, \frac{-1+\sqrt{17}}{2}"),
             (r"2^{25} \cdot 26!", r"2^{25}\times 26!"),
             (r"\sqrt{\frac{95}{24}}", r"\frac{\sqrt{570}}{12}"),
             (r"\frac{9 \sqrt{23}}{23}", r"\frac{9}{\sqrt{23}}"),
             (r"1-\frac{2}{\pi}", r"\frac{\pi-2}{\pi}"),
             ("73", "073")]
    wrong = [(r"\frac{-1+\sqrt{17}}{2}, \frac{-1-\sqrt{17}}{2}", r"\frac{-1+\sqrt{17}}{2}"),
             (r"14+4\sqrt{37}", r"14+4\sqrt{38}"),
             (r"\frac{1}{576}", r"\frac{1}{576}+1")]
    verdicts = check_answers(pairs + wrong)
    assert [v.correct for v in verdicts] == [True] * len(pairs) + [False] * len(wrong)


def test_strict_parsing_reads_only_a_box(datasets_dir):
    bench, args, samples = load("aime24", datasets_dir, strict_parsing=True)
    _, lenient_args, lenient = load("aime24", datasets_dir)

    def score(sample, args, text):
        return asyncio.run(bench.score(sample, {"content": text}, args)).value

    assert score(samples[0], args, "Adding the cases, the answer is 204.") == 0.0
    assert score(lenient[0], lenient_args, "Adding the cases, the answer is 204.") == 1.0
    assert score(samples[0], args, "<think>\\boxed{5}</think> so \\boxed{204}") == 1.0
    assert score(samples[0], args, "<think>\\boxed{204}</think> so \\boxed{5}") == 0.0
    # a reply that ends inside its thinking has no answer, strict or not
    assert score(samples[0], args, "<think>so it is \\boxed{204}") == 0.0
    assert score(lenient[0], lenient_args, "<think>so it is \\boxed{204}") == 0.0


def test_repeat_metrics_are_avg_and_unbiased_pass_at_k():
    from evalpack.benchmarks.competition_math import repeat_metrics

    results = [Result(sample_id=f"p{i}", subset="default", repeat=r, score=float(r < i)) for i in range(5)
               for r in range(4)]
    m = repeat_metrics(results, 4)
    assert m["avg@4"] == pytest.approx(10 / 20)
    assert m["pass@1"] == pytest.approx(10 / 20)
    assert m["pass@2"] == pytest.approx(sum(1 - comb(4 - c, 2) / comb(4, 2) for c in range(5)) / 5)
    assert m["pass@4"] == pytest.approx(4 / 5)
    assert set(m) == {"avg@4", "pass@1", "pass@2", "pass@4"}


# ------------------------------------------------------------------ through the CLI


def test_gold_replay_scores_one_and_wrong_replay_zero(datasets_dir, tmp_path):
    gold = run("competition_gold", datasets_dir, tmp_path / "gold")
    wrong = run("competition_wrong", datasets_dir, tmp_path / "wrong")
    for name in BENCHES:
        assert gold[name]["num_scored"] == 30 and gold[name]["num_errors"] == 0
        assert gold[name]["score"] == 1.0, name
        assert gold[name]["metrics"]["avg@1"] == 1.0 and gold[name]["metrics"]["pass@1"] == 1.0
        assert wrong[name]["score"] == 0.0, name  # the gold inside <think> is not read
        assert wrong[name]["num_unparsed"] == 0
    exams = {g["name"]: (g["score"], g["num"]) for g in gold["aime25"]["groups"]["exam"]}
    assert exams == {"I": (1.0, 15), "II": (1.0, 15)}
    kinds = {g["name"]: g["num"] for g in gold["hmmt25"]["groups"]["answer_type"]}
    assert kinds == {"integer": 14, "expression": 16}


def test_varied_styles_score_as_planned(datasets_dir, tmp_path):
    sections = run("competition_styles", datasets_dir, tmp_path)
    expected: dict[str, list[float]] = {name: [] for name in BENCHES}
    for i, (bench, *_rest) in enumerate(reasoning.competition_problems()):
        expected[bench].append(float(reasoning.competition_plan(i)[1]))
    for name in BENCHES:
        assert 0 < sum(expected[name]) < 30
        assert sections[name]["score"] == pytest.approx(sum(expected[name]) / 30, abs=1e-12), name


def test_repeats_give_avg_at_k_and_pass_at_k(datasets_dir, tmp_path):
    k = reasoning.REPEATS
    args = json.dumps({name: {"repeats": k} for name in BENCHES})
    sections = run("competition_repeats", datasets_dir, tmp_path, "--dataset-args", args)
    for name in BENCHES:
        section = sections[name]
        assert section["num_samples"] == 30 * k and section["num_scored"] == 30 * k
        counts = [reasoning.correct_of_repeats(i) for i, p in enumerate(reasoning.competition_problems())
                  if p[0] == name]
        assert section["metrics"][f"avg@{k}"] == pytest.approx(sum(counts) / (30 * k), abs=1e-12)
        assert section["score"] == pytest.approx(sum(counts) / (30 * k), abs=1e-12)
        for j in (1, 2, 4):
            want = sum(1 - comb(k - c, j) / comb(k, j) for c in counts) / 30
            assert section["metrics"][f"pass@{j}"] == pytest.approx(want, abs=1e-12), (name, j)
