"""Token counts when the backend reports none.

The estimate mimics a BPE tokenizer on typical text without shipping one: a run of
ASCII letters counts one token per started 6 letters (common words are one token,
long rare words split), each digit counts one (most current tokenizers split numbers
into digits or short groups), every other non-space character (punctuation, CJK,
special-token brackets) counts one. On English prose it lands within about 20% of
real Llama/Qwen counts; the reply marks such usage with "estimated": true.
"""

from __future__ import annotations

import re

_PIECES = re.compile(r"[A-Za-z]+|\d|[^\sA-Za-z\d]")


def estimate_tokens(text: str) -> int:
    count = 0
    for piece in _PIECES.findall(text or ""):
        count += (len(piece) + 5) // 6 if piece[0].isalpha() and piece.isascii() else 1
    return count
