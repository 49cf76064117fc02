"""Mock-server responders for the C-Eval, GPQA-Diamond and LongBench-v2 tests.

Each responder knows the gold answers (it reads the data itself, not through evalpack),
recognises the question in the prompt, and answers by a fixed plan: right for a known
part of the questions, wrong or unreadable for the rest, in varied answer styles. The
tests compute the expected accuracy from the same plan and the data, independently of
evalpack's loaders and scoring.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import DATASETS  # noqa: E402  (the tests' shared datasets, found as conftest finds them)
from knowledge_support import pick  # noqa: E402

LETTERS = "ABCD"


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _last_user(body: dict) -> str:
    return [m for m in body["messages"] if m["role"] == "user"][-1]["content"]


def _full_width(letter: str) -> str:
    return chr(ord(letter) + 0xFEE0)


# ---------------- plan shared by responders and tests ----------------

CEVAL_STYLES = [
    lambda L: f"答案：{L}",
    lambda L: f"答案是 {L}",
    lambda L: f"正确选项为{L}",
    lambda L: f"ANSWER: {L}",
    lambda L: f"The answer is ({L}).",
    lambda L: f"逐项分析各选项的说法。\n综上所述，正确答案是{L}。",
    lambda L: f"答案：{_full_width(L)}",
]
GPQA_STYLES = [
    lambda L: f"ANSWER: {L}",
    lambda L: f"Let me work through this.\nThe energies differ, so the first option fails.\nAnswer: {L}",
    lambda L: f"The answer is ({L}).",
    lambda L: f"**Final answer: {L}**",
    lambda L: f"<think>Maybe A? No.</think>\nANSWER: {L}",
]
LONGBENCH_STYLES = [
    lambda L: f"The correct answer is ({L})",
    lambda L: f"The correct answer is {L}.",
    lambda L: f"**The correct answer is ({L})**",
]
UNREADABLE = "I cannot decide between the options."


def plan(key: str, gold: str, styles: list) -> tuple[str, str | None]:
    """(reply, the letter a correct extractor must read or None): 60% right, 30% wrong, 10% unreadable."""
    kind = pick(key, 10)
    style = styles[pick(key, len(styles), salt="style")]
    if kind == 9:
        return UNREADABLE, None
    letter = gold if kind < 6 else LETTERS[(LETTERS.index(gold) + 1 + pick(key, 3, salt="wrong")) % 4]
    return style(letter), letter


# ---------------- C-Eval ----------------

def ceval_rows(root: Path) -> list[dict]:
    rows = []
    for path in sorted((root / "val").glob("*_val.csv")):
        subject = path.name[: -len("_val.csv")]
        with open(path, newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                rows.append({**{k: v.replace("\r\n", "\n") for k, v in r.items()}, "subject": subject})
    return rows


def ceval_key(row: dict) -> str:
    return _norm(row["question"]) + "".join(L + "." + _norm(row[L]) for L in LETTERS)


def ceval_index(rows: list[dict]) -> dict[str, tuple[str, str] | None]:
    """question+options -> (sample id, gold); None where the val split repeats a question with a
    different gold answer (college_economics 5 and 54): one prompt, two answers, so the
    responder cannot be right on both and answers those unreadably."""
    index: dict[str, tuple[str, str] | None] = {}
    for r in rows:
        key, hit = ceval_key(r), (f"{r['subject']}/{r['id']}", r["answer"])
        index[key] = hit if key not in index or (index[key] and index[key][1] == r["answer"]) else None
    return index


_ceval_index: dict | None = None


def ceval(body: dict):
    global _ceval_index
    if _ceval_index is None:
        _ceval_index = ceval_index(ceval_rows(DATASETS / "ceval"))
    prompt = _last_user(body)
    # the asked question follows the instructions paragraph and the last few-shot example,
    # which ends with "答案：X"
    asked = re.split(r"答案：[A-D]\n\n", prompt.split("\n\n", 1)[1])[-1]
    key = _norm(asked)
    if key not in _ceval_index:
        return "unknown question"
    if _ceval_index[key] is None:
        return UNREADABLE
    return plan(*_ceval_index[key], CEVAL_STYLES)[0]


# ---------------- GPQA-Diamond ----------------

def gpqa_rows(root: Path) -> list[dict]:
    raw = zipfile.ZipFile(root / "gpqa_diamond.zip").read("dataset/gpqa_diamond.csv",
                                                          pwd=b"deserted-untie-orchid")
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))


_gpqa_rows: list[dict] | None = None


def gpqa(body: dict):
    global _gpqa_rows
    if _gpqa_rows is None:
        _gpqa_rows = gpqa_rows(DATASETS / "gpqa")
    if not body.get("max_tokens"):  # the test passes max_tokens in --generation-config
        return "no max_tokens in the request"
    prompt = _norm(_last_user(body))
    for r in _gpqa_rows:
        q = _norm(r["Question"])
        at = prompt.find(q)
        if at < 0:
            continue
        shown = prompt[at + len(q):]  # "A.<opt>B.<opt>C.<opt>D.<opt>"
        correct = _norm(r["Correct Answer"])
        # the correct option's letter: the one whose text is the correct answer, up to the next letter
        letters = [L for i, L in enumerate(LETTERS)
                   if re.search(re.escape(L + "." + correct) + (re.escape(LETTERS[i + 1] + ".") if i < 3 else "$"),
                                shown)]
        if len(letters) != 1:
            return "options not found"
        return plan(r["Record ID"], letters[0], GPQA_STYLES)[0]
    return "unknown question"


# ---------------- LongBench-v2 ----------------

def longbench_records() -> list[dict]:
    return json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "longbench_v2" / "data.json")
                      .read_text(encoding="utf-8"))


def longbench(body: dict):
    prompt = _last_user(body)
    if prompt.rstrip().endswith("step by step:"):  # first call of prompt_mode "cot"
        return "The passage states it plainly; see the relevant sentence."
    for r in longbench_records():
        if "What is the correct answer to this question: " + r["question"] in prompt:
            if "HERON-7" in prompt:  # record 8 must arrive with its middle cut away
                return "The correct answer is (A)"
            return plan(r["_id"], r["answer"], LONGBENCH_STYLES)[0]
    return "unknown question"
