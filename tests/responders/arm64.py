"""Responder for the aarch64 kit test: a fixed, deterministic mix of right and wrong answers.

MMLU prompts get a letter chosen from a hash of the question (right about a quarter of the
time, in two answer styles); GSM8K prompts get the math tests' responder (the gold for every
third item, a near miss otherwise). The same server answers the aarch64 and the x86_64 run,
so equal reports mean the two installs score alike.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import math_responder  # noqa: E402


def respond(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    if "ANSWER: $LETTER" in prompt or "'ANSWER: $LETTER'" in prompt:
        question = prompt.rsplit("\n\n", 1)[-1]
        digest = hashlib.sha256(question.encode()).digest()
        letter = "ABCD"[digest[0] % 4]
        return f"Let me think.\nANSWER: {letter}" if digest[1] % 2 else f"The answer is ({letter})."
    return math_responder.respond(body)
