"""A judge mock whose verdicts are known in advance (for tests/test_judge.py and perf/judge_overhead.py).

It reads the grader prompt the way a person would (the last "Question: ..." line of
simple-evals' template, or math's "[Question]" block), finds the question's row in the upstream
file itself (not through evalpack), and answers by a fixed plan on that row's index. The tests
compute the expected metrics from the same plan. A request that is a retry (the judge's own
unreadable reply and a reminder follow the prompt) is recognised by its extra messages.

Plan for SimpleQA row i (PLAN[i % 10]):
  0-2 "A" (CORRECT)   3 "**A**"   4 "B" (INCORRECT)   5 "Grade: B"   6 "C" (NOT_ATTEMPTED)
  7   "NOT_ATTEMPTED" (the grade word)
  8   unreadable first, "A" when reminded          (CORRECT after 2 attempts)
  9   unreadable every time                        (a judge error after 3 attempts)
Rows with i % 7 == 3 are slow (SLOW seconds before the reply).

EvalScope's numeric template (general_qa rows without a reference): the question names its
rating, "rate:X" -> "Rating: [[X]]"; "rate:out-of-scale" -> [[7]] first, [[0.5]] when reminded;
"rate:never" -> no rating ever (a judge error).
"""

from __future__ import annotations

import asyncio
import csv
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import DATASETS  # noqa: E402

PLAN = ["A", "A", "A", "**A**", "B", "Grade: B", "C", "NOT_ATTEMPTED", "retry-then-A", "never"]
GRADE_OF = {"A": "CORRECT", "**A**": "CORRECT", "B": "INCORRECT", "Grade: B": "INCORRECT", "C": "NOT_ATTEMPTED",
            "NOT_ATTEMPTED": "NOT_ATTEMPTED", "retry-then-A": "CORRECT", "never": None}
ATTEMPTS = {"retry-then-A": 2, "never": 3}
UNREADABLE = "Hmm, hard to say. The predicted answer might be fine, or not."
SLOW = float(os.environ.get("JUDGE_MOCK_SLOW", "0.05"))
LATENCY = float(os.environ.get("JUDGE_MOCK_LATENCY", "0"))  # every reply (perf script)

_rows: dict[str, int] | None = None


def simpleqa_index() -> dict[str, int]:
    global _rows
    if _rows is None:
        with (DATASETS / "simpleqa" / "simple_qa_test_set.csv").open(newline="", encoding="utf-8") as fh:
            _rows = {row["problem"]: i for i, row in enumerate(csv.DictReader(fh))}
    return _rows


def expected(indices: list[int]) -> dict:
    """The metrics the plan gives over these SimpleQA rows (judge errors left out), and the calls."""
    grades = [GRADE_OF[PLAN[i % 10]] for i in indices]
    graded = [g for g in grades if g]
    n = len(graded)
    correct, incorrect = graded.count("CORRECT") / n, graded.count("INCORRECT") / n
    given = correct / (correct + incorrect) if correct + incorrect else 0.0
    return {"correct": correct, "incorrect": incorrect, "not_attempted": graded.count("NOT_ATTEMPTED") / n,
            "correct_given_attempted": given,
            "f_score": 2 * given * correct / (given + correct) if given + correct else 0.0,
            "judge_errors": sorted(str(i) for i, g in zip(indices, grades) if g is None),
            "judge_calls": sum(ATTEMPTS.get(PLAN[i % 10], 1) for i in indices)}


def _question(prompt: str) -> str | None:
    found = re.findall(r"```\nQuestion: (.*?)\nGold target: ", prompt, re.S)
    return found[-1] if found else None


async def respond(body: dict):
    messages = body["messages"]
    prompt = messages[0]["content"]
    retry = len(messages) > 1
    if LATENCY:
        await asyncio.sleep(LATENCY)
    if "[Response]\n" in prompt and "[Reference Answer]" not in prompt:
        return numeric_verdict(prompt, retry)
    question = _question(prompt)
    if question is None:
        return math_verdict(prompt)
    i = simpleqa_index()[question]
    plan = PLAN[i % 10]
    if i % 7 == 3 and SLOW:
        await asyncio.sleep(SLOW)
    if plan == "retry-then-A":
        return "A" if retry else UNREADABLE
    if plan == "never":
        return UNREADABLE
    return plan


def numeric_verdict(prompt: str, retry: bool) -> str:
    asked = re.search(r"rate:(\S+)", prompt.split("[Response]", 1)[0])
    rating = asked.group(1) if asked else "never"
    if rating == "out-of-scale":
        return "Good enough. Rating: [[0.5]]" if retry else "A solid answer. Rating: [[7]]"
    if rating == "never":
        return UNREADABLE
    return f"The response is partly helpful. Rating: [[{rating}]]"


# --- math (llm_recall) and general_qa (llm): EvalScope's A/B template
MATH_OK = "EQUIVALENT-FORM"


def math_verdict(prompt: str) -> str:
    """EvalScope's A/B template (math, general_qa): A when the prediction holds MATH_OK or is
    contained in the reference answer."""
    gold = prompt.split("[Reference Answer]\n", 1)[-1].split("\n\n[Predicted Answer]", 1)[0]
    pred = prompt.split("[Predicted Answer]\n", 1)[-1].split("\n\nEvaluate the model", 1)[0].strip()
    return "A" if MATH_OK in pred or (pred and pred in gold) else "B"


# --- the evaluated model for the math tests: MATH-500 row i answered by MATH_PLAN[i % 4]
MATH_PLAN = ["right", "judge-right", "wrong", "no-box"]
_math: dict[str, tuple[int, str]] | None = None


def math500_rows() -> dict[str, tuple[int, str]]:
    global _math
    if _math is None:
        lines = (DATASETS / "math500" / "test.jsonl").read_text(encoding="utf-8").splitlines()
        _math = {}
        for i, line in enumerate(line for line in lines if line.strip()):
            import json

            r = json.loads(line)
            _math[r["problem"]] = (i, r["answer"])
    return _math


def math_model(body: dict) -> str:
    text = body["messages"][-1]["content"]
    for problem, (i, gold) in math500_rows().items():
        if text.startswith(problem):
            plan = MATH_PLAN[i % 4]
            if plan == "right":
                return f"Working it out.\nThe answer is \\boxed{{{gold}}}."
            if plan == "judge-right":
                return f"My answer is \\boxed{{\\text{{{MATH_OK}}} 98765}}."
            if plan == "wrong":
                return "The answer is \\boxed{98765}."
            return "I cannot solve this."
    return "?"
