"""BIG-Bench Hard on the real task files and official CoT prompts: prompt assembly, the answer
normalisation, and runs through `evalpack eval` against `evalpack mock` with
tests/responders/reasoning.py (which reads the targets from the task files itself)."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from evalpack.benchmarks import registry
from evalpack.benchmarks.bbh import FREE_FORM, MULTIPLE_CHOICE, extract_answer
from evalpack.errors import UsageError
from reasoning_support import run_eval
from responders import reasoning


def run(responder: str, datasets_dir, work_dir, *extra: str) -> dict:
    return run_eval(responder, ["bbh"], datasets_dir, work_dir, *extra)["bbh"]


def test_prompt_is_the_official_cot_prompt_then_the_question(datasets_dir):
    bench = registry.get("bbh")
    samples = bench.load(datasets_dir, bench.resolve_args({}))
    assert len(samples) == 6511 and len({s.subset for s in samples}) == 27
    first = next(s for s in samples if s.subset == "date_understanding")
    official = (datasets_dir / "bbh/cot-prompts/date_understanding.txt").read_text(encoding="utf-8")
    head, body = official.split("\n-----\n", 1)
    assert "canary" in head
    task = json.loads((datasets_dir / "bbh/bbh/date_understanding.json").read_text())["examples"][0]
    assert first.messages == [{"role": "user", "content": body.strip() + "\n\nQ: " + task["input"]
                               + "\nA: Let's think step by step."}]
    assert first.target == task["target"] and first.metadata["task_type"] == "multiple_choice"
    assert "canary" not in first.messages[0]["content"].lower()
    zero = bench.load(datasets_dir, bench.resolve_args({"few_shot_num": 0, "subset_list": "date_understanding"}))
    assert zero[0].messages[0]["content"] == "Infer the date from context.\n\nQ: " + task["input"] + \
        "\nA: Let's think step by step."
    with pytest.raises(UsageError, match="few_shot_num must be one of 0, 3"):
        bench.resolve_args({"few_shot_num": 2})


def test_registry_declares_the_27_tasks_the_module_knows():
    assert registry.info("bbh").subsets == tuple(sorted(MULTIPLE_CHOICE + FREE_FORM))
    assert len(MULTIPLE_CHOICE) == 17 and len(FREE_FORM) == 10


@pytest.mark.parametrize("reply, mc, answer", [
    ("... So the answer is (D).", True, "(D)"),
    ("So the answer is D.", True, "(D)"),
    ("So the answer is **(B) Paris**.", True, "(B)"),
    ("The answer is: (C)\nAnything else?", True, "(C)"),
    ("the answer is (A). Later: so the answer is (E).", True, "(E)"),
    ("<think>So the answer is (A).</think> So the answer is (C).", True, "(C)"),
    ("<think>So the answer is (A). Now check", True, None),  # cut off while thinking: no answer
    ("So the answer is Monsters, Inc.", True, "Monsters, Inc"),  # upstream's target text, kept
    ("So the answer is True.", False, "True"),
    ("So the answer is `valid`.", False, "valid"),
    ("So the answer is ] ) }.", False, "] ) }"),
    ("So the answer is -219.", False, "-219"),
    ("Answer: No", False, "No"),
    ("Yes", False, "Yes"),
    ("It is \\boxed{24}", False, "24"),
    ("I am not sure.\nMaybe.", False, None),
    (None, False, None),
])
def test_answer_normalisation(reply, mc, answer):
    assert extract_answer(reply, mc)[0] == answer


def test_exact_match_is_case_sensitive_as_upstream(datasets_dir):
    bench = registry.get("bbh")
    args = bench.resolve_args({"subset_list": ["sports_understanding"]})
    sample = next(s for s in bench.load(datasets_dir, args) if s.target == "yes")
    assert bench.score(sample, {"content": "So the answer is yes."}, args).value == 1.0
    assert bench.score(sample, {"content": "So the answer is Yes."}, args).value == 0.0


def test_gold_replay_scores_every_item_but_the_two_asked_twice_with_both_answers(datasets_dir, tmp_path):
    section = run("bbh_gold", datasets_dir, tmp_path)
    examples = reasoning.bbh_examples()
    assert section["num_scored"] == len(examples) == 6511 and section["num_errors"] == 0
    # causal_judgement asks two questions twice, word for word, once with target Yes and once No:
    # a replay that sees only the prompt answers both copies alike, so one copy of each pair fails
    answered = {inp: target for _, _, inp, target in examples}
    failing = sorted((task, i) for task, i, inp, target in examples if answered[inp] != target)
    assert len(failing) == 2 and {t for t, _ in failing} == {"causal_judgement"}
    per = {s["name"]: (s["score"], s["num"]) for s in section["subsets"]}
    assert per["causal_judgement"] == (pytest.approx(185 / 187), 187)
    assert all(score == 1.0 for name, (score, _) in per.items() if name != "causal_judgement")
    assert section["score"] == pytest.approx(6509 / 6511)
    assert section["metrics"]["accuracy_micro"] == section["score"]
    assert section["metrics"]["accuracy_macro"] == pytest.approx((26 + 185 / 187) / 27)


def test_wrong_replay_scores_zero(datasets_dir, tmp_path):
    section = run("bbh_wrong", datasets_dir, tmp_path, "--limit", "20")
    assert section["num_scored"] == 27 * 20 and section["score"] == 0.0 and section["num_unparsed"] == 0


def test_varied_styles_score_as_planned_per_task(datasets_dir, tmp_path):
    section = run("bbh_styles", datasets_dir, tmp_path, "--limit", "30")
    per: dict[str, list[float]] = defaultdict(list)
    for task, i, question, _ in reasoning.bbh_examples():
        if i < 30:
            per[task].append(float(reasoning.bbh_plan(question)[1]))
    got = {s["name"]: (s["score"], s["num"]) for s in section["subsets"]}
    assert got == {t: (pytest.approx(sum(v) / 30, abs=1e-12), 30) for t, v in per.items()}
    macro = sum(sum(v) / 30 for v in per.values()) / 27
    assert section["metrics"]["accuracy_macro"] == pytest.approx(macro, abs=1e-12)
    kinds = {g["name"]: g["num"] for g in section["groups"]["task_type"]}
    assert kinds == {"multiple_choice": 17 * 30, "free_form": 10 * 30}
