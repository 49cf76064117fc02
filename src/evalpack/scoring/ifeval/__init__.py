"""IFEval verdicts: does a response follow each of its prompt's instructions?

`strict` checks the response as it is. `loose` (upstream's "upper bound") also accepts the
instruction as followed when one of seven relaxed copies passes: without its first line,
without its last line, without both, and each of these and the whole response with every
'*' removed. An empty (blank) response follows nothing, in both modes.
"""

from __future__ import annotations

from evalpack.scoring.ifeval.instructions import CHECKS
from evalpack.scoring.ifeval.text import require_libraries, use_nltk_data

__all__ = ["CHECKS", "loose_variants", "judge", "require_libraries", "use_nltk_data"]


def loose_variants(response: str) -> list[str]:
    """The response and its seven relaxations, in upstream's order."""
    lines = response.split("\n")
    no_first = "\n".join(lines[1:]).strip()
    no_last = "\n".join(lines[:-1]).strip()
    no_both = "\n".join(lines[1:-1]).strip()
    unstarred = [v.replace("*", "") for v in (response, no_first, no_last, no_both)]
    return [response, unstarred[0], no_first, no_last, no_both, *unstarred[1:]]


def _follows(check, response: str, kwargs: dict) -> bool:
    return bool(response.strip()) and bool(check(response, kwargs))


def judge(response: str, instruction_ids: list[str], kwargs: list[dict]) -> tuple[list[bool], list[bool]]:
    """(strict, loose) verdicts, one per instruction."""
    strict, loose = [], []
    variants = None
    for instruction_id, kw in zip(instruction_ids, kwargs):
        check = CHECKS[instruction_id]
        ok = _follows(check, response, kw or {})
        strict.append(ok)
        if not ok:
            variants = variants or loose_variants(response)
            ok = any(_follows(check, v, kw or {}) for v in variants[1:])
        loose.append(ok)
    return strict, loose
