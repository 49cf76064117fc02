"""Competition math: AIME 2024, AIME 2025 (`aime24`, `aime25`) and HMMT February 2025 (`hmmt25`).

30 problems each, asked 0-shot, scored by math-verify on the final `\\boxed{}` answer, and
usually asked several times: model cards report avg@k (the mean over k samples of every
problem), so `repeats` is the knob and the report gives avg@k and the unbiased pass@k.

Data: MathArena's copy (eth-sri/matharena, `<exam>/problems/<n>.tex` + `answers.csv` +
`config.yaml`) is the default for all three: one reader, problems keyed by exam and number,
Asymptote figures kept, and the prompt instruction comes from the same folder (`config.yaml`).
The answer is read by the project's math extraction (last `\\boxed{}`, else "the answer is",
else the last number); `strict_parsing: true` accepts only a box, as MathArena's AIME runs do.
AIME also ships QwQ's JSONL (`source: qwq`,
the copy behind Qwen's reported numbers) and AIME 2024 Qwen2.5-Math's (`source: qwen2.5-math`,
the problem texts EvalScope's aime24 uses). Sample ids are the same whichever copy is read
("2024-I-7"), so runs on different copies line up problem by problem.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import ClassVar

from evalpack.benchmarks.math_bench import MathBenchmark
from evalpack.errors import DataMissingError
from evalpack.jsonl import read_jsonl
from evalpack.metrics import pass_at_k
from evalpack.scoring import math_equiv
from evalpack.types import Result, Sample

# Qwen's (QwQ, Qwen2.5-Math) instruction, appended to the problem
QWEN_SUFFIX = "\nPlease reason step by step, and put your final answer within \\boxed{}."
QWEN_PROMPT = "{question}" + QWEN_SUFFIX.replace("{}", "{{}}")


class CompetitionMath(MathBenchmark):
    """Metadata and dataset-args (source, strict_parsing, verify_timeout): registry.py."""

    # folder of each MathArena exam under <dir>/matharena/, and its short label
    exams: ClassVar[dict[str, str]] = {}
    year: ClassVar[str] = ""
    breakdown_fields = {"exam": "exam"}

    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        root = self.root(data_dir, args)
        source = args["source"]
        if source == "matharena":
            problems, instruction = self.read_matharena(root)
            template = args.get("prompt_template") or (instruction.replace("{", "{{").replace("}", "}}")
                                                       + "\n\n{question}")
        else:
            problems = self.read_qwen(root, source)
            template = args.get("prompt_template") or QWEN_PROMPT
        samples = []
        for pid, exam, question, gold in problems:
            messages = [{"role": "user", "content": template.format(question=question)}]
            if args.get("system_prompt"):
                messages.insert(0, {"role": "system", "content": args["system_prompt"]})
            samples.append(Sample(id=pid, subset="default", target=gold, messages=messages,
                                  metadata={"exam": exam, "strict_parsing": args["strict_parsing"],
                                            "question": question, **self.extra_metadata(gold)}))
        return samples

    def extra_metadata(self, gold: str) -> dict:
        return {}

    # --- readers: [(id, exam, problem text, gold answer)]
    def read_matharena(self, root: Path) -> tuple[list[tuple[str, str, str, str]], str]:
        """The problems and the prompt instruction (the same in every exam of a competition)."""
        import yaml

        problems, instruction = [], ""
        for folder, exam in self.exams.items():
            base = root / "matharena" / folder
            answers, config = base / "answers.csv", base / "config.yaml"
            for path in (answers, config):
                if not path.is_file():
                    raise DataMissingError(f"{self.name}: {path} is missing (a file of MathArena's copy); "
                                           f"`evalpack verify {self.name}` lists what else is")
            settings = yaml.safe_load(config.read_text(encoding="utf-8"))
            # the instruction is a Python format string in MathArena ("\\boxed{{}}")
            instruction = settings["instruction"].replace("{{", "{").replace("}}", "}")
            with answers.open(newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    text = (base / "problems" / f"{row['id']}.tex").read_text(encoding="utf-8").strip()
                    problems.append((self.problem_id(exam, row["id"]), exam, text, self.gold(row["answer"])))
        return problems, instruction

    def read_qwen(self, root: Path, source: str) -> list[tuple[str, str, str, str]]:
        raise NotImplementedError

    def problem_id(self, exam: str, number: str | int) -> str:
        return f"{self.year}-{exam}-{number}" if exam else str(number)

    def gold(self, answer) -> str:
        return str(answer).strip()

    # --- scoring: MathBenchmark's, with MathArena's strict rule on request and avg@k / pass@k
    def read_answer(self, sample: Sample, reply: str | None) -> tuple[str | None, str | None]:
        if sample.metadata.get("strict_parsing"):
            # MathArena's strict parsing (its AIME configs): only a \boxed{} answer counts
            boxed = math_equiv.last_boxed(reply or "")
            return (boxed, "boxed") if boxed else (None, None)
        return super().read_answer(sample, reply)

    def aggregate(self, results: list[Result], args: dict) -> dict:
        report = super().aggregate(results, args)
        report["metrics"].update(repeat_metrics(results, int(args.get("repeats") or 1)))
        return report


def repeat_metrics(results: list[Result], repeats: int) -> dict:
    """avg@n (the mean over every sample of every problem: model cards' avg@k) and the unbiased
    pass@k for k = 1, 2, 4, ... and n, over problems with at least k scored samples."""
    by_problem: dict[str, list[bool]] = {}
    for r in results:
        if r.score is not None:
            by_problem.setdefault(r.sample_id, []).append(r.score >= 1.0)
    scored = [ok for oks in by_problem.values() for ok in oks]
    metrics: dict = {f"avg@{repeats}": sum(scored) / len(scored) if scored else None}
    ks = sorted({k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256) if k <= repeats} | {repeats})
    for k in ks:
        per = [pass_at_k(len(v), sum(v), k) for v in by_problem.values() if len(v) >= k]
        metrics[f"pass@{k}"] = sum(per) / len(per) if per else None
    return metrics


class AIME(CompetitionMath):
    # QwQ's file and the (exam, problem) of each of its rows, in order
    qwq_file: ClassVar[str] = ""
    qwq_order: ClassVar[list[tuple[str, int]]] = []

    def gold(self, answer) -> str:
        return str(int(str(answer).strip()))  # "025" (MathArena, Qwen) and 25 (QwQ) are one answer

    def read_qwen(self, root: Path, source: str) -> list[tuple[str, str, str, str]]:
        rows = read_jsonl(root / "qwq" / self.qwq_file)
        if len(rows) != len(self.qwq_order):
            raise DataMissingError(f"{self.name}: qwq/{self.qwq_file} has {len(rows)} rows, "
                                   f"expected {len(self.qwq_order)}")
        return [(self.problem_id(exam, n), exam, _without_suffix(r["prompt"]), self.gold(r["answer"]))
                for (exam, n), r in zip(self.qwq_order, rows)]


class AIME24(AIME):
    name = "aime24"
    year = "2024"
    exams = {"aime_2024_I": "I", "aime_2024_II": "II"}
    qwq_file = "aime24.jsonl"
    # the AoPS order: per exam, problem numbers sorted as text (1, 10, ..., 15, 2, ..., 9)
    qwq_order = [(exam, int(n)) for exam in ("I", "II") for n in sorted(map(str, range(1, 16)))]

    def read_qwen(self, root: Path, source: str) -> list[tuple[str, str, str, str]]:
        if source != "qwen2.5-math":
            return super().read_qwen(root, source)
        out = []
        for r in read_jsonl(root / "qwen2.5-math" / "test.jsonl"):  # its AoPS url names exam and problem
            m = re.search(r"AIME_(I+)_Problems/Problem_(\d+)", r["url"])
            out.append((self.problem_id(m.group(1), m.group(2)), m.group(1), r["problem"], self.gold(r["answer"])))
        return out


class AIME25(AIME):
    name = "aime25"
    year = "2025"
    exams = {"aime_2025_I": "I", "aime_2025_II": "II"}
    qwq_file = "aime25.jsonl"
    qwq_order = [(exam, n) for exam in ("I", "II") for n in range(1, 16)]  # exam order


class HMMT25(CompetitionMath):
    name = "hmmt25"
    year = "2025"
    exams = {".": ""}
    breakdown_fields = {"answer_type": "answer_type"}

    def problem_id(self, exam: str, number: str | int) -> str:
        return f"hmmt_feb_2025-{number}"

    def extra_metadata(self, gold: str) -> dict:
        return {"answer_type": "integer" if re.fullmatch(r"-?\d+", gold) else "expression"}


def _without_suffix(prompt: str) -> str:
    return prompt[:-len(QWEN_SUFFIX)] if prompt.endswith(QWEN_SUFFIX) else prompt
