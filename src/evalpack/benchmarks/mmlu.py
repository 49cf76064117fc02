"""MMLU (Hendrycks et al., 2021): 57 subjects, 14,042 four-option test questions.

Data: the upstream CSV layout (`data/{dev,test}/<subject>_{dev,test}.csv`, no
header, columns question,A,B,C,D,answer) or the HF `cais/mmlu` parquet layout
(`<subject>/{dev,test}-*.parquet`, columns question, choices, answer index).
Prompt: k-shot (default 5) from the dev split of the same subject, one user
message; the model may reason, and ends with "ANSWER: <letter>".
Score: the extracted letter equals the gold letter. Aggregates: per subject,
per category (STEM, humanities, social sciences, other), overall micro and macro.
"""

from __future__ import annotations

import csv
from pathlib import Path

from evalpack.benchmarks.multiple_choice import LETTERS, MultipleChoiceBenchmark, Question
from evalpack.errors import DataMissingError

CATEGORIES = {
    "STEM": "abstract_algebra astronomy college_biology college_chemistry college_computer_science "
            "college_mathematics college_physics computer_security conceptual_physics "
            "electrical_engineering elementary_mathematics high_school_biology high_school_chemistry "
            "high_school_computer_science high_school_mathematics high_school_physics "
            "high_school_statistics machine_learning",
    "Humanities": "formal_logic high_school_european_history high_school_us_history "
                  "high_school_world_history international_law jurisprudence logical_fallacies "
                  "moral_disputes moral_scenarios philosophy prehistory professional_law world_religions",
    "Social Sciences": "econometrics high_school_geography high_school_government_and_politics "
                       "high_school_macroeconomics high_school_microeconomics high_school_psychology "
                       "human_sexuality professional_psychology public_relations security_studies "
                       "sociology us_foreign_policy",
    "Other": "anatomy business_ethics clinical_knowledge college_medicine global_facts human_aging "
             "management marketing medical_genetics miscellaneous nutrition professional_accounting "
             "professional_medicine virology",
}
SUBJECT_CATEGORY = {s: cat for cat, subjects in CATEGORIES.items() for s in subjects.split()}


class MMLU(MultipleChoiceBenchmark):
    name = "mmlu"  # metadata and args: registry.py
    breakdown_fields = {"category": "category"}

    def questions(self, root: Path, args: dict) -> list[Question]:
        return [Question(f"{subject}/{i}", subject, q, opts, answer, {"category": SUBJECT_CATEGORY[subject]})
                for subject in self.selected_subsets(args)
                for i, (q, opts, answer) in enumerate(read_subject(root, subject, self.split))]

    def examples(self, root: Path, subset: str, args: dict) -> list[Question]:
        return [Question("", subset, q, opts, answer)
                for q, opts, answer in read_subject(root, subset, args["few_shot_split"])]


def read_subject(root: Path, subject: str, split: str) -> list[tuple[str, list[str], str]]:
    """(question, [4 options], gold letter) rows of one subject and split, from either layout."""
    for csv_path in (root / "data" / split / f"{subject}_{split}.csv", root / split / f"{subject}_{split}.csv"):
        if csv_path.is_file():
            with open(csv_path, newline="", encoding="utf-8") as f:
                return [(r[0], r[1:5], r[5].strip()) for r in csv.reader(f) if r]
    parquet = sorted((root / subject).glob(f"{split}-*.parquet"))
    if parquet:
        return _read_parquet(parquet)
    raise DataMissingError(
        f"mmlu: no {split} file for subject {subject!r} under {root} "
        f"(looked for data/{split}/{subject}_{split}.csv and {subject}/{split}-*.parquet)")


def _read_parquet(paths: list[Path]) -> list[tuple[str, list[str], str]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataMissingError("mmlu: this dataset dir has the HF parquet layout, which needs pyarrow: "
                               "pip install 'evalpack[parquet]'") from None
    rows = []
    for path in paths:
        for rec in pq.read_table(path).to_pylist():
            rows.append((rec["question"], list(rec["choices"]), LETTERS[int(rec["answer"])]))
    return rows
