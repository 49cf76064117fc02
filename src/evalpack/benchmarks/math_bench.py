"""Free-form math benchmarks: Minerva-Math, GSM8K, MATH-500.

One base class does the work: a 0-shot prompt asking for step-by-step reasoning and a
final answer in \\boxed{} (EvalScope's template), answer extraction and math-verify
equivalence from `evalpack.scoring.math_equiv`, and accuracy broken down by a metadata
field (course, subject, level). Each dataset only says where its question and gold are.

With `--judge-strategy llm_recall` (EvalScope's), a reply the rule scores wrong is shown to the
judge (EvalScope's default judge template, A = correct, B = incorrect), and the score is the
higher of the two; `llm` asks the judge about every reply. The report then gives both numbers:
`rule_accuracy` (math-verify alone, what a rule-only run reports) and the main score with the
judge, over the same samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from evalpack.benchmarks.base import Benchmark, Result, Sample, Score
from evalpack.errors import UsageError
from evalpack.jsonl import read_jsonl
from evalpack.scoring.reasoning import answer_text
from evalpack.metrics import accuracy_report
from evalpack.scoring import math_equiv
from evalpack.scoring.judge import EVALSCOPE_REMINDER, EVALSCOPE_TEMPLATE, RULE_DEFAULT, Judge, read_ab


PROMPT = "{question}\nPlease reason step by step, and put your final answer within \\boxed{{}}."
FEWSHOT_PROMPT = "Here are some examples of how to solve similar problems:\n\n{fewshot}\n\n" + PROMPT


class MathBenchmark(Benchmark):
    metric = "accuracy"
    scoring_phase = "math-verify"  # what the progress line says while answers are being verified
    judge_policy = RULE_DEFAULT  # the judge only under --judge-strategy llm / llm_recall
    judge_prompt_version = "evalscope DEFAULT_PROMPT_TEMPLATE (A/B); reply's answer part; 3 attempts"
    default_args: ClassVar[dict] = {"subset_list": None, "few_shot_num": 0,
                                    "verify_timeout": math_equiv.DEFAULT_TIMEOUT}
    data_file: ClassVar[str] = "test.jsonl"
    # report group label -> metadata field: each gets its own accuracy table
    breakdown_fields: ClassVar[dict[str, str]] = {}

    # --- what each dataset defines
    def record_to_sample(self, index: int, record: dict) -> Sample:
        """id, subset, gold target and metadata of one upstream record (messages are built here)."""
        raise NotImplementedError

    def question(self, record: dict) -> str:
        return record["problem"]

    def fewshot_records(self, data_dir: Path, n: int) -> list[dict]:
        raise UsageError(f"--dataset-args: {self.name} has no few-shot examples (no train split); "
                         f"set few_shot_num to 0.")

    def fewshot_text(self, record: dict) -> str:
        raise NotImplementedError

    # --- shared machinery
    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        data_dir = self.root(data_dir, args)
        shots = int(args.get("few_shot_num") or 0)
        if shots < 0:
            raise UsageError(f"--dataset-args: few_shot_num for {self.name} must be >= 0, got {shots}.")
        fewshot = "\n\n".join(self.fewshot_text(r) for r in self.fewshot_records(data_dir, shots)) if shots else ""
        template = args.get("prompt_template") or (FEWSHOT_PROMPT if fewshot else PROMPT)
        samples = []
        for index, record in enumerate(read_jsonl(data_dir / self.data_file)):
            sample = self.record_to_sample(index, record)
            text = template.format(question=self.question(record), fewshot=fewshot)
            messages = [{"role": "user", "content": text}]
            if args.get("system_prompt"):
                messages.insert(0, {"role": "system", "content": args["system_prompt"]})
            sample.messages = messages
            sample.metadata.setdefault("question", self.question(record))  # the judge's prompt needs it
            samples.append(sample)
        wanted = args.get("subset_list")
        return [s for s in samples if not wanted or s.subset in wanted]

    def read_answer(self, sample: Sample, reply: str | None) -> tuple[str | None, str | None]:
        """(final answer, how it was found) of a reply; (None, None) when it has none."""
        return math_equiv.extract_answer(reply)

    async def score(self, sample: Sample, output: dict, args: dict, judge: Judge | None = None) -> Score:
        # the one reasoning stripper, with this benchmark's tags; None (unclosed thinking): no answer
        content = answer_text((output or {}).get("content"), args.get("reasoning_tags"))
        answer, method = self.read_answer(sample, content) if content is not None else (None, None)
        verdict = await math_equiv.check_answer(
            sample.target, answer, timeout=float(args.get("verify_timeout") or math_equiv.DEFAULT_TIMEOUT))
        detail = {"gold": sample.target, "method": method, "verdict": verdict.status}
        if verdict.message:
            detail["verifier_message"] = verdict.message
        value = 1.0 if verdict.correct else 0.0
        if judge is not None:
            detail["rule_score"] = value
            if judge.strategy == "llm" or not verdict.correct:  # llm_recall: only where the rule says no
                graded = await judge.grade([{"role": "user", "content": EVALSCOPE_TEMPLATE.format(
                    question=sample.metadata.get("question", ""), gold=sample.target, pred=content or "")}],
                    read_ab, EVALSCOPE_REMINDER)
                detail.update(judge_score=graded.value, judge_reply=graded.text, judge_attempts=graded.attempts)
                value = graded.value if judge.strategy == "llm" else max(value, graded.value)
        return Score(value=value, extracted=answer, detail=detail, unparsed=answer is None)

    def aggregate(self, results: list[Result], args: dict) -> dict:
        groups = {label: (lambda r, f=field: _label(r.metadata.get(f)))
                  for label, field in self.breakdown_fields.items()}
        report = accuracy_report(results, metric=self.metric, groups=groups)
        report["verifier"] = verifier_counts(results)
        rule = [r.detail["rule_score"] for r in results if r.score is not None and "rule_score" in (r.detail or {})]
        if rule:  # judged: the rule-only score of the same samples, to compare with rule-only tools
            report["metrics"]["rule_accuracy"] = sum(rule) / len(rule)
            report["judge_raised"] = sum(  # samples the judge scored right that the rule did not
                1 for r in results if r.score is not None and r.score > (r.detail or {}).get("rule_score", r.score))
        return report


def _label(value) -> str | None:
    return None if value is None else str(value)


def verifier_counts(results: list[Result]) -> dict:
    """How verdicts were reached; timeouts, errors and crashes scored 0 and are counted here."""
    counts: dict[str, int] = {}
    for r in results:
        status = (r.detail or {}).get("verdict", "unknown")
        counts[status] = counts.get(status, 0) + 1
    return dict(sorted(counts.items()))


class MinervaMath(MathBenchmark):
    name = "minerva_math"  # metadata and args: registry.py
    breakdown_fields = {"course": "type"}

    def record_to_sample(self, index: int, record: dict) -> Sample:
        return Sample(id=str(record.get("idx", index)), subset="default",
                      target=math_equiv.gold_from_solution(record["solution"]),
                      metadata={"type": record["type"]})


class GSM8K(MathBenchmark):
    name = "gsm8k"  # metadata and args: registry.py

    def record_to_sample(self, index: int, record: dict) -> Sample:
        return Sample(id=str(index), subset="main", target=math_equiv.gold_from_gsm8k(record["answer"]))

    def question(self, record: dict) -> str:
        return record["question"]

    def fewshot_records(self, data_dir: Path, n: int) -> list[dict]:
        # EvalScope's 4-shot prompt uses the first rows of the train split, in order.
        train = data_dir / "train.jsonl"
        if not train.is_file():
            raise UsageError(f"--dataset-args: gsm8k few_shot_num={n} needs the upstream train split at "
                             f"{train} (grade_school_math/data/train.jsonl); add it or set few_shot_num 0.")
        return read_jsonl(train)[:n]

    def fewshot_text(self, record: dict) -> str:
        reasoning, _, _ = record["answer"].rpartition("####")
        return (f"{record['question']}\n\nReasoning:\n{reasoning.strip()}\n\n"
                f"ANSWER: \\boxed{{{record['answer'].split('####')[-1].strip()}}}")


class Math500(MathBenchmark):
    name = "math_500"  # metadata and args: registry.py
    breakdown_fields = {"subject": "subject"}  # levels are the subsets (EvalScope: "Level 1".."Level 5")

    def record_to_sample(self, index: int, record: dict) -> Sample:
        return Sample(id=record.get("unique_id") or str(index), subset=f"Level {record['level']}",
                      target=record["answer"],
                      metadata={"subject": record["subject"], "level": record["level"]})
