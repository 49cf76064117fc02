"""Mock responder for the toy_arith plugin: right on every sum and on products up to 100,
one off above; in varied styles, with decoys in <think> and in reasoning_content."""

from __future__ import annotations

import re


def _question(body: dict) -> tuple[int, str, int]:
    text = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    a, op, b = re.search(r"(\d+) ([+*]) (\d+)\?", text).groups()
    return int(a), op, int(b)


def respond(body: dict):
    a, op, b = _question(body)
    right = a + b if op == "+" else a * b
    given = right if op == "+" or right <= 100 else right + 1
    style = (a + b) % 3
    if style == 0:
        return f"<think>ANSWER: {given + 7}</think>\nANSWER: {given}"
    if style == 1:
        return {"content": f"The result is {given}.", "reasoning_content": f"maybe {given - 3}? ANSWER: {given - 3}"}
    return f"{a} {op} {b} = {given}\nANSWER: {given}"
