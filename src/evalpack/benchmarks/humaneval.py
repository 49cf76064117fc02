"""HumanEval (Chen et al., 2021): 164 hand-written Python functions with unit tests.

Data: the upstream `HumanEval.jsonl.gz` (task_id, prompt, entry_point, canonical_solution,
test). Prompt: 0-shot, one user message asking for the function (EvalScope's template).
Score: the code is cut out of the chat reply (fenced block or bare code, whole function
or only its body), appended to the prompt with the dataset's tests and
`check(entry_point)`, and run in the sandbox (evalpack.scoring.sandbox); the sample
passes when the program exits 0 within the time limit.
Aggregate: unbiased pass@k (k = 1, 5, 10, those <= n) over `n` samples per task, with
the per-status counts (passed / failed / timed out / sandbox error).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from evalpack.benchmarks.base import Benchmark, Result, Sample, Score
from evalpack.errors import DataMissingError, UsageError
from evalpack.jsonl import read_jsonl
from evalpack.metrics import accuracy_report, pass_at_k
from evalpack.scoring.code_extract import as_function_body, defines, drop_main_guard, extract_code
from evalpack.scoring.reasoning import answer_text
from evalpack.scoring.sandbox import PASSED, STATUSES, get_sandbox, run_program

PROMPT = ("Read the following function signature and docstring, and fully implement the function "
          "described. Your response should only contain the code for this function.\n{query}")
KS = (1, 5, 10)
FILE = "HumanEval.jsonl.gz"


class HumanEval(Benchmark):
    name = "humaneval"  # metadata and args (n, timeout, sandbox): registry.py
    scoring_phase = "sandbox"  # the progress line, while programs run

    def resolve_args(self, user_args: dict | None) -> dict:
        args = super().resolve_args(user_args)
        if (user_args or {}).get("repeats") not in (None, args["n"]):
            raise UsageError(f"--dataset-args: for {self.name} give the number of samples per task as "
                             "n, not repeats")
        args["repeats"] = args["n"]
        return args

    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        get_sandbox(args.get("sandbox") or "local")  # no usable sandbox: stop before any request
        root = self.root(data_dir, args)
        template = args.get("prompt_template") or PROMPT
        system = args.get("system_prompt")
        samples = []
        for rec in read_tasks(root):
            messages = [{"role": "user", "content": template.format(query=rec["prompt"])}]
            if system:
                messages.insert(0, {"role": "system", "content": system})
            samples.append(Sample(
                id=rec["task_id"], subset=self.subsets[0], target=rec["canonical_solution"],
                messages=messages,
                metadata={"prompt": rec["prompt"], "test": rec["test"], "entry_point": rec["entry_point"]}))
        return samples

    async def score(self, sample: Sample, output: dict, args: dict) -> Score:
        meta = sample.metadata
        code = extract_code(answer_text(output.get("content"), args.get("reasoning_tags")), meta["entry_point"])
        program = build_program(meta["prompt"], code, meta["test"], meta["entry_point"])
        result = await run_program(program, timeout=float(args["timeout"]),
                                   engine=args.get("sandbox") or "local")
        detail = {"status": result.status, "reason": result.detail,
                  "stderr_tail": result.stderr_tail[-2000:], "duration_s": result.duration_s,
                  "engine": result.engine, "isolation": result.isolation}
        return Score(value=1.0 if result.status == PASSED else 0.0, extracted=code, detail=detail,
                     unparsed=not code.strip())

    def aggregate(self, results: list[Result], args: dict) -> dict:
        report = accuracy_report(results, metric=self.metric)
        by_task: dict[str, list[bool]] = defaultdict(list)
        for r in results:
            by_task[r.sample_id].append(r.score is not None and r.score >= 1.0)
        metrics = pass_at_ks(by_task, int(args.get("repeats") or 1))
        report["metrics"] = metrics
        report["score"] = metrics.get("pass@1")
        report["num_tasks"] = len(by_task)
        statuses = Counter(r.detail.get("status", "unknown") for r in results)
        report["status_counts"] = {s: statuses.get(s, 0) for s in STATUSES}
        report["notes"] = execution_notes(results, report["status_counts"])
        return report


def read_tasks(root: Path) -> list[dict]:
    for path in (root / FILE, root / "HumanEval.jsonl"):
        if path.is_file():
            return read_jsonl(path)
    raise DataMissingError(f"humaneval: {root / FILE} is missing (the upstream file of openai/human-eval)")


def pass_at_ks(by_task: dict[str, list[bool]], repeats: int, prefix: str = "") -> dict:
    """Unbiased pass@k for k in KS (those <= repeats), averaged over tasks."""
    metrics = {}
    for k in KS:
        if k > repeats:
            continue
        per_task = [pass_at_k(len(v), sum(v), k) for v in by_task.values() if len(v) >= k]
        metrics[f"{prefix}pass@{k}"] = sum(per_task) / len(per_task) if per_task else None
    return metrics


def program_body(prompt: str, code: str, entry_point: str) -> str:
    """prompt + completion. A completion that defines the whole function follows the prompt
    as a new definition, so the prompt's imports and helper functions stay available."""
    code = drop_main_guard(code)
    if defines(code, entry_point):
        return prompt + "\n" + code
    return prompt + as_function_body(code)


def build_program(prompt: str, code: str, test: str, entry_point: str) -> str:
    """prompt + completion + tests + check(entry_point), as the reference harness builds it."""
    return f"{program_body(prompt, code, entry_point)}\n{test}\ncheck({entry_point})\n"


def execution_notes(results: list[Result], counts: dict) -> list[str]:
    notes = ["execution: " + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.items())]
    isolation = next((r.detail.get("isolation") for r in results if r.detail.get("isolation")), None)
    engine = next((r.detail.get("engine") for r in results if r.detail.get("engine")), None)
    if isolation:
        notes.append(f"sandbox ({engine}): " + "; ".join(f"{k}: {v}" for k, v in isolation.items()))
    if counts.get("sandbox_error"):
        notes.append(f"{counts['sandbox_error']} programs hit a sandbox error (scored 0); fix the "
                     "sandbox and run `evalpack rescore` on this run")
    shown = 0
    for r in sorted(results, key=lambda r: (r.sample_id, r.repeat)):
        status = r.detail.get("status")
        if status in (None, PASSED) or shown >= 5:
            continue
        reason = r.detail.get("reason") or ""
        last = (r.detail.get("stderr_tail") or "").strip().splitlines()[-1:]
        said = f"{reason}: {last[0][:160]}" if last and reason else (last[0][:160] if last else reason)
        notes.append(f"{r.sample_id} #{r.repeat} {status}: {said}")
        shown += 1
    return notes
