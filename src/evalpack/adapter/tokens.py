"""Token counts when the backend reports none.

The estimate mimics a large-vocabulary BPE tokenizer without shipping one: a run of
ASCII letters counts one token per started 8 letters (most words are one token), each
digit one (current tokenizers split numbers into digits or short groups), a run of
ASCII punctuation one per started 3 characters (JSON's `": "` and `"},` are merged
tokens), and every other non-space character (CJK, other scripts) one.
Measured against Llama 3's tokenizer (perf/adapter_token_estimate.py): summed
counts within +2% on MMLU questions, +4% on BFCL prompts with tool schemas, +11% on
C-Eval (Chinese). Smaller-vocabulary tokenizers count more tokens than this. Replies
carrying an estimate are marked "estimated": true.
"""

from __future__ import annotations

import re

_PIECES = re.compile(r"[A-Za-z]+|\d|[!-/:-@\[-`{-~]+|[^\sA-Za-z\d]")


def estimate_tokens(text: str) -> int:
    count = 0
    for piece in _PIECES.findall(text or ""):
        first = piece[0]
        if not first.isascii() or first.isdigit():
            count += 1
        elif first.isalpha():
            count += (len(piece) + 7) // 8
        else:
            count += (len(piece) + 2) // 3
    return count
