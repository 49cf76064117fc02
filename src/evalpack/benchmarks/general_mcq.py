"""general_mcq: a user's own multiple-choice questions, in EvalScope's format.

Data: under `local_path` (else <dataset-dir>/general_mcq), `<subset>_val.jsonl` or `<subset>_val.csv`
(the questions asked; .jsonl first when both exist, as EvalScope reads them) and, for few-shot,
`<subset>_dev.(jsonl|csv)`. Columns: `id` (optional), `question`, `A`, `B`[, ... up to `J`],
`answer` (one of the letters present); other columns are kept, and `category` gets its own table.
Subsets are the `<subset>_val` files found, unless `subset_list` names them.
Prompt: EvalScope's default single-answer template (Chinese), 0-shot by default; with few_shot_num
the first examples of the subset's dev file come first, under EvalScope's few-shot header. A
user's prompt_template may use EvalScope's placeholders {question}, {choices}, {letters},
{fewshot}, and {query} (the question with its options, older EvalScope's).
Score: the letter read from the reply (scoring.choice, among the question's own letters) equals
the answer; accuracy per subset, overall (micro and macro) and per category.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from evalpack.benchmarks.multiple_choice import MultipleChoiceBenchmark, Question, score_choice
from evalpack.datasets.user_files import FORMATS, UserDataError, UserFile, find_file, read_table, text_field
from evalpack.scoring.choice import extract_choices
from evalpack.types import Sample, Score

LETTERS = "ABCDEFGHIJ"  # EvalScope's up to ten options
# EvalScope's CHINESE_SINGLE_ANSWER_TEMPLATE and FEW_SHOT_TEMPLATE, word for word: a user's
# EvalScope run and this one send the same prompt
PROMPT_ZH = ("回答下面的单项选择题，请选出其中的正确答案。你的回答的全部内容应该是这样的格式：\"答案：[LETTER]\"（不带引号），"
             "其中 [LETTER] 是 {letters} 中的一个。\n\n问题：{question}\n选项：\n{choices}\n")
# extra_params use_cot / multiple_correct: EvalScope's other three templates, word for word too
PROMPT_ZH_COT = ("回答下面的单项选择题，请选出其中的正确答案。你的回答的最后一行应该是这样的格式：\"答案：[LETTER]\"（不带引号），"
                 "其中 [LETTER] 是 {letters} 中的一个。请在回答前进行一步步思考。\n\n问题：{question}\n选项：\n{choices}\n")
PROMPT_ZH_MULTI = ("回答下面的多项选择题，请选出其中的所有正确答案。你的回答的全部内容应该是这样的格式：\"答案：[LETTERS]\"（不带引号），"
                   "其中 [LETTERS] 是 {letters} 中的一个或多个。\n问题：{question}\n选项：\n{choices}\n")
PROMPT_ZH_MULTI_COT = ("回答下面的多项选择题，请选出其中的所有正确答案。你的回答的最后一行应该是这样的格式：\"答案：[LETTERS]\"（不带引号），"
                       "其中 [LETTERS] 是 {letters} 中的一个或多个。请在回答前进行一步步思考。\n\n问题：{question}\n选项：\n"
                       "{choices}\n")
TEMPLATES = {(False, False): PROMPT_ZH, (False, True): PROMPT_ZH_COT, (True, False): PROMPT_ZH_MULTI,
             (True, True): PROMPT_ZH_MULTI_COT}  # (multiple_correct, use_cot)
FEW_SHOT_HEADER = "Here are some examples of how to answer similar questions:\n\n{fewshot}\n\n"
_SPLIT = re.compile(r"^(?P<subset>.+)_(?P<split>val|dev)$")


class GeneralMCQ(MultipleChoiceBenchmark):
    name = "general_mcq"  # metadata and args: registry.py
    letters = LETTERS
    prompt = PROMPT_ZH
    breakdown_fields = {"category": "category"}

    def __init__(self) -> None:
        super().__init__()
        self.user_files: list[UserFile] = []  # the files load() read, for the run metadata

    # --- data
    def selected_subsets(self, args: dict) -> list[str]:
        return list(args.get("subset_list") or [])

    def subset_files(self, root: Path, args: dict) -> dict[str, Path]:
        """subset -> its <subset>_val file: the named subsets, else every one under root."""
        if root.is_file():  # EvalScope also takes a file as local_path
            match = _SPLIT.match(root.stem)
            return {match["subset"] if match else root.stem: root}
        if not root.is_dir():
            raise UserDataError(f"general_mcq: {root} does not exist; point local_path in --dataset-args at the "
                                f"folder holding your <subset>_val.csv (or .jsonl) files")
        wanted = self.selected_subsets(args) or sorted(
            {m["subset"] for p in root.iterdir() if p.is_file() and p.suffix in FORMATS
             for m in [_SPLIT.match(p.stem)] if m and m["split"] == "val"})
        if not wanted:
            raise UserDataError(f"general_mcq: {root} holds no <subset>_val.csv or <subset>_val.jsonl file (the "
                                f"questions to ask); name the files e.g. example_val.csv")
        out = {}
        for subset in wanted:
            path = find_file(root, f"{subset}_val")
            if path is None:
                raise UserDataError(f"general_mcq: no {subset}_val.jsonl or {subset}_val.csv in {root} (subset "
                                    f"{subset!r}); check subset_list in --dataset-args or the file name")
            out[subset] = path
        return out

    def read(self, path: Path, subset: str, multiple: bool = False) -> list[Question]:
        file = read_table(path)
        self.user_files.append(file)
        return read_questions(file, subset, multiple)

    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        root = self.root(data_dir, args)
        shots = int(args.get("few_shot_num") or 0)
        extra = args.get("extra_params") or {}
        multiple = bool(extra.get("multiple_correct"))
        template = args.get("prompt_template") or TEMPLATES[(multiple, bool(extra.get("use_cot")))]
        if shots and "{fewshot}" not in template:
            template = FEW_SHOT_HEADER + template
        self.user_files = []
        samples = []
        for subset, path in self.subset_files(root, args).items():
            fewshot = self.few_shot_text(path, subset, shots, multiple) if shots else ""
            for q in self.read(path, subset, multiple):
                letters, choices = _options(q)
                content = template.format(question=q.text, choices=choices, letters=",".join(letters),
                                          fewshot=fewshot, query=f"{q.text}\n{choices}")
                samples.append(self.to_sample(q, content, args))
        return samples

    def few_shot_text(self, val_path: Path, subset: str, shots: int, multiple: bool = False) -> str:
        stem = f"{subset}_dev"
        path = find_file(val_path.parent, stem)
        if path is None:
            raise UserDataError(f"general_mcq: few_shot_num={shots} needs {stem}.jsonl or {stem}.csv beside "
                                f"{val_path} (the solved examples); add it or set few_shot_num to 0")
        examples = self.read(path, subset, multiple)
        if len(examples) < shots:
            raise UserDataError(f"general_mcq: {path} has {len(examples)} examples, fewer than few_shot_num={shots}; "
                                f"lower few_shot_num in --dataset-args")
        return "\n\n".join(f"{e.text}\n{_options(e)[1]}\nANSWER: {e.answer}" for e in examples[:shots])

    # --- scoring: only the letters this question has
    def score(self, sample: Sample, output: dict, args: dict) -> Score:
        letters = LETTERS[:len(sample.metadata["options"])]
        if (args.get("extra_params") or {}).get("multiple_correct"):  # right = exactly the gold set
            chosen = extract_choices(output.get("content"), letters, args.get("reasoning_tags"))
            return Score(value=float(chosen == sample.target), extracted=chosen, unparsed=chosen is None)
        return score_choice(sample, output, letters, args.get("reasoning_tags"))


def _options(q: Question) -> tuple[str, str]:
    letters = LETTERS[:len(q.options)]
    return letters, "\n".join(f"{letter}) {option}" for letter, option in zip(letters, q.options))


def read_questions(file: UserFile, subset: str, multiple: bool = False) -> list[Question]:
    """Every row as a Question (with `multiple`, its answer a list of letters, kept sorted and joined:
    "AC"); the first bad row is a UserDataError naming its line and field."""
    has_id = any(text_field(file, row, "id", required=False) is not None for row in file.rows)
    seen: dict[str, int] = {}
    out = []
    for index, row in enumerate(file.rows):
        question = text_field(file, row, "question")
        given = {x: v for x in LETTERS if x in row.fields
                 for v in [text_field(file, row, x, required=False)] if v is not None}
        options = [given[x] for x in LETTERS[:len(given)] if x in given]
        if len(options) < len(given):  # a letter is absent before a given one
            gap = LETTERS[len(options)]
            later = next(x for x in LETTERS[len(options):] if x in given)
            raise file.fail(row, gap, f"is {'missing' if gap not in row.fields else 'empty'} while option {later} "
                            f"is given; options run A, B, C, ... without a gap")
        if len(options) < 2:
            raise file.fail(row, LETTERS[len(options)], "is missing: a question needs at least options A and B")
        answer = _answer(file, row, LETTERS[:len(options)], multiple)
        if has_id:
            qid = text_field(file, row, "id", required=False)
            if qid is None:
                raise file.fail(row, "id", "is empty while other rows have one; give every row an id, or none")
            qid = qid.strip()
            if qid in seen:
                raise file.fail(row, "id", f"{qid!r} repeats the id of line {seen[qid]}; ids must be unique")
            seen[qid] = row.line
        else:
            qid = str(index)
        extra = {k: v for k, v in row.fields.items()
                 if k not in ("id", "question", "answer") and k not in LETTERS and isinstance(v, (str, int, float))}
        out.append(Question(f"{subset}/{qid}", subset, question, options, answer,
                            {**extra, "line": row.line, "category": row.fields.get("category") or None}))
    return out


def _answer(file: UserFile, row, letters: str, multiple: bool) -> str:
    value = row.fields.get("answer")
    if multiple:  # EvalScope's rule: with multiple_correct, the answer is a list of letters (JSONL)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise file.fail(row, "answer", f"must be a list of letters, e.g. [\"A\", \"C\"], with "
                            f"extra_params.multiple_correct (got {json.dumps(value, ensure_ascii=False)})")
        chosen = [v.strip().upper() for v in value]
    elif isinstance(value, list):
        raise file.fail(row, "answer", "is a list: set extra_params.multiple_correct to true for questions with "
                        "several right options, or give one letter")
    else:
        chosen = [text_field(file, row, "answer").strip().upper()]
    wrong = [c for c in chosen if c not in letters]
    if wrong:
        raise file.fail(row, "answer", f"{wrong[0]!r} is not one of the options this question has "
                        f"({', '.join(letters)})")
    if len(set(chosen)) < len(chosen):
        raise file.fail(row, "answer", f"names {', '.join(chosen)}: a letter twice")
    return "".join(sorted(chosen))
