"""Responder for `evalpack mock` in the math tests: a "model" that knows the real gold answers.

It finds the question in the real dataset files ($EVALPACK_SHARED/datasets) and answers
with the gold in \\boxed{} for items whose 0-based file index is divisible by 3, and with a
near miss (the gold with its first digit changed, or a wrong number) for the rest. The gold
is read here straight from the files, independently of evalpack's own extraction.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

SHARED = Path(os.environ.get("EVALPACK_SHARED", Path(__file__).resolve().parents[2] / "shared"))
DATASETS = SHARED / "datasets"
INSTRUCTION = "\nPlease reason step by step"


def raw_last_boxed(text: str) -> str:
    start = text.rindex("\\boxed{") + len("\\boxed{")
    depth = 1
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    raise ValueError("unbalanced \\boxed")


def gold_answers() -> dict[str, list[tuple[str, str]]]:
    """dataset -> [(question, gold)] in file order."""
    def rows(path: str) -> list[dict]:
        with open(DATASETS / path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    return {
        "gsm8k": [(r["question"], r["answer"].split("####")[-1].strip().replace(",", ""))
                  for r in rows("gsm8k/test.jsonl")],
        "minerva_math": [(r["problem"], raw_last_boxed(r["solution"])) for r in rows("minerva_math/test.jsonl")],
        "math_500": [(r["problem"], r["answer"]) for r in rows("math500/test.jsonl")],
    }


def near_miss(gold: str) -> str:
    digit = re.search(r"\d", gold)
    if not digit:
        return "987654321"
    i = digit.start()
    return gold[:i] + str((int(gold[i]) + 1) % 10) + gold[i + 1:]


def is_known(index: int) -> bool:
    return index % 3 == 0


_INDEX: dict[str, tuple[int, str]] = {}


def respond(body: dict) -> str:
    if not _INDEX:
        for items in gold_answers().values():
            for index, (question, gold) in enumerate(items):
                _INDEX[question] = (index, gold)
    text = body["messages"][-1]["content"]
    question = text.split(INSTRUCTION)[0]
    index, gold = _INDEX[question]
    answer = gold if is_known(index) else near_miss(gold)
    return f"Let me work through it step by step.\nSo the final answer is $\\boxed{{{answer}}}$."
