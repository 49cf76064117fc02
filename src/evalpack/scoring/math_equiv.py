"""Final-answer extraction and math equivalence for free-form math benchmarks.

Extraction follows the method of the Qwen2.5-Math / math-evaluation-harness graders that
EvalScope also uses: Minerva's "final answer is $X$. I hope" sentence, else the last
`\\boxed{}` (nested braces), else the text after "the answer is", else the last number.

Equivalence is decided by `math-verify` (sympy based: LaTeX, fractions, units, intervals,
sets, scientific notation) in the worker processes of `evalpack.scoring.verify_pool`;
identical answers and missing answers are settled here without a worker.
"""

from __future__ import annotations

import re

from evalpack.scoring.reasoning import answer_text
from evalpack.scoring.verify_pool import DEFAULT_TIMEOUT, Verdict, VerifyPool, shared_pool

__all__ = ["DEFAULT_TIMEOUT", "Verdict", "VerifyPool", "check_answer", "check_answers", "extract_answer",
           "gold_from_gsm8k", "gold_from_solution", "last_boxed", "shared_pool",
           "to_verifiable"]

# --------------------------------------------------------------------------- extraction


def _balanced(text: str, open_at: int) -> str | None:
    """Content of the brace group opening at text[open_at] ('{'), or None if never closed."""
    depth = 0
    for i in range(open_at, len(text)):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1:i]
    return None


_BOX_RE = re.compile(r"\\(?:boxed|fbox)\b\s*")


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (or \\fbox{...}); `\\boxed 5` (no braces) reads up to `$`."""
    if not text:
        return None
    matches = list(_BOX_RE.finditer(text))
    for match in reversed(matches):
        start = match.end()
        if start < len(text) and text[start] == "{":
            inner = _balanced(text, start)
            if inner is not None:
                return inner.strip()
            continue  # a box cut off by max_tokens: try an earlier, complete one
        rest = text[start:].split("$")[0].strip()
        if rest:
            return rest.split()[0] if "\n" in rest else rest
    return None


_MINERVA_RE = re.compile(r"final answer is \$(.+?)\$\. I hope", re.S)
_ANSWER_IS_RE = re.compile(r"he answer is")
_NUMBER_RE = re.compile(r"-?\d*\.?\d+")


def extract_answer(text: str | None, *, last_number: bool = True,
                   reasoning_tags: tuple[str, str] | None = None) -> tuple[str | None, str | None]:
    """The model's final answer and how it was found: (answer, method) or (None, None)
    (also when the reply ends inside its thinking: evalpack.scoring.reasoning)."""
    if not text:
        return None, None
    text = answer_text(text, reasoning_tags)
    if text is None:
        return None, None
    minerva = _MINERVA_RE.search(text)
    if minerva:
        return minerva.group(1).strip(), "minerva_format"
    boxed = last_boxed(text)
    if boxed is not None:  # a box decides, even an empty one (it echoes the instruction): no answer
        return (boxed, "boxed") if boxed else (None, "empty_box")
    if _ANSWER_IS_RE.search(text):
        tail = text[text.rfind("he answer is") + len("he answer is"):]
        tail = tail.strip().lstrip(":").strip().split("\n")[0].strip()
        tail = re.sub(r"(?:\.|\s)+$", "", tail).strip("$ ").strip()
        if tail:
            return tail, "answer_is"
    if last_number:
        numbers = _NUMBER_RE.findall(text.replace(",", ""))
        if numbers:
            return numbers[-1], "last_number"
    return None, None


def gold_from_solution(solution: str) -> str | None:
    """MATH / Minerva: the gold answer is the last \\boxed{} of the reference solution."""
    return last_boxed(solution)


def gold_from_gsm8k(answer: str) -> str:
    """GSM8K: the gold answer follows the last '####' (thousands separators dropped)."""
    return answer.split("####")[-1].strip().replace(",", "")


# Scientific "e" notation (Minerva's gold "4.5e33") would parse as 4.5*E*33 (Euler's e).
_SCI_E_RE = re.compile(r"(?<![A-Za-z\\])(\d+(?:\.\d+)?)\s*[eE]\s*([+-]?\d+)(?![\d.])")
# "18 dollars", "\$5 per hour": a number followed only by plain words is that number.
_NUMBER_WORDS_RE = re.compile(r"^\\?\$?\s*(-?[\d,]*\.?\d+)\s+[A-Za-z][A-Za-z \-/]*\.?$")


def to_verifiable(answer: str) -> str:
    """A LaTeX snippet math-verify parses the way a grader would read `answer`."""
    text = re.sub(r"(?<!\\)\$", " ", answer).strip()  # math-mode dollars, not \$ (a currency sign)
    text = re.sub(r"[.\s]+$", "", text) if not text.endswith("\\.") else text
    text = _SCI_E_RE.sub(r"\1 \\times 10^{\2}", text)
    words = _NUMBER_WORDS_RE.match(text)
    if words:
        text = words.group(1)
    return text


_INTEGER_RE = re.compile(r"-?(?:\d{1,30}|\d{1,3}(?:,\d{3}){1,9})")


def _same_text(a: str, b: str) -> bool:
    squash = lambda s: re.sub(r"\s+|\\[,;:! ]|\\left|\\right", "", s)  # noqa: E731
    return squash(a) == squash(b) and squash(a) != ""


# --------------------------------------------------------------------------- one item


def quick_verdict(gold: str | None, answer: str | None) -> Verdict | None:
    """The verdict when no worker is needed (no answer, or the same text), else None."""
    if answer is None or not answer.strip():
        return Verdict(False, "no_answer")
    if gold is None:
        return Verdict(False, "error", "no gold answer")
    gold_text, answer_text = to_verifiable(gold), to_verifiable(answer)
    if _same_text(gold_text, answer_text):
        return Verdict(True, "same_text")
    if _INTEGER_RE.fullmatch(gold_text) and _INTEGER_RE.fullmatch(answer_text):
        # two integer literals (1,234 = 1234 as math-verify reads it): compared exactly, no worker needed
        return Verdict(int(gold_text.replace(",", "")) == int(answer_text.replace(",", "")), "integers")
    return None


async def check_answer(gold: str | None, answer: str | None, *, timeout: float = DEFAULT_TIMEOUT,
                       pool: VerifyPool | None = None) -> Verdict:
    quick = quick_verdict(gold, answer)
    if quick is not None:
        return quick
    return await (pool or shared_pool()).check(to_verifiable(gold), to_verifiable(answer), timeout)


def check_answers(pairs, *, timeout: float = DEFAULT_TIMEOUT, pool: VerifyPool | None = None) -> list[Verdict]:
    """Batch form of `check_answer` for synchronous callers (rescoring, scripts)."""
    verdicts: list[Verdict | None] = [quick_verdict(g, a) for g, a in pairs]
    todo = [i for i, v in enumerate(verdicts) if v is None]
    if todo:
        pool = pool or shared_pool()
        checked = pool.check_many([(to_verifiable(pairs[i][0]), to_verifiable(pairs[i][1])) for i in todo],
                                  timeout)
        for i, verdict in zip(todo, checked):
            verdicts[i] = verdict
    return verdicts  # type: ignore[return-value]
