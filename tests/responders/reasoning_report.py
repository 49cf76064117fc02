"""Mock responder for tests/test_report_reasoning.py: a reasoning model whose thoughts hold
markup that must never run and a decoy answer, in the three places thoughts go (inline
<think>, reasoning_content, and a reply cut off inside <think>), by turns."""

from __future__ import annotations

HOSTILE = "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned=2'>"
seen = 0


def respond(body: dict):
    global seen
    seen += 1
    style = seen % 3
    if style == 1:
        return f"<think>THOUGHT-INLINE {HOSTILE} ANSWER: D</think>\nANSWER: B"
    if style == 2:
        return {"reasoning_content": f"THOUGHT-FIELD {HOSTILE} ANSWER: D", "content": "ANSWER: C"}
    return {"content": f"<think>THOUGHT-CUT {HOSTILE} so ANSWER: D", "finish_reason": "length"}
