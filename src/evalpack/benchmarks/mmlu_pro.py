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
from typing import ClassVar

from evalpack.benchmarks.base import Benchmark, Result, Sample, Score
from evalpack.errors import DataMissingError, UsageError
from evalpack.metrics import accuracy_report
from evalpack.scoring.reasoning import answer_text

LETTERS = "ABCDEFGHIJ"
CATEGORIES = ("biology", "business", "chemistry", "computer science", "economics", "engineering", "health",
              "history", "law", "math", "other", "philosophy", "physics", "psychology")
FILES = {"test": "test-00000-of-00001.parquet", "validation": "validation-00000-of-00001.parquet"}
INSTRUCTION = ("The following are multiple choice questions (with answers) about {subject}. Think step by"
               " step and then output the answer in the format of \"The answer is (X)\" at the end.\n\n")


class MMLUPro(Benchmark):
    name = "mmlu_pro"
    title = "MMLU-Pro"
    description = ("12,032 ten-option reasoning questions in 14 categories (TIGER-Lab); 5-shot CoT from the "
                   "validation split, TIGER-Lab's prompt and answer cascade; accuracy per category.")
    split = "test"
    subsets = CATEGORIES
    default_args: ClassVar[dict] = {"subset_list": None, "few_shot_num": 5, "few_shot_split": "validation"}

    def resolve_args(self, user_args: dict | None) -> dict:
        args = super().resolve_args(user_args)
        shots = args["few_shot_num"]
        if isinstance(shots, bool) or not isinstance(shots, int) or not 0 <= shots <= 5:
            raise UsageError(f"--dataset-args: mmlu_pro few_shot_num must be an integer from 0 to 5 "
                             f"(the validation split has 5 examples per category), got {shots!r}")
        if args["few_shot_split"] != "validation":
            raise UsageError("--dataset-args: mmlu_pro few_shot_split can only be \"validation\" "
                             "(the split with worked answers)")
        return args

    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        root = self.root(data_dir, args)
        wanted = self.selected_subsets(args)
        shots = int(args["few_shot_num"])
        examples: dict[str, list[dict]] = {}
        if shots:
            for row in read_split(root, "validation"):
                examples.setdefault(row["category"], []).append(row)
        template = args.get("prompt_template")
        prefixes: dict[str, str] = {}
        samples = []
        for row in read_split(root, "test"):
            category = row["category"]
            if category not in wanted:
                continue
            if category not in prefixes:
                shown = examples.get(category, [])[:shots]
                if len(shown) < shots:
                    raise DataMissingError(f"mmlu_pro: the validation split has {len(shown)} examples of "
                                           f"{category!r}, fewer than few_shot_num={shots}")
                prefixes[category] = INSTRUCTION.format(subject=category) + "".join(
                    format_example(e["question"], e["options"], e["cot_content"]) for e in shown)
            prefix = prefixes[category]
            question = format_example(row["question"], row["options"])
            content = template.format(subject=category, examples=prefix, question=question) if template \
                else prefix + question
            messages = [{"role": "user", "content": content}]
            if args.get("system_prompt"):
                messages.insert(0, {"role": "system", "content": args["system_prompt"]})
            metadata = {"question_id": row["question_id"], "src": row["src"],
                        "source": row["src"].split("-")[0], "num_options": len(row["options"])}
            if row["answer_index"] != LETTERS.index(row["answer"]):
                metadata["answer_index_disagrees"] = row["answer_index"]
            samples.append(Sample(id=str(row["question_id"]), subset=category, target=row["answer"],
                                  messages=messages, metadata=metadata))
        return samples

    def score(self, sample: Sample, output: dict, args: dict) -> Score:
        letter, rule = extract_answer((output or {}).get("content"))
        return Score(value=float(letter == sample.target), extracted=letter, unparsed=letter is None,
                     detail={"rule": rule})

    def aggregate(self, results: list[Result], args: dict) -> dict:
        report = accuracy_report(results, metric=self.metric,
                                 groups={"source": lambda r: r.metadata.get("source")})
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


def extract_answer(reply: str | None) -> tuple[str | None, str | None]:
    """TIGER-Lab's cascade, with the rule that matched. Each rule takes its FIRST match, as theirs
    does (re.search); only the reply after a reasoning model's </think> is read."""
    if not reply:
        return None, None
    text = (answer_text(reply) or "").replace("**", "")  # unclosed thinking: no answer
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
