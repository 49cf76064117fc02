"""The one reasoning stripper: which part of a reply is its answer.

Reasoning models inline their thoughts between tags (<think>...</think> by default; some chat
templates put the opening tag in the prompt, so the reply holds only the closing one). The
answer is what follows the last closing tag; a reply without tags is all answer. A reply whose
thinking never closed (what would be the answer opens with the opening tag) was cut off while
thinking: it has no answer, and every extractor treats it as unparsed, so a decoy inside the
thoughts ("<think>ANSWER: A ...") is never scored. An answer that merely mentions the tag in
passing is still an answer.
"""

from __future__ import annotations

import re

DEFAULT_TAGS = ("<think>", "</think>")


def answer_text(reply: str | None, tags: tuple[str, str] | list[str] | None = None) -> str | None:
    """The answer part of `reply` (tags matched case-insensitively), or None when the reply
    ends inside unclosed thinking. `tags`: (start, end), default <think> and </think>."""
    if reply is None:
        return None
    start, end = tags or DEFAULT_TAGS
    closing = [m.end() for m in re.finditer(re.escape(end), reply, re.I)]
    answer = reply[closing[-1]:] if closing else reply
    if answer.lstrip().lower().startswith(start.lower()):
        return None
    return answer


def split_reasoning(reply: str | None, tags: tuple[str, str] | list[str] | None = None) -> tuple[str | None, str | None]:
    """(reasoning, answer) of `reply` for people to read: the answer exactly as `answer_text` finds
    it, the reasoning everything before it with the tags taken out (None when there is none)."""
    answer = answer_text(reply, tags)
    if reply is None:
        return None, None
    thought = reply if answer is None else reply[:len(reply) - len(answer)]
    if not thought:
        return None, answer
    start, end = tags or DEFAULT_TAGS
    thought = re.sub(f"{re.escape(start)}|{re.escape(end)}", "", thought, flags=re.I).strip()
    return thought or None, answer
