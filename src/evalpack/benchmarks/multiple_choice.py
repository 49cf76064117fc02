"""Prompt pieces shared by the multiple-choice benchmarks (MMLU, C-Eval, GPQA, ...)."""

from __future__ import annotations

from evalpack.benchmarks.base import Sample, Score
from evalpack.scoring.choice import extract_choice

# {examples} is the few-shot block (empty for 0-shot); {question} the formatted
# question with its lettered options. The model may reason before the answer line.
PROMPT_EN = (
    "The following are multiple choice questions about {subject}. Answer the last one. "
    "You may think step by step first; the last line of your reply must be of the form "
    "'ANSWER: $LETTER' (without quotes) where LETTER is one of {letters}.\n\n"
    "{examples}{question}"
)


def format_question(question: str, options: list[str], letters: str = "ABCD") -> str:
    lines = [question.strip()]
    lines += [f"{letter}. {str(option).strip()}" for letter, option in zip(letters, options)]
    return "\n".join(lines) + "\n"


def score_choice(sample: Sample, output: dict, letters: str = "ABCD") -> Score:
    """1 when the letter read from the reply is the gold letter; unparsed when none is read."""
    letter = extract_choice(output.get("content"), letters, sample.metadata.get("options"))
    return Score(value=float(letter == sample.target), extracted=letter, unparsed=letter is None)
