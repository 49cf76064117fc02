"""MMLU-Pro on the real parquet files: TIGER-Lab's prompt and answer cascade, the record with
inconsistent answer fields, and runs through `evalpack eval` against `evalpack mock` with
tests/responders/reasoning.py (which reads the gold letters from the parquet itself)."""

from __future__ import annotations

import sys
from collections import defaultdict

import pytest

from evalpack.benchmarks import registry
from evalpack.benchmarks.mmlu_pro import extract_answer
from evalpack.errors import DataMissingError, UsageError
from reasoning_support import run_eval
from responders import reasoning


@pytest.fixture(scope="module")
def loaded(datasets_dir):
    bench = registry.get("mmlu_pro")
    args = bench.resolve_args({})
    return bench, args, bench.load(datasets_dir, args)


def run(responder: str, datasets_dir, work_dir, *extra: str) -> dict:
    return run_eval(responder, ["mmlu_pro"], datasets_dir, work_dir, *extra)["mmlu_pro"]


# ------------------------------------------------------------------ prompt and data


def test_prompt_is_tiger_labs_five_shot_cot_of_the_same_category(loaded, datasets_dir):
    import pyarrow.parquet as pq

    _, _, samples = loaded
    assert len(samples) == 12032
    validation = pq.read_table(datasets_dir / "mmlu_pro/validation-00000-of-00001.parquet").to_pylist()
    rows = {r["question_id"]: r for r in reasoning.mmlu_pro_rows()}
    for sample in (samples[0], samples[5000], samples[-1]):
        content = sample.messages[0]["content"]
        category = sample.subset
        assert content.startswith(f"The following are multiple choice questions (with answers) about {category}. "
                                  "Think step by step and then output the answer in the format of "
                                  "\"The answer is (X)\" at the end.\n\nQuestion: ")
        shots = [r for r in validation if r["category"] == category]
        assert len(shots) == 5
        at = 0
        for shot in shots:  # each worked answer, in file order, its leading "A: " dropped
            assert shot["cot_content"].startswith("A: Let's think step by step.")
            at = content.index("Answer: " + shot["cot_content"][3:] + "\n\nQuestion: ", at) + 1
        assert content.endswith(reasoning.mmlu_pro_question(rows[int(sample.id)]))
        assert sample.messages == [{"role": "user", "content": content}]
    counts = defaultdict(int)
    for s in samples:
        counts[s.subset] += 1
    assert counts["math"] == 1351 and counts["history"] == 381 and len(counts) == 14


def test_the_record_with_inconsistent_answer_fields_keeps_its_letter(loaded):
    _, _, samples = loaded
    flagged = [s for s in samples if "answer_index_disagrees" in s.metadata]
    assert [(s.id, s.target, s.metadata["answer_index_disagrees"]) for s in flagged] == [("3983", "C", 1)]


def test_zero_shot_and_bad_args(datasets_dir):
    bench = registry.get("mmlu_pro")
    args = bench.resolve_args({"few_shot_num": 0, "subset_list": ["history"]})
    samples = bench.load(datasets_dir, args)
    assert len(samples) == 381 and samples[0].messages[0]["content"].count("Answer: ") == 1
    for bad, message in (({"few_shot_num": 6}, "between 0 and 5"), ({"few_shot_split": "test"}, "validation"),
                         ({"subset_list": ["maths"]}, "no subset 'maths'")):
        with pytest.raises(UsageError, match=message):
            bench.resolve_args(bad)


def test_missing_pyarrow_names_the_extra(datasets_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    bench = registry.get("mmlu_pro")
    with pytest.raises(DataMissingError, match=r"evalpack\[parquet\]"):
        bench.load(datasets_dir, bench.resolve_args({}))


@pytest.mark.parametrize("reply, letter, rule", [
    ("Let's think step by step. ... The answer is (C).", "C", "answer_is"),
    ("the answer is D", "D", "answer_is"),
    # TIGER-Lab's rule takes the FIRST "answer is", not the last
    ("If the answer is (A) then x<0; it is not. Hence the answer is (B).", "A", "answer_is"),
    ("**The answer is (J)**", "J", "answer_is"),
    ("Option C fits.\nAnswer: C", "C", "answer_colon"),
    ("Final answer:   H\nbecause ...", "H", "answer_colon"),
    ("ANSWER: C", "C", "last_letter"),  # [aA]nswer: is case-sensitive upstream; the last letter rule reads it
    ("So we pick \\boxed{E}", "E", "last_letter"),
    ("Between B and G, I prefer G", "G", "last_letter"),
    ("<think>The answer is (A).</think>The answer is (F).", "F", "answer_is"),
    # a reply cut off while thinking has no answer: its decoy is not read (the one reasoning stripper)
    ("<think>The answer is (A). Let me check the other options", None, None),
    ("none of these fit", None, None),
    ("", None, None),
    (None, None, None),
])
def test_tiger_labs_answer_cascade(reply, letter, rule):
    assert extract_answer(reply) == (letter, rule)


def test_every_gold_letter_scores_and_every_other_letter_does_not(loaded):
    bench, args, samples = loaded
    for s in samples:
        wrong = "ABCDEFGHIJ"[("ABCDEFGHIJ".index(s.target) + 1) % s.metadata["num_options"]]
        assert bench.score(s, {"content": f"The answer is ({s.target})."}, args).value == 1.0, s.id
        assert bench.score(s, {"content": f"The answer is ({wrong})."}, args).value == 0.0, s.id


# ------------------------------------------------------------------ through the CLI


def test_gold_and_wrong_replays(datasets_dir, tmp_path):
    gold = run("mmlu_pro_gold", datasets_dir, tmp_path / "gold", "--limit", "25")
    wrong = run("mmlu_pro_wrong", datasets_dir, tmp_path / "wrong", "--limit", "25")
    assert gold["num_scored"] == 14 * 25 and gold["num_errors"] == 0
    assert gold["score"] == 1.0 and {s["score"] for s in gold["subsets"]} == {1.0}
    assert wrong["score"] == 0.0 and wrong["num_unparsed"] == 0  # the gold inside <think> is not read
    assert len(gold["subsets"]) == 14


def test_varied_styles_score_as_planned_per_category(datasets_dir, tmp_path):
    section = run("mmlu_pro_styles", datasets_dir, tmp_path, "--limit", "40")
    per: dict[str, list[float]] = defaultdict(list)
    for row in reasoning.mmlu_pro_rows():
        if len(per[row["category"]]) < 40:
            per[row["category"]].append(float(reasoning.mmlu_pro_plan(row)[1]))
    got = {s["name"]: (s["score"], s["num"]) for s in section["subsets"]}
    assert got == {c: (pytest.approx(sum(v) / 40, abs=1e-12), 40) for c, v in per.items()}
    flat = [x for v in per.values() for x in v]
    assert section["score"] == pytest.approx(sum(flat) / len(flat), abs=1e-12)
    assert section["metrics"]["accuracy_macro"] == pytest.approx(sum(sum(v) / 40 for v in per.values()) / 14)
    assert section["num_unparsed"] == 0
    sources = {g["name"] for g in section["groups"]["source"]}
    assert sources <= {"ori_mmlu", "stemez", "theoremQA", "scibench"} and "ori_mmlu" in sources
