"""Reading the chosen letter out of a free-form reply to a multiple-choice question.

Models answer in many styles: "ANSWER: C", "the answer is (C)", "The correct option
is C.", "**C**", "C. Paris", Chinese "答案：C" / "正确选项为C", or a paragraph of
reasoning that ends with the answer. The rules below are tried from the most
explicit to the least; within a rule the last match wins (reasoning comes first,
the conclusion last). A reply with no readable letter returns None, which the
benchmarks score 0 and count as unparsed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from evalpack.scoring.reasoning import answer_text

_MARKUP = re.compile(r"[*_`$\\]|\\text\{|\\boxed\{")


@lru_cache(maxsize=16)
def _patterns(letters: str) -> tuple[re.Pattern, ...]:
    L = f"(?-i:[{letters}])"
    opt = rf"[(\[（【]?\s*({L})\s*[)\]）】]?"  # C, (C), [C], （C）
    end = r"(?![A-Za-z0-9])"
    return (
        # 1. an explicit answer line: "ANSWER: C", "Final answer: (C)", "答案：C"
        re.compile(rf"(?:final\s+)?answer\s*(?:is)?\s*[:：]\s*(?:option\s*)?{opt}{end}", re.I),
        # "Answer: c" -- a lower-case letter only when nothing but punctuation follows it
        re.compile(rf"(?:final\s+)?answer\s*(?:is)?\s*[:：]\s*[(\[]?\s*([{letters.lower()}])\s*[)\]]?"
                   rf"(?=\s*(?:$|[.,;!。\n]))", re.I),
        re.compile(rf"答案\s*(?:应该|应|为|是|选|：|:)*\s*(?:选项)?\s*{opt}{end}"),
        # 2. "the answer is (C)", "The correct option is C.", "the best choice would be C"
        re.compile(
            rf"(?:answer|option|choice)\s+(?:is|would\s+be|should\s+be|will\s+be|must\s+be)\s*"
            rf"[:：]?\s*(?:option\s*|choice\s*)?{opt}{end}", re.I),
        re.compile(rf"(?:正确|最佳|最终)?(?:答案|选项)\s*(?:应该|应|为|是|选)+\s*(?:选项)?\s*{opt}{end}"),
        re.compile(rf"(?:选择?|选项)\s*{opt}{end}"),
        # 3. the reply is the letter: "C", "(C)", "C.", "C) Paris", "C: Paris", "C. Paris"
        re.compile(rf"^\s*{opt}\s*(?:[.):：、]|$)", re.M),
        # 4. a parenthesised letter anywhere: "... so (C)."
        re.compile(rf"[(（]({L})[)）]"),
    )


def extract_choice(reply: str | None, letters: str = "ABCD", options: list[str] | None = None,
                   reasoning_tags: tuple[str, str] | None = None) -> str | None:
    """The chosen letter, or None when no rule finds one (or the reply ends inside its thinking)."""
    if not reply:
        return None
    # NFKC folds full-width forms that Chinese replies use ("答案：Ｃ", "（Ｃ）") to ASCII
    text = answer_text(unicodedata.normalize("NFKC", reply), reasoning_tags)
    if text is None:
        return None
    boxed = re.findall(rf"\\boxed\{{\s*(?:\\text\{{)?\s*\(?([{letters}])\)?\s*\}}?\s*\}}", text)
    if boxed:  # \boxed{C} is as explicit as "ANSWER: C"
        return boxed[-1]
    text = _MARKUP.sub("", text).strip()
    if not text:
        return None
    for pattern in _patterns(letters):
        matches = pattern.findall(text)
        if matches:
            return matches[-1].upper() if isinstance(matches[-1], str) else matches[-1][0]
    # 5. a lone standalone letter (ignoring "A" used as an article and "I" as a pronoun, as in
    # "I have no comment."); ambiguous -> None
    found = {m for m in re.findall(rf"(?<![A-Za-z0-9'])([{letters}])(?![A-Za-z0-9'])", text)
             if not (m in "AI" and re.search(rf"\b{m}\s+[a-z]", text))}
    if len(found) == 1:
        return found.pop()
    # 6. the reply repeats one option's text exactly
    if options:
        norm = text.lower().strip().rstrip(".。")
        hits = [letters[i] for i, opt in enumerate(options[:len(letters)])
                if unicodedata.normalize("NFKC", str(opt)).lower().strip().rstrip(".。") == norm]
        if len(hits) == 1:
            return hits[0]
    return None


_MARKER = re.compile(r"(?:答案|answer)\s*(?:是|为|:|：)+\s*\**\s*", re.I)


def extract_choices(reply: str | None, letters: str = "ABCD",
                    reasoning_tags: tuple[str, str] | None = None) -> str | None:
    """The letters of a several-answer reply ("答案：AC", "ANSWER: A, C", "答案：A 和 C"), sorted and
    joined, from the last answer line that holds only letters of `letters`; None when there is none."""
    if not reply:
        return None
    text = answer_text(unicodedata.normalize("NFKC", reply), reasoning_tags)
    if text is None:
        return None
    text = _MARKUP.sub("", text)
    for marker in reversed(list(_MARKER.finditer(text))):
        line = text[marker.end():].split("\n", 1)[0].strip().rstrip("。.")
        found = re.fullmatch(rf"[(\[]?\s*([{letters}](?:\s*(?:,|、|和|and|\s)?\s*[{letters}])*)\s*[)\]]?", line)
        if found:
            return "".join(sorted(set(re.findall(f"[{letters}]", found.group(1)))))
    return None
