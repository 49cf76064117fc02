"""The one reasoning stripper: which part of a reply is its answer.

Reasoning models inline their thoughts between tags (<think>...</think> by default; some chat
templates put the opening tag in the prompt, so the reply holds only the closing one). The
answer is what follows the last closing tag; a reply without tags is all answer. A reply whose
thinking never closed (an opening tag after the last closing one, or no closing tag at all) was
cut off while thinking: it has no answer, and every extractor treats it as unparsed, so a
decoy inside the thoughts ("<think>ANSWER: A ...") is never scored.
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
    if re.search(re.escape(start), answer, re.I):
        return None
    return answer
