"""IFEval's 25 verifiable instructions (Zhou et al., 2023), as the official checker rules them.

Each rule follows google-research `instruction_following_eval/instructions.py` (the classes
that `instructions_registry.INSTRUCTION_DICT` lists), including its quirks, because scores
are only comparable when the verdicts are: keywords are matched as regular expressions and
without word boundaries (a keyword "cat" is found in "category"), "less than" is strict,
every other relation means "at least", language detection that fails counts as followed.
A check takes the response and the instruction's kwargs from the dataset.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Callable

from evalpack.scoring.ifeval import text

LESS_THAN = "less than"
CONSTRAINED_RESPONSES = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def _compare(count: int, relation: str | None, threshold: int) -> bool:
    return count < threshold if relation == LESS_THAN else count >= threshold


def _strict_compare(count: int, relation: str | None, threshold: int) -> bool:
    """number_words/number_sentences/keyword frequency answer nothing (False) for an
    unknown relation; the dataset only has "less than" and "at least"."""
    if relation == LESS_THAN:
        return count < threshold
    return count >= threshold if relation == "at least" else False


# --- keywords ---
def keywords_existence(r: str, kw: dict) -> bool:
    return all(re.search(k, r, flags=re.IGNORECASE) for k in kw["keywords"])


def keywords_frequency(r: str, kw: dict) -> bool:
    found = len(re.findall(kw["keyword"].strip(), r, flags=re.IGNORECASE))
    return _strict_compare(found, kw.get("relation"), kw["frequency"])


def keywords_forbidden_words(r: str, kw: dict) -> bool:
    return not any(re.search(r"\b" + w + r"\b", r, flags=re.IGNORECASE) for w in set(kw["forbidden_words"]))


def keywords_letter_frequency(r: str, kw: dict) -> bool:
    letter = kw["letter"].strip().lower()
    return _compare(Counter(r.lower())[letter], kw.get("let_relation"), kw["let_frequency"])


# --- language ---
def response_language(r: str, kw: dict) -> bool:
    found = text.detect_language(r)
    return found is None or found == kw["language"]


# --- length ---
def number_sentences(r: str, kw: dict) -> bool:
    return _strict_compare(text.count_sentences(r), kw.get("relation"), kw["num_sentences"])


def number_paragraphs(r: str, kw: dict) -> bool:
    """Paragraphs are separated by the markdown divider ***; an empty one is allowed only
    at either end."""
    parts = re.split(r"\s?\*\*\*\s?", r)
    count = len(parts)
    for i, part in enumerate(parts):
        if not part.strip():
            if i in (0, len(parts) - 1):
                count -= 1
            else:
                return False
    return count == kw["num_paragraphs"]


def number_words(r: str, kw: dict) -> bool:
    return _strict_compare(text.count_words(r), kw.get("relation"), kw["num_words"])


def nth_paragraph_first_word(r: str, kw: dict) -> bool:
    """Paragraphs are separated by "\\n\\n"; empty ones are not counted, but the nth is
    looked up among all of them (as upstream does)."""
    parts = r.split("\n\n")
    count = sum(1 for p in parts if p.strip())
    nth = kw["nth_paragraph"]
    if nth > count:
        return False
    paragraph = parts[nth - 1].strip()
    if not paragraph:
        return False
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    first = ""
    for ch in word:
        if ch in ".,?!'\"":
            break
        first += ch.lower()
    return count == kw["num_paragraphs"] and first == kw["first_word"].lower()


# --- detectable content ---
def number_placeholders(r: str, kw: dict) -> bool:
    return len(re.findall(r"\[.*?\]", r)) >= kw["num_placeholders"]


def postscript(r: str, kw: dict) -> bool:
    marker = kw["postscript_marker"].strip()
    if marker == "P.P.S":
        pattern = r"\s*p\.\s?p\.\s?s.*$"
    elif marker == "P.S.":
        pattern = r"\s*p\.\s?s\..*$"
    else:
        pattern = r"\s*" + marker.lower() + r".*$"
    return bool(re.findall(pattern, r.lower(), flags=re.MULTILINE))


# --- detectable format ---
def number_bullet_lists(r: str, kw: dict) -> bool:
    stars = re.findall(r"^\s*\*[^\*].*$", r, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", r, flags=re.MULTILINE)
    return len(stars) + len(dashes) == kw["num_bullets"]


def constrained_response(r: str, kw: dict) -> bool:
    r = r.strip()
    return any(option in r for option in CONSTRAINED_RESPONSES)


def number_highlighted_sections(r: str, kw: dict) -> bool:
    single = [h for h in re.findall(r"\*[^\n\*]*\*", r) if h.strip("*").strip()]
    double = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", r) if h.removeprefix("**").removesuffix("**").strip()]
    return len(single) + len(double) >= kw["num_highlights"]


def multiple_sections(r: str, kw: dict) -> bool:
    splitter = kw["section_spliter"].strip()
    sections = re.split(r"\s?" + splitter + r"\s?\d+\s?", r)
    return len(sections) - 1 >= kw["num_sections"]


def json_format(r: str, kw: dict) -> bool:
    body = r.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        body = body.removeprefix(fence)
    body = body.removesuffix("```").strip()
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def title(r: str, kw: dict) -> bool:
    return any(t.lstrip("<").rstrip(">").strip() for t in re.findall(r"<<[^\n]+>>", r))


# --- combination ---
def two_responses(r: str, kw: dict) -> bool:
    """Exactly two different non-empty answers separated by ******."""
    parts = r.split("******")
    answers = []
    for i, part in enumerate(parts):
        if part.strip():
            answers.append(part)
        elif i not in (0, len(parts) - 1):
            return False
    return len(answers) == 2 and answers[0].strip() != answers[1].strip()


def repeat_prompt(r: str, kw: dict) -> bool:
    return r.strip().lower().startswith(kw["prompt_to_repeat"].strip().lower())


# --- start / end ---
def end_checker(r: str, kw: dict) -> bool:
    return r.strip().strip('"').lower().endswith(kw["end_phrase"].strip().lower())


def quotation(r: str, kw: dict) -> bool:
    r = r.strip()
    return len(r) > 1 and r[0] == '"' and r[-1] == '"'


# --- change case ---
def capital_word_frequency(r: str, kw: dict) -> bool:
    capitals = sum(1 for word in text.word_tokens(r) if word.isupper())
    return _compare(capitals, kw.get("capital_relation"), kw["capital_frequency"])


def english_capital(r: str, kw: dict) -> bool:
    if not r.isupper():
        return False
    found = text.detect_language(r)
    return found is None or found == "en"


def english_lowercase(r: str, kw: dict) -> bool:
    if not r.islower():
        return False
    found = text.detect_language(r)
    return found is None or found == "en"


# --- punctuation ---
def no_comma(r: str, kw: dict) -> bool:
    return "," not in r


CHECKS: dict[str, Callable[[str, dict], bool]] = {
    "keywords:existence": keywords_existence,
    "keywords:frequency": keywords_frequency,
    "keywords:forbidden_words": keywords_forbidden_words,
    "keywords:letter_frequency": keywords_letter_frequency,
    "language:response_language": response_language,
    "length_constraints:number_sentences": number_sentences,
    "length_constraints:number_paragraphs": number_paragraphs,
    "length_constraints:number_words": number_words,
    "length_constraints:nth_paragraph_first_word": nth_paragraph_first_word,
    "detectable_content:number_placeholders": number_placeholders,
    "detectable_content:postscript": postscript,
    "detectable_format:number_bullet_lists": number_bullet_lists,
    "detectable_format:constrained_response": constrained_response,
    "detectable_format:number_highlighted_sections": number_highlighted_sections,
    "detectable_format:multiple_sections": multiple_sections,
    "detectable_format:json_format": json_format,
    "detectable_format:title": title,
    "combination:two_responses": two_responses,
    "combination:repeat_prompt": repeat_prompt,
    "startend:end_checker": end_checker,
    "startend:quotation": quotation,
    "change_case:capital_word_frequency": capital_word_frequency,
    "change_case:english_capital": english_capital,
    "change_case:english_lowercase": english_lowercase,
    "punctuation:no_comma": no_comma,
}
