"""Prompt pieces shared by the multiple-choice benchmarks (MMLU, C-Eval, GPQA, ...)."""

from __future__ import annotations

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
