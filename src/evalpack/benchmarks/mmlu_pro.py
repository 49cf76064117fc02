"""MMLU-Pro (Wang et al., 2024): 12,032 questions with up to 10 options (A-J) in 14 categories.

Prompt and scoring are TIGER-Lab's `evaluate_from_api.py` (TIGER-AI-Lab/MMLU-Pro): one user
message holding the category's instruction, its 5 validation examples with their worked
chain of thought, and the question, ending "Answer: Let's think step by step."; the answer
is read with their cascade (first "answer is (X)", else the first "Answer: X" line, else the
last standalone letter A-J) after dropping markdown bold. Accuracy per category (the subsets),
per question source, overall micro and macro.

Gold is the `answer` letter, as TIGER-Lab's script (and EvalScope, lm-eval) score it. One test
row, question_id 3983 (chemistry), has `answer` C but `answer_index` 1 (B); C (N-H) is the right
answer to its question, so the letter is kept and the row is flagged in its metadata.

Data: the HF parquet files (test + validation), read with pyarrow: `pip install 'evalpack[parquet]'`.
"""

from __future__ import annotations

import re
from pathlib import Path

from evalpack.benchmarks.multiple_choice import MultipleChoiceBenchmark, Question
from evalpack.errors import DataMissingError
from evalpack.scoring.reasoning import answer_text
from evalpack.types import Result, Sample, Score

LETTERS = "ABCDEFGHIJ"
FILES = {"test": "test-00000-of-00001.parquet", "validation": "validation-00000-of-00001.parquet"}
INSTRUCTION = ("The following are multiple choice questions (with answers) about {subject}. Think step by"
               " step and then output the answer in the format of \"The answer is (X)\" at the end.\n\n")


class MMLUPro(MultipleChoiceBenchmark):
    """Metadata and dataset-args (few_shot_num 0-5, few_shot_split): registry.py."""

    name = "mmlu_pro"
    letters = LETTERS
    breakdown_fields = {"source": "source"}

    def questions(self, root: Path, args: dict) -> list[Question]:
        wanted = set(self.selected_subsets(args))
        out = []
        for row in read_split(root, "test"):
            if row["category"] not in wanted:
                continue
            metadata = {"question_id": row["question_id"], "src": row["src"], "source": row["src"].split("-")[0],
                        "num_options": len(row["options"])}
            if row["answer_index"] != LETTERS.index(row["answer"]):
                metadata["answer_index_disagrees"] = row["answer_index"]
            out.append(Question(str(row["question_id"]), row["category"], row["question"], row["options"],
                                row["answer"], metadata))
        return out

    def examples(self, root: Path, subset: str, args: dict) -> list[Question]:
        if not hasattr(self, "_validation"):
            self._validation = read_split(root, "validation")
        return [Question(str(r["question_id"]), r["category"], r["question"], r["options"], r["answer"],
                         {"cot_content": r["cot_content"]}) for r in self._validation if r["category"] == subset]

    def few_shot_block(self, root: Path, subset: str, shots: int, args: dict) -> str:
        """TIGER-Lab's instruction and worked examples (their wording, not the base class's)."""
        examples = self.examples(root, subset, args)[:shots]
        if len(examples) < shots:
            raise DataMissingError(f"mmlu_pro: the validation split has {len(examples)} examples of "
                                   f"{subset!r}, fewer than few_shot_num={shots}")
        return INSTRUCTION.format(subject=subset) + "".join(
            format_example(e.text, e.options, e.metadata["cot_content"]) for e in examples)

    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        # the base's load, with TIGER-Lab's question format ("Options: A. ...", "Answer: Let's think
        # step by step.") and no text between the examples and the question
        root = self.root(data_dir, args)
        shots = int(args["few_shot_num"])
        template = args.get("prompt_template")
        prefixes: dict[str, str] = {}
        samples = []
        for q in self.questions(root, args):
            if q.subset not in prefixes:
                prefixes[q.subset] = self.few_shot_block(root, q.subset, shots, args) if shots \
                    else INSTRUCTION.format(subject=q.subset)
            question = format_example(q.text, q.options)
            content = template.format(subject=q.subset, examples=prefixes[q.subset], question=question) \
                if template else prefixes[q.subset] + question
            samples.append(self.to_sample(q, content, args))
        return samples

    def score(self, sample: Sample, output: dict, args: dict) -> Score:
        letter, rule = extract_answer((output or {}).get("content"), args.get("reasoning_tags"))
        return Score(value=float(letter == sample.target), extracted=letter, unparsed=letter is None,
                     detail={"rule": rule})

    def aggregate(self, results: list[Result], args: dict) -> dict:
        report = super().aggregate(results, args)
        scored = [r for r in results if r.score is not None]
        if scored:
            # TIGER-Lab's summary replaces an unreadable reply by a random letter; this is the
            # expected value of that, without the randomness
            guessed = sum(r.score if not r.unparsed else 1 / (r.metadata.get("num_options") or 10)
                          for r in scored)
            report["metrics"]["accuracy_random_guess_unparsed"] = guessed / len(scored)
        return report


def format_example(question: str, options: list[str], cot_content: str = "") -> str:
    """TIGER-Lab's format_example: options after "Options: ", the answer primed with the worked CoT
    (its "A: " dropped) or, for the question asked, with "Let's think step by step."."""
    cot = cot_content or "Let's think step by step."
    if cot.startswith("A: "):
        cot = cot[3:]
    text = f"Question: {question}\nOptions: "
    text += "".join(f"{LETTERS[i]}. {option}\n" for i, option in enumerate(options))
    return text + "Answer: " + cot + "\n\n"


_ANSWER_IS = re.compile(r"answer is \(?([A-J])\)?")
_ANSWER_LINE = re.compile(r".*[aA]nswer:\s*([A-J])")
_LAST_LETTER = re.compile(r"\b[A-J]\b(?!.*\b[A-J]\b)", re.S)


def extract_answer(reply: str | None, reasoning_tags=None) -> tuple[str | None, str | None]:
    """TIGER-Lab's cascade, with the rule that matched. Each rule takes its FIRST match, as theirs
    does (re.search); only the answer part of a reasoning model's reply is read."""
    text = answer_text(reply, reasoning_tags)
    if not text:
        return None, None
    text = text.replace("**", "")
    for rule, pattern in (("answer_is", _ANSWER_IS), ("answer_colon", _ANSWER_LINE),
                          ("last_letter", _LAST_LETTER)):
        match = pattern.search(text)
        if match:
            return (match.group(1) if pattern.groups else match.group(0)), rule
    return None, None


def read_split(root: Path, split: str) -> list[dict]:
    """Rows of one split, options "N/A" dropped (TIGER-Lab's preprocess: the first HF release padded
    every question to 10 options with "N/A")."""
    path = root / FILES[split]
    if not path.is_file():
        raise DataMissingError(f"mmlu_pro: {path} is missing (the HF TIGER-Lab/MMLU-Pro {split} parquet); "
                               f"`evalpack verify mmlu_pro` lists what is needed")
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataMissingError("mmlu_pro: its data is parquet, read with pyarrow: "
                               "pip install 'evalpack[parquet]' (or pip install pyarrow)") from None
    columns = ["question_id", "question", "options", "answer", "answer_index", "cot_content", "category", "src"]
    rows = pq.read_table(path, columns=columns).to_pylist()
    for row in rows:
        row["options"] = [o for o in row["options"] if o != "N/A"]
    return rows
