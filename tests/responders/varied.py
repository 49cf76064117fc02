"""Mock-server responders for the report tests: a letter picked by a hash of the question
(so about a quarter are right), a few unreadable replies, and replies full of markup and
quotes that a report must show as text. Two salts give two "models" that disagree."""

from __future__ import annotations

import hashlib

HOSTILE = "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned=2'> &quot;quoted&quot; \" & <b>"


def _answer(body: dict, salt: str) -> str:
    text = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    h = hashlib.sha256((salt + text).encode()).digest()
    if h[1] % 10 == 0:
        return "I cannot tell. " + HOSTILE
    letter = "ABCD"[h[0] % 4]
    if h[1] % 10 == 1:
        return f"<think>ANSWER: {'ABCD'[(h[0] + 1) % 4]}</think>{HOSTILE}\nANSWER: {letter}"
    return f"ANSWER: {letter}"


def model_a(body: dict) -> str:
    return _answer(body, "a")


def model_b(body: dict) -> str:
    return _answer(body, "b")
