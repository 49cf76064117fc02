"""Mock-server responders for the AIME / HMMT, MMLU-Pro and BBH tests.

Each responder reads the gold answers from the real files itself (csv, json, parquet via
pyarrow; never through evalpack), finds the question in the prompt and answers by a fixed
plan. `*_gold` replies with the gold answer, `*_wrong` with a wrong one (and a decoy gold
answer inside <think>), `*_styles` right or wrong by a stable pseudo-random plan, in varied
answer styles; the tests compute the expected scores from the same plan.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import threading
from functools import lru_cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import DATASETS  # noqa: E402
from knowledge_support import pick  # noqa: E402


def last_user(body: dict) -> str:
    return [m for m in body["messages"] if m["role"] == "user"][-1]["content"]


# ---------------------------------------------------------------- AIME / HMMT (MathArena copy)

COMPETITION_DIRS = {"aime24": ["aime24/matharena/aime_2024_I", "aime24/matharena/aime_2024_II"],
                    "aime25": ["aime25/matharena/aime_2025_I", "aime25/matharena/aime_2025_II"],
                    "hmmt25": ["hmmt_feb_2025/matharena"]}


@lru_cache(maxsize=None)
def competition_problems() -> list[tuple[str, str, str, str]]:
    """[(benchmark, problem number, problem text, gold answer as in answers.csv)] in file order."""
    out = []
    for bench, folders in COMPETITION_DIRS.items():
        for folder in folders:
            with open(DATASETS / folder / "answers.csv", newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    text = (DATASETS / folder / "problems" / f"{row['id']}.tex").read_text(encoding="utf-8")
                    out.append((bench, row["id"], text.strip(), row["answer"]))
    return out


def competition_item(prompt: str) -> tuple[int, str]:
    """(index in competition_problems(), gold) of the problem the prompt asks."""
    hits = [(i, p[3]) for i, p in enumerate(competition_problems()) if p[2] in prompt]
    assert len(hits) == 1, f"{len(hits)} problems match the prompt {prompt[:200]!r}"
    return hits[0]


def wrong_math(gold: str) -> str:
    """A wrong answer: an AIME integer moved by one (kept in 0-999), a LaTeX answer plus one."""
    if re.fullmatch(r"-?\d+", gold):
        return str((int(gold) + 1) % 1000)
    return f"{gold}+1"


MATH_STYLES = [
    lambda a, w: f"Let me reason it through.\nPutting it together, the answer is $\\boxed{{{a}}}$.",
    lambda a, w: f"<think>Perhaps it is \\boxed{{{w}}}? No: recheck the count.</think>\n"
                 f"The final answer is \\boxed{{{a}}}.",
    lambda a, w: f"**Final Answer**\n\\[\n\\boxed{{{a}}}\n\\]",
    lambda a, w: f"Adding the cases gives the total.\nThe answer is {a}.",
]


def competition_gold(body: dict) -> str:
    _, gold = competition_item(last_user(body))
    return MATH_STYLES[0](gold, wrong_math(gold))


def competition_wrong(body: dict) -> str:
    """A wrong final answer after a <think> holding the right one."""
    _, gold = competition_item(last_user(body))
    return f"<think>It must be \\boxed{{{gold}}}.</think>\nSo the answer is \\boxed{{{wrong_math(gold)}}}."


def competition_plan(index: int) -> tuple[int, bool]:
    """(style, right?) of problem `index` in the styles run."""
    key = f"competition/{index}"
    return pick(key, len(MATH_STYLES), salt="style"), pick(key, 3) != 0


def competition_styles(body: dict) -> str:
    index, gold = competition_item(last_user(body))
    style, right = competition_plan(index)
    wrong = wrong_math(gold)
    return MATH_STYLES[style](gold, wrong) if right else MATH_STYLES[style](wrong, gold)


REPEATS = 4
_seen: dict[int, int] = {}
_lock = threading.Lock()


def correct_of_repeats(index: int) -> int:
    """How many of the REPEATS requests for problem `index` get the right answer."""
    return index % (REPEATS + 1)


def competition_repeats(body: dict) -> str:
    """Right for the first correct_of_repeats(i) requests of problem i, wrong after: the number of
    right samples per problem is fixed whatever order the runner sends the repeats in."""
    index, gold = competition_item(last_user(body))
    with _lock:
        n = _seen.get(index, 0)
        _seen[index] = n + 1
    answer = gold if n < correct_of_repeats(index) else wrong_math(gold)
    return f"\\boxed{{{answer}}}"


# ---------------------------------------------------------------- MMLU-Pro

@lru_cache(maxsize=None)
def mmlu_pro_rows() -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(DATASETS / "mmlu_pro" / "test-00000-of-00001.parquet").to_pylist()


def mmlu_pro_question(row: dict) -> str:
    """How TIGER-Lab's evaluate_from_api.py writes the question asked (format_example, no CoT)."""
    options = "".join(f"{'ABCDEFGHIJ'[i]}. {o}\n" for i, o in enumerate(row["options"]))
    return f"Question: {row['question']}\nOptions: {options}Answer: Let's think step by step.\n\n"


@lru_cache(maxsize=None)
def _mmlu_pro_index() -> dict[str, dict]:
    return {mmlu_pro_question(row): row for row in mmlu_pro_rows()}


def mmlu_pro_item(prompt: str) -> dict:
    """The test row whose question ends the prompt (a question may itself contain "Question: ")."""
    index, pos = _mmlu_pro_index(), len(prompt)
    while (pos := prompt.rfind("Question: ", 0, pos)) >= 0:
        if prompt[pos:] in index:
            return index[prompt[pos:]]
    raise AssertionError(f"no MMLU-Pro question ends the prompt {prompt[-300:]!r}")


def wrong_letter(row: dict) -> str:
    n = len(row["options"])
    return "ABCDEFGHIJ"[("ABCDEFGHIJ".index(row["answer"]) + 1) % n]


MMLU_PRO_STYLES = [
    lambda x, d: f"Let's think step by step. The first two options contradict the premise.\nThe answer is ({x}).",
    lambda x, d: f"Working through it, the other options fail.\nAnswer: {x}",
    lambda x, d: f"**The answer is ({x})**",
    lambda x, d: f"We compare each option with the definition, so the result is \\boxed{{{x}}}",
    lambda x, d: f"<think>The answer is ({d}). Hmm, no.</think>\nThe answer is ({x}).",
    lambda x, d: f"The answer is {x}. Option {d} fails because its premise is false.",
]


def mmlu_pro_gold(body: dict) -> str:
    row = mmlu_pro_item(last_user(body))
    return f"Let's think step by step. The answer is ({row['answer']})."


def mmlu_pro_wrong(body: dict) -> str:
    row = mmlu_pro_item(last_user(body))
    return f"<think>The answer is ({row['answer']}).</think>\nThe answer is ({wrong_letter(row)})."


def mmlu_pro_plan(row: dict) -> tuple[int, bool]:
    # keyed by the question as asked: 158 test questions are asked twice, word for word
    key = mmlu_pro_question(row)
    return pick(key, len(MMLU_PRO_STYLES), salt="style"), pick(key, 4) != 0


def mmlu_pro_styles(body: dict) -> str:
    row = mmlu_pro_item(last_user(body))
    style, right = mmlu_pro_plan(row)
    gold, wrong = row["answer"], wrong_letter(row)
    return MMLU_PRO_STYLES[style](gold, wrong) if right else MMLU_PRO_STYLES[style](wrong, gold)


# ---------------------------------------------------------------- BBH

@lru_cache(maxsize=None)
def bbh_examples() -> list[tuple[str, int, str, str]]:
    """[(task, index, input, target)] of every task file."""
    out = []
    for path in sorted((DATASETS / "bbh" / "bbh").glob("*.json")):
        for i, ex in enumerate(json.loads(path.read_text(encoding="utf-8"))["examples"]):
            out.append((path.stem, i, ex["input"], ex["target"]))
    return out


@lru_cache(maxsize=None)
def _bbh_index() -> dict[str, tuple[str, str]]:
    # an input asked twice keeps its last target (causal_judgement has two such pairs)
    return {inp: (inp, target) for task, i, inp, target in bbh_examples()}


def bbh_item(prompt: str) -> tuple[str, str]:
    """(input, target) of the example the prompt asks."""
    question = prompt[prompt.rindex("Q: ") + 3:]
    assert question.endswith("\nA: Let's think step by step."), question[-100:]
    return _bbh_index()[question[: -len("\nA: Let's think step by step.")]]


_OPPOSITE = {"True": "False", "False": "True", "Yes": "No", "No": "Yes", "yes": "no", "no": "yes",
             "valid": "invalid", "invalid": "valid"}


def wrong_bbh(target: str) -> str:
    if target in _OPPOSITE:
        return _OPPOSITE[target]
    if re.fullmatch(r"\([A-Z]\)", target):
        return "(B)" if target == "(A)" else "(A)"
    if re.fullmatch(r"-?\d+", target):
        return str(int(target) + 1)
    return "(A)" if " " not in target else target + " x"  # dyck / word sorting: one token more


BBH_STYLES = [
    lambda t, d: f"Let's count the steps.\nSo the answer is {t}.",
    lambda t, d: f"**So the answer is {t}.**",
    lambda t, d: f"<think>So the answer is {d}.</think>\nChecking again, so the answer is {t}.",
    lambda t, d: f"The answer is: {t}\nLet me know if you need the reasoning.",
    lambda t, d: f"So the answer is {t[1] if re.fullmatch(r'[(][A-Z][)]', t) else t}",
]


def bbh_gold(body: dict) -> str:
    _, target = bbh_item(last_user(body))
    return f"Let's think step by step. So the answer is {target}."


def bbh_wrong(body: dict) -> str:
    _, target = bbh_item(last_user(body))
    return f"<think>So the answer is {target}.</think>\nSo the answer is {wrong_bbh(target)}."


def bbh_plan(question: str) -> tuple[int, bool]:
    key = f"bbh/{question}"  # by the question: some are asked twice
    return pick(key, len(BBH_STYLES), salt="style"), pick(key, 3) != 0


def bbh_styles(body: dict) -> str:
    question, target = bbh_item(last_user(body))
    style, right = bbh_plan(question)
    wrong = wrong_bbh(target)
    return BBH_STYLES[style](target, wrong) if right else BBH_STYLES[style](wrong, target)
