"""`evalpack mock --responder` for perf/rescore_identical.py: varied, deterministic replies.

The reply is chosen by a hash of the last user message, so the same prompt always gets the
same reply, and a run covers many answer styles: plain letters, Chinese answer lines,
\\boxed{} answers, reasoning decoys inside <think>, an unclosed <think>, code blocks (right
and wrong for HumanEval, read from $HUMANEVAL_FILE when set), empty and unreadable replies.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os

_TASKS: list[dict] = []

STYLES = [
    "ANSWER: {L}",
    "The answer is ({L}).",
    "<think>The answer is clearly A. ANSWER: A</think>\nANSWER: {L}",
    "<think>Let me weigh the options. ANSWER: {L}",  # never closed
    "答案：{L}",
    "Reasoning first.\n\\boxed{{{N}}}",
    "<think>\\boxed{{999}}</think>\nSo the result is \\boxed{{{N}}}.",
    "The final answer is $\\frac{{{N}}}{{2}}$",
    "",
    "I do not know.",
    "**Final answer: {L}**",
    "```diff\n--- a/x.py\n+++ b/x.py\n@@ nonsense\n```",
]


def _last_user(body: dict) -> str:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    content = users[-1]["content"] if users else ""
    return content if isinstance(content, str) else json.dumps(content)


def _humaneval(text: str, h: int) -> str | None:
    path = os.environ.get("HUMANEVAL_FILE")
    if not path:
        return None
    if not _TASKS:
        _TASKS.extend(json.loads(line) for line in gzip.open(path, "rt"))
    task = next((t for t in _TASKS if t["prompt"] in text), None)
    if task is None:
        return None
    pick = int(task["task_id"].rsplit("/", 1)[-1]) % 3
    if pick == 0:
        return "```python\n" + task["prompt"] + task["canonical_solution"] + "```"
    if pick == 1:
        return "```python\n" + task["prompt"] + "    return None\n```"
    return "```python\n" + task["prompt"] + "    raise SystemExit(1 +)\n```"


def respond(body: dict) -> str:
    text = _last_user(body)
    h = int(hashlib.sha256(text.encode()).hexdigest(), 16)
    code = _humaneval(text, h)
    if code is not None:
        return code
    style = STYLES[h % len(STYLES)]
    return style.format(L="ABCD"[(h >> 8) % 4], N=(h >> 16) % 20)
