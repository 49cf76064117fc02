"""Multiple-choice benchmarks (MMLU, C-Eval, GPQA, LongBench-v2, ...): one base class does the work.

A dataset gives `questions()` (its records mapped to `Question`s, in the order to ask them)
and, for k-shot prompts, `examples()` (solved questions of a subset). The base builds one
user message from `prompt` (placeholders {subject}, {examples}, {question}, {letters}; a
user's prompt_template may replace it), adds the system_prompt when given, scores the letter
read from the reply (evalpack.scoring.choice) against the gold one, and reports accuracy per
subset, overall (micro and macro) and per each `breakdown_fields` metadata field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from evalpack.benchmarks.base import Benchmark
from evalpack.errors import DataMissingError
from evalpack.metrics import accuracy_report
from evalpack.scoring.choice import extract_choice
from evalpack.types import Result, Sample, Score

LETTERS = "ABCD"

# {examples} is the few-shot block (empty for 0-shot); {question} the formatted
# question with its lettered options. The model may reason before the answer line.
PROMPT_EN = (
    "The following are multiple choice questions about {subject}. Answer the last one. "
    "You may think step by step first; the last line of your reply must be of the form "
    "'ANSWER: $LETTER' (without quotes) where LETTER is one of {letters}.\n\n"
    "{examples}{question}"
)


@dataclass
class Question:
    """One record of a multiple-choice dataset, as the base class needs it."""

    id: str  # unique within the benchmark
    subset: str
    text: str  # the question, without its options
    options: list[str]
    answer: str  # the gold letter
    metadata: dict = field(default_factory=dict)  # stored with the result; "options" is added


class MultipleChoiceBenchmark(Benchmark):
    letters: ClassVar[str] = LETTERS
    prompt: ClassVar[str] = PROMPT_EN
    letter_separator: ClassVar[str] = ", "  # how {letters} lists them ("A, B, C, D")
    example_answer: ClassVar[str] = "ANSWER: {letter}"  # closes each few-shot example
    # report group label -> metadata field: each gets its own accuracy table
    breakdown_fields: ClassVar[dict[str, str]] = {}

    # --- what each dataset defines
    def questions(self, root: Path, args: dict) -> list[Question]:
        """The questions of the selected subsets (`self.selected_subsets(args)`), in order."""
        raise NotImplementedError

    def examples(self, root: Path, subset: str, args: dict) -> list[Question]:
        """Solved examples for a subset's k-shot prompt (the first few_shot_num are used)."""
        raise NotImplementedError

    def subject(self, root: Path, subset: str) -> str:
        """What {subject} says for a subset."""
        return subset.replace("_", " ")

    # --- shared machinery
    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        root = self.root(data_dir, args)
        shots = int(args.get("few_shot_num") or 0)
        template = args.get("prompt_template") or self.prompt
        prefixes: dict[str, str] = {}
        samples = []
        for q in self.questions(root, args):
            if q.subset not in prefixes:
                prefixes[q.subset] = self.few_shot_block(root, q.subset, shots, args) if shots else ""
            content = template.format(subject=self.subject(root, q.subset), examples=prefixes[q.subset],
                                      question=format_question(q.text, q.options, self.letters),
                                      letters=self.letter_separator.join(self.letters))
            samples.append(self.to_sample(q, content, args))
        return samples

    def few_shot_block(self, root: Path, subset: str, shots: int, args: dict) -> str:
        examples = self.examples(root, subset, args)[:shots]
        if len(examples) < shots:
            raise DataMissingError(
                f"{self.name}: {subset} has {len(examples)} {args.get('few_shot_split')} examples, "
                f"fewer than few_shot_num={shots}; lower few_shot_num in --dataset-args")
        return "".join(format_question(e.text, e.options, self.letters)
                       + self.example_answer.format(letter=e.answer) + "\n\n" for e in examples)

    def to_sample(self, q: Question, content: str, args: dict) -> Sample:
        return Sample(id=q.id, subset=q.subset, target=q.answer,
                      messages=with_system(args, [{"role": "user", "content": content}]),
                      metadata={**q.metadata, "options": q.options})

    def score(self, sample: Sample, output: dict, args: dict) -> Score:
        return score_choice(sample, output, self.letters, args.get("reasoning_tags"))

    def aggregate(self, results: list[Result], args: dict) -> dict:
        groups = {label: (lambda r, f=name: r.metadata.get(f)) for label, name in self.breakdown_fields.items()}
        return accuracy_report(results, metric=self.metric, groups=groups)


def with_system(args: dict, messages: list[dict]) -> list[dict]:
    """The messages, after the user's system_prompt when one is given."""
    system = args.get("system_prompt")
    return [{"role": "system", "content": system}, *messages] if system else messages


def format_question(question: str, options: list[str], letters: str = LETTERS) -> str:
    lines = [question.strip()]
    lines += [f"{letter}. {str(option).strip()}" for letter, option in zip(letters, options)]
    return "\n".join(lines) + "\n"


def score_choice(sample: Sample, output: dict, letters: str = LETTERS,
                 reasoning_tags: tuple[str, str] | None = None) -> Score:
    """1 when the letter read from the reply is the gold letter; unparsed when none is read."""
    letter = extract_choice(output.get("content"), letters, sample.metadata.get("options"), reasoning_tags)
    return Score(value=float(letter == sample.target), extracted=letter, unparsed=letter is None)
