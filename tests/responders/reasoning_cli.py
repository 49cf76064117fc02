"""Mock-server responder for tests/test_reasoning_cli.py: replies the way reasoning models do.

REASONING_STYLE picks where the thoughts go: `think` (inline <think>...</think> before the
answer), `field` (the message's reasoning_content, the answer alone in content) or `unclosed`
(a reply cut off inside <think>). The thoughts always hold a decoy; which answer is real and
which is the decoy follows a fixed plan the test repeats (see `plan`). Every request body is
appended to REASONING_RECORD (JSON lines), so the test can read what reached the server.
"""

from __future__ import annotations

import json
import os
import re
import sys
from functools import lru_cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # responders/bfcl.py
from conftest import DATASETS  # noqa: E402

STYLE = os.environ.get("REASONING_STYLE", "think")  # REASONING_BENCH: mmlu | gsm8k | bfcl_v4
RECORD = os.environ.get("REASONING_RECORD")


def plan(index: int) -> bool:
    """True: the real answer is right and the decoy wrong; False: the other way round."""
    return index % 3 != 2


def shape(real: str, decoy: str) -> dict:
    if STYLE == "think":
        return {"content": f"<think>\nLet me see. {decoy}\nHmm, no.\n</think>\n\n{real}"}
    if STYLE == "field":
        return {"reasoning_content": f"Let me see. {decoy}", "content": real}
    return {"content": f"<think>\nLet me see. {decoy}\nso the final answer is {decoy}", "finish_reason": "length"}


def last_user(body: dict) -> str:
    return [m for m in body["messages"] if m["role"] == "user"][-1]["content"]


@lru_cache(maxsize=None)
def gsm8k_rows() -> list[tuple[str, str]]:
    """(question, gold number after ####) of the test split, read straight from the file."""
    rows = []
    with open(DATASETS / "gsm8k" / "test.jsonl", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            rows.append((record["question"], record["answer"].split("####")[-1].strip().replace(",", "")))
    return rows


def gsm8k(body: dict) -> dict:
    prompt = last_user(body)
    (index, gold), = [(i, g) for i, (q, g) in enumerate(gsm8k_rows()) if q in prompt]
    wrong = str(int(gold) + 1)
    real, decoy = (gold, wrong) if plan(index) else (wrong, gold)
    return shape(f"The answer is \\boxed{{{real}}}.", f"ANSWER: \\boxed{{{decoy}}}")


def mmlu(body: dict) -> dict:
    # a fixed letter is the real answer, another the decoy: the test counts both in the CSVs
    return shape("ANSWER: C", "ANSWER: A")


def bfcl(body: dict) -> dict:
    import bfcl as replay  # tests/responders/bfcl.py: the ground-truth calls (BFCL_* env)

    perfect = replay.respond(body)["content"]
    index = int(re.search(r"\d+$", _bfcl_id(body)).group())
    wrong = "[wrong_function(x=1)]"
    real, decoy = (perfect, wrong) if plan(index) else (wrong, perfect)
    return shape(real, decoy)


@lru_cache(maxsize=None)
def _bfcl_questions() -> dict[str, str]:
    out = {}
    with open(DATASETS / "bfcl_v4" / "BFCL_v4_simple_python.json", encoding="utf-8") as fh:
        for line in fh:
            entry = json.loads(line)
            out[entry["question"][0][-1]["content"]] = entry["id"]
    return out


def _bfcl_id(body: dict) -> str:
    return _bfcl_questions()[last_user(body)]


def respond(body: dict):
    if RECORD:
        with open(RECORD, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(body) + "\n")
    return {"mmlu": mmlu, "gsm8k": gsm8k, "bfcl_v4": bfcl}[os.environ["REASONING_BENCH"]](body)
