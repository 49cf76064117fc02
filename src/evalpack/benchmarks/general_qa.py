"""general_qa: a user's own open questions with reference answers, in EvalScope's format.

Data: `<local_path>/<subset>.jsonl` (or `<subset>_test.jsonl`, EvalScope's eval split; .csv with
the same columns too), one record a line, in one of three shapes:
  {"query": "...", "response": "..."}            (also "question" / "answer")
  {"system": "...", "query": "...", "response": "..."}
  {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...], "response": "..."}
A `messages` record without `response` whose last turn is the assistant's takes that turn as the
reference. Subsets are the files found, unless `subset_list` names them.
Prompt: the query as it is (EvalScope sends it unchanged); `prompt_template` with {question}
rewrites it; `system_prompt` comes first when the record has no system message.
Score: EvalScope's defaults, BLEU-1..4 and ROUGE-1/2/L R/P/F (scoring/text_overlap.py) of the
answer part of the reply (reasoning stripped); the main score is Rouge-L-R. Every metric is
reported overall and per subset.
Judged (`--judge-strategy llm`, docs/judge.md): the judge grades every answer against its
reference with EvalScope's default judge template (A = correct, B = incorrect), as EvalScope's
general_qa does under `llm`; the main score is then `acc`, the judge's mean, and BLEU/ROUGE are
still reported beside it. A row without a reference is rated instead with EvalScope's numeric
template (a 0-1 rating in [[...]]); such rows need the judge, and get no BLEU/ROUGE.
`llm_recall` is refused: the rule is an overlap, not a verdict.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import ClassVar

from evalpack.benchmarks.base import Benchmark
from evalpack.benchmarks.multiple_choice import with_system
from evalpack.datasets.user_files import FORMATS, Row, UserDataError, UserFile, find_file, read_table, text_field
from evalpack.metrics import _table, accuracy_report, in_bootstrap
from evalpack.scoring.judge import (EVALSCOPE_NUMERIC_REMINDER, EVALSCOPE_NUMERIC_TEMPLATE, EVALSCOPE_REMINDER,
                                    EVALSCOPE_TEMPLATE, RULE_DEFAULT, Judge, read_ab, read_rating)
from evalpack.scoring.reasoning import answer_text
from evalpack.scoring.text_overlap import METRICS, overlap, scorers
from evalpack.types import Result, Sample, Score

MAIN = "Rouge-L-R"  # EvalScope's primary metric for general_qa
ROLES = ("system", "user", "assistant")


class GeneralQA(Benchmark):
    name = "general_qa"  # metadata and args: registry.py
    # The LLM judge grades these answers instead of BLEU/ROUGE under --judge-strategy llm (BLEU
    # and ROUGE stay in the report); rows without a reference can only be judged (check_samples).
    judge_capable: ClassVar[bool] = True
    judge_policy = RULE_DEFAULT
    judge_strategies = ("auto", "rule", "llm")
    judge_strategy_note = ("its rule is a BLEU/ROUGE overlap, not a right/wrong verdict a judge could recall; "
                           "use --judge-strategy llm to have the judge grade every answer")
    judge_prompt_version = ("evalscope DEFAULT_PROMPT_TEMPLATE (A/B) against the reference, "
                            "DEFAULT_NUMERIC_SCORE_TEMPLATE ([[0-1]]) without one; 3 attempts")

    def __init__(self) -> None:
        super().__init__()
        self.user_files: list[UserFile] = []  # the files load() read, for the run metadata
        self.unreferenced: dict[str, tuple[UserFile, Row]] = {}  # sample id -> its row, for check_samples

    def check_samples(self, samples: list[Sample], args: dict, judged: bool) -> None:
        """BLEU/ROUGE need a reference in every row; only a judge can grade a row without one."""
        if judged:
            return
        for sample in samples:
            if sample.id in self.unreferenced:
                file, row = self.unreferenced[sample.id]
                raise file.fail(row, "response", "is missing or empty: BLEU and ROUGE need the reference answer "
                                "(\"response\" or \"answer\"); to grade answers without one, have a judge rate "
                                "them: --judge-strategy llm --judge-model-args '{\"model_id\": ..., \"api_url\": ...}'")

    # --- data
    def selected_subsets(self, args: dict) -> list[str]:
        return list(args.get("subset_list") or [])

    def files(self, root: Path, args: dict) -> dict[str, Path]:
        """subset -> its file: the named subsets, else every .jsonl/.csv file under root."""
        if root.is_file():
            return {_subset_of(root): root}
        if not root.is_dir():
            raise UserDataError(f"general_qa: {root} does not exist; point local_path in --dataset-args at "
                                f"the folder holding your <subset>.jsonl files")
        wanted = self.selected_subsets(args)
        if not wanted:
            wanted = sorted({_subset_of(p) for p in root.iterdir() if p.is_file() and p.suffix in FORMATS})
            if not wanted:
                raise UserDataError(f"general_qa: {root} holds no .jsonl or .csv file; add <subset>.jsonl "
                                    f"with one {{\"query\": ..., \"response\": ...}} object a line")
        out = {}
        for subset in wanted:
            path = find_file(root, f"{subset}_test") or find_file(root, subset)
            if path is None:
                raise UserDataError(f"general_qa: no {subset}.jsonl (or {subset}_test.jsonl, .csv) in {root}; "
                                    f"check subset_list in --dataset-args")
            out[subset] = path
        return out

    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        scorers()  # the scorers' extra is missing: say so before any request
        root = self.root(data_dir, args)
        samples = []
        self.user_files, self.unreferenced = [], {}
        for subset, path in self.files(root, args).items():
            file = read_table(path)
            self.user_files.append(file)
            samples += [self.to_sample(file, subset, i, row, args) for i, row in enumerate(file.rows)]
        return samples

    def to_sample(self, file: UserFile, subset: str, index: int, row: Row, args: dict) -> Sample:
        reference = (text_field(file, row, "answer", required=False)
                     or text_field(file, row, "response", required=False))
        if "messages" in row.fields:
            messages = _messages(file, row)
            if reference is None and messages[-1]["role"] == "assistant":
                reference, messages = messages[-1]["content"], messages[:-1]
            if not messages or messages[-1]["role"] != "user":
                raise file.fail(row, "messages", "must end with the user's question (then, optionally, the "
                                "assistant's reference answer)")
            if args.get("prompt_template"):
                messages[-1] = {"role": "user", "content": args["prompt_template"].format(question=messages[-1]["content"])}
        else:
            query = text_field(file, row, "question", required=False) or text_field(file, row, "query", required=False)
            if query is None:
                raise file.fail(row, "query", "is missing or empty (each record needs a query, a question or "
                                "messages)")
            content = args["prompt_template"].format(question=query) if args.get("prompt_template") else query
            system = text_field(file, row, "system", required=False)
            messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": content}]
        if not any(m["role"] == "system" for m in messages):
            messages = with_system(args, messages)
        sample = Sample(id=f"{subset}/{index}", subset=subset, target=reference or "", messages=messages,
                        metadata={"line": row.line, "question": messages[-1]["content"]})
        if reference is None:
            sample.metadata["no_reference"] = True
            self.unreferenced[sample.id] = (file, row)
        return sample

    # --- scoring
    async def score(self, sample: Sample, output: dict, args: dict, judge: Judge | None = None) -> Score:
        answer = answer_text(output.get("content"), args.get("reasoning_tags"))
        empty = answer is None or not answer.strip()
        extracted = answer if empty else answer.strip()
        question = sample.metadata.get("question", "")
        if sample.metadata.get("no_reference"):  # check_samples let it through: a judge rates it
            if judge is None:
                raise ValueError("this row has no reference answer and no judge rates it")
            verdict = await judge.grade([{"role": "user", "content": EVALSCOPE_NUMERIC_TEMPLATE.format(
                question=question, pred=extracted or "")}], read_rating, EVALSCOPE_NUMERIC_REMINDER)
            return Score(value=verdict.value, extracted=extracted, unparsed=empty,
                         detail={"judge_score": verdict.value, "judge_reply": verdict.text,
                                 "judge_attempts": verdict.attempts, "judge_template": "numeric"})
        values = dict.fromkeys(METRICS, 0.0) if empty else overlap(answer.strip(), str(sample.target))
        if judge is None:
            return Score(value=values[MAIN], extracted=extracted, detail=values, unparsed=empty)
        verdict = await judge.grade([{"role": "user", "content": EVALSCOPE_TEMPLATE.format(
            question=question, gold=sample.target, pred=extracted or "")}],
            read_ab, EVALSCOPE_REMINDER)
        return Score(value=verdict.value, extracted=extracted, unparsed=empty,
                     detail={**values, "judge_score": verdict.value, "judge_reply": verdict.text,
                             "judge_attempts": verdict.attempts})

    def aggregate(self, results: list[Result], args: dict) -> dict:
        judged = any("judge_score" in (r.detail or {}) for r in results)
        main = "acc" if judged else MAIN  # judged: the score is the judge's verdict
        report = accuracy_report(results, metric=main)
        # BLEU/ROUGE over the rows that have a reference (a judge rated the others)
        referenced = [r for r in results if r.score is not None and MAIN in (r.detail or {})]
        per_metric: dict[str, dict[str, list]] = {m: defaultdict(list) for m in METRICS}
        for r in referenced:
            for m in METRICS:
                per_metric[m][r.subset].append((r.sample_id, float(r.detail.get(m, 0.0))))
        report["metrics"] = {m: (sum(v for rows in per_metric[m].values() for _, v in rows) / len(referenced)
                                 if referenced else None) for m in METRICS}
        report["metrics"][f"{main}_macro"] = (sum(s["score"] for s in report["subsets"]) / len(report["subsets"])
                                              if report["subsets"] else None)
        if judged:
            report["metrics"]["acc"] = report["score"]
        if not in_bootstrap():  # one table per metric, a row per subset
            report["groups"] = {m: _table(per_metric[m]) for m in METRICS}
        return report


def _subset_of(path: Path) -> str:
    stem = path.stem
    return stem[: -len("_test")] if stem.endswith("_test") else stem


def _messages(file: UserFile, row: Row) -> list[dict]:
    value = row.fields["messages"]
    if not isinstance(value, list) or not value:
        raise file.fail(row, "messages", "must be a non-empty list of {\"role\": ..., \"content\": ...} objects")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise file.fail(row, f"messages[{i}]", f"must be an object whose role is one of {', '.join(ROLES)}")
        if not isinstance(m.get("content"), str) or not m["content"].strip():
            raise file.fail(row, f"messages[{i}].content", "must be non-empty text")
        out.append({"role": m["role"], "content": m["content"]})
    return out
