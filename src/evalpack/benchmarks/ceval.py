"""C-Eval (Huang et al., 2023): 52 Chinese exam subjects, four-option questions.

Data: the HF `ceval/ceval-exam` CSV layout, `{dev,val,test}/<subject>_<split>.csv`
(header `id,question,A,B,C,D,answer[,explanation]`, CRLF line endings) and
`subject_mapping.json` (subject -> [English name, Chinese name, category]).
The `val` split is scored (1,346 questions): `test` labels were never released.
Prompt: the C-Eval paper's Chinese header ("以下是中国关于{科目}考试的单项选择题，
请选出其中的正确答案。"), k-shot (default 5) from the subject's `dev` split, each
example closed by "答案：X"; the model may reason and ends with "答案：X".
Score: the extracted letter (Chinese or English answer forms) equals the gold one.
Aggregates: per subject, per category (STEM, Social Science, Humanities, Other),
overall micro and macro.
"""

from __future__ import annotations

import csv
import json
from functools import lru_cache
from pathlib import Path

from evalpack.benchmarks.multiple_choice import LETTERS, MultipleChoiceBenchmark, Question
from evalpack.benchmarks.registry import CEVAL_SUBJECTS as SUBJECTS  # noqa: F401  (the 52 subject keys)
from evalpack.errors import DataMissingError

# {subject} is the Chinese subject name; {examples} the few-shot block; {question} the
# question with its lettered options. The header line is the C-Eval paper's; the second
# line lets a chat model reason and fixes the form of its last line.
PROMPT_ZH = (
    "以下是中国关于{subject}考试的单项选择题，请选出其中的正确答案。"
    "你可以先逐步思考，回答的最后一行必须是“答案：X”的形式，其中 X 是 {letters} 中的一个。\n\n"
    "{examples}{question}"
)


class CEval(MultipleChoiceBenchmark):
    name = "ceval"  # metadata and args: registry.py (subsets in subject_mapping.json's order)
    prompt = PROMPT_ZH
    letter_separator = "、"
    example_answer = "答案：{letter}"
    breakdown_fields = {"category": "category"}

    def questions(self, root: Path, args: dict) -> list[Question]:
        mapping = read_mapping(root, self.subsets)
        out = []
        for subject in self.selected_subsets(args):
            for row_id, question, options, answer in read_split(root, subject, self.split):
                if answer not in LETTERS:
                    raise DataMissingError(
                        f"ceval: {subject}_{self.split}.csv row id {row_id} has answer {answer!r}, "
                        f"not one of {LETTERS}; the file is corrupt, restore it from the upstream copy")
                out.append(Question(f"{subject}/{row_id}", subject, question, options, answer,
                                    {"category": mapping[subject][2]}))
        return out

    def examples(self, root: Path, subset: str, args: dict) -> list[Question]:
        return [Question(i, subset, q, opts, a) for i, q, opts, a in read_split(root, subset, args["few_shot_split"])]

    def subject(self, root: Path, subset: str) -> str:
        return read_mapping(root, self.subsets)[subset][1]  # the Chinese name


@lru_cache(maxsize=8)  # {subject} asks for it once per question
def read_mapping(root: Path, subjects: tuple[str, ...]) -> dict[str, list[str]]:
    """subject -> [English name, Chinese name, category], from subject_mapping.json."""
    path = root / "subject_mapping.json"
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataMissingError(f"ceval: {path} is missing; it names each subject's category "
                               f"(copy it from the C-Eval release beside dev/ val/ test/)") from None
    missing = [s for s in subjects if s not in mapping]
    if missing:
        raise DataMissingError(f"ceval: {path} lacks subjects {', '.join(missing[:5])}; "
                               f"restore the upstream subject_mapping.json")
    return mapping


def read_split(root: Path, subject: str, split: str) -> list[tuple[str, str, list[str], str]]:
    """(id, question, [4 options], gold letter) rows of one subject and split."""
    path = root / split / f"{subject}_{split}.csv"
    if not path.is_file():
        raise DataMissingError(f"ceval: {path} is missing (expected the ceval-exam layout "
                               f"<split>/<subject>_<split>.csv)")
    with open(path, newline="", encoding="utf-8-sig") as f:
        # newline="" keeps CRLF inside quoted fields; normalise it so prompts have plain \n
        rows = [{k: (v or "").replace("\r\n", "\n") for k, v in r.items()} for r in csv.DictReader(f)]
    return [(r["id"], r["question"], [r[x] for x in LETTERS], r.get("answer", "").strip()) for r in rows]
