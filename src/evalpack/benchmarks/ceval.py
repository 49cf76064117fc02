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
from pathlib import Path

from evalpack.benchmarks.base import Benchmark, Result, Sample, Score
from evalpack.benchmarks.multiple_choice import format_question, score_choice
from evalpack.errors import DataMissingError
from evalpack.metrics import accuracy_report

# The 52 subject keys of subject_mapping.json; names and categories are read from that file.
SUBJECTS = (
    "computer_network operating_system computer_architecture college_programming college_physics "
    "college_chemistry advanced_mathematics probability_and_statistics discrete_mathematics "
    "electrical_engineer metrology_engineer high_school_mathematics high_school_physics "
    "high_school_chemistry high_school_biology middle_school_mathematics middle_school_biology "
    "middle_school_physics middle_school_chemistry veterinary_medicine college_economics "
    "business_administration marxism mao_zedong_thought education_science teacher_qualification "
    "high_school_politics high_school_geography middle_school_politics middle_school_geography "
    "modern_chinese_history ideological_and_moral_cultivation logic law chinese_language_and_literature "
    "art_studies professional_tour_guide legal_professional high_school_chinese high_school_history "
    "middle_school_history civil_servant sports_science plant_protection basic_medicine clinical_medicine "
    "urban_and_rural_planner accountant fire_engineer environmental_impact_assessment_engineer "
    "tax_accountant physician"
).split()
LETTERS = "ABCD"

# {subject} is the Chinese subject name; {examples} the few-shot block; {question} the
# question with its lettered options. The header line is the C-Eval paper's; the second
# line lets a chat model reason and fixes the form of its last line.
PROMPT_ZH = (
    "以下是中国关于{subject}考试的单项选择题，请选出其中的正确答案。"
    "你可以先逐步思考，回答的最后一行必须是“答案：X”的形式，其中 X 是 {letters} 中的一个。\n\n"
    "{examples}{question}"
)


class CEval(Benchmark):
    name = "ceval"
    title = "C-Eval"
    description = "52-subject Chinese exam multiple-choice test (Huang et al.), val split"
    split = "val"
    subsets = tuple(SUBJECTS)
    default_args = {"subset_list": None, "few_shot_num": 5, "few_shot_split": "dev"}

    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        root = self.root(data_dir, args)
        mapping = read_mapping(root)
        shots = int(args["few_shot_num"])
        template = args.get("prompt_template") or PROMPT_ZH
        samples = []
        for subject in self.selected_subsets(args):
            _english, chinese, category = mapping[subject]
            rows = read_split(root, subject, self.split)
            examples = read_split(root, subject, args["few_shot_split"])[:shots] if shots else []
            if len(examples) < shots:
                raise DataMissingError(
                    f"ceval: {subject} has {len(examples)} {args['few_shot_split']} examples, "
                    f"fewer than few_shot_num={shots}; lower few_shot_num in --dataset-args")
            prefix = "".join(format_question(q, opts, LETTERS) + f"答案：{a}\n\n" for _, q, opts, a in examples)
            for row_id, question, options, answer in rows:
                if answer not in LETTERS:
                    raise DataMissingError(
                        f"ceval: {subject}_{self.split}.csv row id {row_id} has answer {answer!r}, "
                        f"not one of {LETTERS}; the file is corrupt, restore it from the upstream copy")
                content = template.format(subject=chinese, examples=prefix,
                                          question=format_question(question, options, LETTERS),
                                          letters="、".join(LETTERS))
                samples.append(Sample(
                    id=f"{subject}/{row_id}", subset=subject, target=answer,
                    messages=[{"role": "user", "content": content}],
                    metadata={"category": category, "options": options}))
        return samples

    def score(self, sample: Sample, output: dict, args: dict) -> Score:
        return score_choice(sample, output, LETTERS)

    def aggregate(self, results: list[Result], args: dict) -> dict:
        return accuracy_report(results, metric=self.metric,
                               groups={"category": lambda r: r.metadata.get("category")})


def read_mapping(root: Path) -> dict[str, list[str]]:
    path = root / "subject_mapping.json"
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataMissingError(f"ceval: {path} is missing; it names each subject's category "
                               f"(copy it from the C-Eval release beside dev/ val/ test/)") from None
    missing = [s for s in SUBJECTS if s not in mapping]
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
