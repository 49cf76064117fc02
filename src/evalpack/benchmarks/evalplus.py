"""HumanEval+ and MBPP+ (EvalPlus, Liu et al., 2023): the original tasks with many more test inputs.

Data: evalplus's release files (HumanEvalPlus v0.1.10: 164 tasks; MbppPlus v0.2.0: 378),
each task with `base_input` (the original tests' inputs), `plus_input` (EvalPlus's), the
canonical solution and `atol`.
Prompt: humaneval_plus as EvalScope's humaneval_plus (the HumanEval template on the task's
prompt); mbpp_plus as evalplus's own chat prompt (its instruction, then the task's docstring
in a fence).
Score (evalplus's semantics): the expected outputs are the canonical solution's on each input,
computed once per task and run, in the sandbox, with its time per input; the completion runs
on the base inputs, then on the plus inputs, in the sandbox, under evalplus's per-input time
limits, and its outputs are compared there-after by evalplus's rules
(evalpack.scoring.evalplus_check). base passes when every base input matches; the sample
passes ("plus") when base and plus both do.
Aggregate: unbiased pass@k (k = 1, 5, 10 <= n) for plus (the score) and for base.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from evalpack.benchmarks.base import Result, Sample, Score
from evalpack.benchmarks.humaneval import PROMPT as HUMANEVAL_PROMPT
from evalpack.benchmarks.humaneval import HumanEval, execution_notes, pass_at_ks, program_body
from evalpack.errors import DataMissingError, UsageError
from evalpack.metrics import accuracy_report
from evalpack.scoring import diff_harness
from evalpack.scoring.code_extract import extract_code
from evalpack.scoring.evalplus_check import (MBPP_OUTPUT_NOT_NONE, Verdict, check_phase, phase_budget,
                                             time_limits)
from evalpack.scoring.sandbox import FAILED, PASSED, SANDBOX_ERROR, STATUSES, TIMED_OUT, get_sandbox, run_program

EVALPLUS_INSTRUCTION = ("Please provide a self-contained Python script that solves the following problem "
                        "in a markdown code block:")
EVALPLUS_PROMPT = EVALPLUS_INSTRUCTION + "\n```python\n{query}\n```"  # evalplus's OpenAI chat prompt
PHASES = ("base", "plus")
REFERENCE_TIMEOUT_S = 600.0  # the canonical solution on all inputs of one task (slowest: ~45 s)
STARTUP_SLACK_S = 10.0  # interpreter start and decoding the inputs, beyond the phases' budgets
MEMORY_BYTES = 4 << 30  # evalplus's address-space limit (EVALPLUS_MAX_MEMORY_BYTES)
OUTPUT_BYTES = 256 << 20  # the largest report of outputs accepted from one program


@dataclass
class TaskTests:
    task_id: str
    prompt: str
    entry_point: str
    reference: str  # prompt + canonical solution
    atol: float
    inputs: dict  # phase -> list of input argument lists (Python values)
    encoded: dict  # phase -> the same, in the harness's codec


_TASKS: dict[tuple[str, str], dict[str, TaskTests]] = {}
_EXPECTED: dict[tuple, dict] = {}  # (file, task, engine) -> {"phase": (outputs, times)} | {"error"}
_PENDING: dict[tuple, asyncio.Future] = {}


class EvalPlusBenchmark(HumanEval):
    evalplus_dataset = ""  # evalplus's name for it: "humaneval" | "mbpp"
    files: dict[str, str] = {}  # version -> file name
    prompt = HUMANEVAL_PROMPT
    default_args = {"subset_list": None, "n": 1, "sandbox": None, "version": "default",
                    "min_time_limit": 4.0, "gt_time_limit_factor": 4.0, "timeout_per_task": 60.0}
    positive_number_args = ("min_time_limit", "gt_time_limit_factor", "timeout_per_task")

    def resolve_args(self, user_args: dict | None) -> dict:
        args = super().resolve_args(user_args)
        if args["version"] not in self.files:
            raise UsageError(f"--dataset-args: {self.name} version must be one of "
                             f"{', '.join(self.files)}, got {args['version']!r}")
        return args

    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        get_sandbox(args.get("sandbox") or "local")  # no usable sandbox: stop before any request
        path = self.root(data_dir, args) / self.files[args["version"]]
        template = args.get("prompt_template") or self.prompt
        system = args.get("system_prompt")
        samples = []
        for task in self.tasks(path).values():
            messages = [{"role": "user", "content": template.format(query=self.query(task))}]
            if system:
                messages.insert(0, {"role": "system", "content": system})
            samples.append(Sample(
                id=task.task_id, subset=self.subsets[0], target=task.reference[len(task.prompt):],
                messages=messages,
                metadata={"prompt": task.prompt, "entry_point": task.entry_point, "tests_file": str(path),
                          "num_inputs": {p: len(task.inputs[p]) for p in PHASES}}))
        return samples

    def query(self, task: TaskTests) -> str:
        return task.prompt

    def tasks(self, path: Path) -> dict[str, TaskTests]:
        key = (str(path), self.evalplus_dataset)
        if key not in _TASKS:
            if not path.is_file():
                raise DataMissingError(f"{self.name}: {path} is missing (evalplus's release file; "
                                       f"`evalpack pack {self.name}` carries it)")
            with gzip.open(path, "rt", encoding="utf-8") as f:
                records = [json.loads(line) for line in f if line.strip()]
            _TASKS[key] = {r["task_id"]: self.to_task(r) for r in records}
        return _TASKS[key]

    def to_task(self, rec: dict) -> TaskTests:
        inputs = {p: self.deserialize(rec["task_id"], list(rec[f"{p}_input"])) for p in PHASES}
        return TaskTests(task_id=rec["task_id"], prompt=rec["prompt"], entry_point=rec["entry_point"],
                         reference=rec["prompt"] + rec["canonical_solution"], atol=rec["atol"],
                         inputs=inputs, encoded={p: diff_harness.encode(v) for p, v in inputs.items()})

    def deserialize(self, task_id: str, inputs: list) -> list:
        return inputs

    async def score(self, sample: Sample, output: dict, args: dict) -> Score:
        meta = sample.metadata
        task = self.tasks(Path(meta["tests_file"]))[sample.id]
        engine = args.get("sandbox") or "local"
        code = extract_code(output.get("content"), task.entry_point)
        program = program_body(task.prompt, code, task.entry_point)
        expected = await self.expected(task, meta["tests_file"], engine)
        if "error" in expected:
            detail = {"status": SANDBOX_ERROR, "base_status": SANDBOX_ERROR, "plus_status": SANDBOX_ERROR,
                      "reason": expected["error"], "stderr_tail": expected.get("stderr_tail", "")}
            return Score(value=0.0, extracted=code, detail=detail, unparsed=not code.strip())
        phases = []
        for p in PHASES:
            limits = time_limits(expected[p][1], args["min_time_limit"], args["gt_time_limit_factor"])
            phases.append({"name": p, "inputs": task.encoded[p], "limits": limits,
                           "budget": phase_budget(limits, args["timeout_per_task"])})
        # + the time the reference run spent outside the function (decoding inputs, encoding
        # outputs: tens of seconds for Mbpp/255's 1.6M-tuple outputs), twice
        wall = sum(p["budget"] for p in phases) + STARTUP_SLACK_S + 2 * expected["overhead_s"]
        request = {"mode": "candidate", "code": program, "entry_point": task.entry_point, "phases": phases}
        result = await run_program(diff_harness.program(json.dumps(request)), timeout=wall, engine=engine,
                                   cpu_seconds=wall, memory_bytes=MEMORY_BYTES, output_bytes=OUTPUT_BYTES,
                                   tail_bytes=OUTPUT_BYTES)
        verdicts = self.verdicts(task, expected, result)
        base, plus = verdicts["base"], verdicts["plus"]
        status = PASSED if base[0] == plus[0] == PASSED else next(s for s, _ in (base, plus) if s != PASSED)
        phase = "base" if base[0] != PASSED else "plus"
        failing = verdicts[phase][1]
        detail = {"status": status, "base_status": base[0], "plus_status": plus[0],
                  "reason": "" if status == PASSED else f"{phase}: {failing.reason}",
                  "failed_input": None if status == PASSED else failed_input(task, phase, failing),
                  "stderr_tail": result.stderr_tail[-2000:] if result.status != PASSED else "",
                  "duration_s": result.duration_s, "engine": result.engine, "isolation": result.isolation}
        return Score(value=1.0 if status == PASSED else 0.0, extracted=code, detail=detail,
                     unparsed=not code.strip())

    def verdicts(self, task: TaskTests, expected: dict, result) -> dict[str, tuple[str, Verdict]]:
        """phase -> (status, verdict) from the program's report."""
        if result.status == SANDBOX_ERROR:
            return {p: (SANDBOX_ERROR, Verdict(False, None, result.detail)) for p in PHASES}
        try:
            records = {r["phase"]: r for r in diff_harness.parse_records(result.stdout_tail, PHASES)}
            outputs = {p: [diff_harness.from_plain(o) for o in r["outputs"]] for p, r in records.items()}
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            why = f"the program's report is unreadable ({str(exc)[:200]}); {result.detail}".rstrip("; ")
            return {p: (FAILED, Verdict(False, None, why)) for p in PHASES}
        out = {}
        for p in PHASES:
            if p not in records:  # killed before it got there
                why = result.detail or "no report"
                out[p] = (TIMED_OUT if result.status == TIMED_OUT else FAILED, Verdict(False, 0, why))
                continue
            rec = records[p]
            stopped = None if rec["status"] == "ok" else rec
            verdict = check_phase(self.evalplus_dataset, task.entry_point, task.inputs[p], outputs[p],
                                  expected[p][0], task.atol, stopped)
            if verdict.passed:
                out[p] = (PASSED, verdict)
            elif stopped and verdict.failed_at == rec.get("failed_at") and rec["status"] == "timeout":
                out[p] = (TIMED_OUT, verdict)
            else:
                out[p] = (FAILED, verdict)
        return out


    async def expected(self, task: TaskTests, tests_file: str, engine: str) -> dict:
        """The canonical solution's outputs and times per phase, computed once per task."""
        key = (tests_file, task.task_id, engine)
        if key in _EXPECTED:
            return _EXPECTED[key]
        loop = asyncio.get_running_loop()
        pending = _PENDING.get(key)
        if pending is None or pending.get_loop() is not loop:
            pending = _PENDING[key] = loop.create_future()
            try:
                pending.set_result(await self._run_reference(task, engine))
            except BaseException as exc:
                pending.set_exception(exc)
                pending.exception()  # retrieved here; waiters get it from their own await
                del _PENDING[key]
                raise
            _EXPECTED[key] = pending.result()
            return _EXPECTED[key]
        return await asyncio.shield(pending)

    async def _run_reference(self, task: TaskTests, engine: str) -> dict:
        request = {"mode": "reference", "code": task.reference, "entry_point": task.entry_point,
                   "output_not_none": self.evalplus_dataset == "mbpp" and task.entry_point in MBPP_OUTPUT_NOT_NONE,
                   "phases": [{"name": p, "inputs": task.encoded[p]} for p in PHASES]}
        result = await run_program(diff_harness.program(json.dumps(request)), timeout=REFERENCE_TIMEOUT_S,
                                   engine=engine, cpu_seconds=REFERENCE_TIMEOUT_S, memory_bytes=MEMORY_BYTES,
                                   output_bytes=OUTPUT_BYTES, tail_bytes=OUTPUT_BYTES)
        try:
            records = diff_harness.parse_records(result.stdout_tail, PHASES)
        except ValueError as exc:
            records, result.detail = [], f"{result.detail} {exc}".strip()
        done = {r["phase"]: r for r in records}
        if result.status != PASSED or set(done) != set(PHASES) or any(r["status"] != "ok" for r in records):
            bad = next((r for r in records if r["status"] != "ok"), None)
            why = f"{bad['phase']} {bad['error']}" if bad else (result.detail or result.status)
            return {"error": f"the canonical solution of {task.task_id} did not run: {why}",
                    "stderr_tail": result.stderr_tail[-2000:]}
        expected = {p: ([diff_harness.from_plain(o) for o in done[p]["outputs"]], done[p]["times"]) for p in PHASES}
        expected["overhead_s"] = max(0.0, result.duration_s - sum(sum(done[p]["times"]) for p in PHASES))
        return expected

    def aggregate(self, results: list[Result], args: dict) -> dict:
        report = accuracy_report(results, metric=self.metric)
        repeats = int(args.get("repeats") or 1)
        plus: dict[str, list[bool]] = defaultdict(list)
        base: dict[str, list[bool]] = defaultdict(list)
        for r in results:
            plus[r.sample_id].append(r.score is not None and r.score >= 1.0)
            base[r.sample_id].append(r.score is not None and r.detail.get("base_status") == PASSED)
        metrics = {**pass_at_ks(plus, repeats), **pass_at_ks(base, repeats, prefix="base_")}
        report["metrics"] = metrics
        report["score"] = metrics.get("pass@1")
        report["num_tasks"] = len(plus)
        statuses = Counter(r.detail.get("status", "unknown") for r in results)
        report["status_counts"] = {s: statuses.get(s, 0) for s in STATUSES}
        for phase in PHASES:
            counts = Counter(r.detail.get(f"{phase}_status", "unknown") for r in results)
            report[f"{phase}_status_counts"] = {s: counts.get(s, 0) for s in STATUSES}
        notes = execution_notes(results, report["status_counts"])
        notes.insert(1, "base tests: " + ", ".join(f"{n} {s.replace('_', ' ')}"
                                                  for s, n in report["base_status_counts"].items()))
        report["notes"] = notes
        return report


def failed_input(task: TaskTests, phase: str, verdict: Verdict, limit: int = 300) -> str | None:
    index = verdict.failed_at
    if index is None or not 0 <= index < len(task.inputs[phase]):
        return None
    text = repr(task.inputs[phase][index])
    return f"{phase}[{index}] {text if len(text) <= limit else text[:limit] + '...'}"


class HumanEvalPlus(EvalPlusBenchmark):
    name = "humaneval_plus"
    title = "HumanEval+"
    description = "HumanEval with EvalPlus's extra tests (80x more inputs), differential testing in a sandbox"
    metric = "pass@1"
    subsets = ("default",)
    data_dirname = "humanevalplus"
    evalplus_dataset = "humaneval"
    files = {"default": "HumanEvalPlus.jsonl.gz", "noextreme": "HumanEvalPlus-NoExtreme.jsonl.gz",
             "mini": "HumanEvalPlus-Mini.jsonl.gz"}


class MbppPlus(EvalPlusBenchmark):
    name = "mbpp_plus"
    title = "MBPP+"
    description = "378 MBPP tasks with EvalPlus's extra tests, differential testing in a sandbox"
    metric = "pass@1"
    subsets = ("default",)
    data_dirname = "mbppplus"
    evalplus_dataset = "mbpp"
    files = {"default": "MbppPlus.jsonl.gz", "noextreme": "MbppPlus-NoExtreme.jsonl.gz"}
    prompt = EVALPLUS_PROMPT

    def query(self, task: TaskTests) -> str:
        return task.prompt.strip()

    def deserialize(self, task_id: str, inputs: list) -> list:
        return mbpp_inputs(int(task_id.split("/")[-1]), inputs)


def _tuples(lst):
    return [tuple(x) for x in lst]


def _deep_tuple(x):
    return tuple(_deep_tuple(i) for i in x) if isinstance(x, list) else x


# evalplus's mbpp_deserialize_inputs: JSON has no tuples, sets or complex numbers, so the
# release stores them as lists / strings and these tasks convert them back.
_TUPLE_ARGS = {2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630,
               726, 740, 744, 809}
_LIST_OF_TUPLES_ARGS = {63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780}
_FIRST_LIST_OF_TUPLES = {75, 413, 444, 753}
_SECOND_TUPLE = {106, 750}
_FIRST_TUPLE = {250, 405, 446, 617, 720, 763, 808}
_TUPLE_OF_TUPLES = {259, 401, 445}
_ALL_TUPLES = {580, 615, 791}


def mbpp_inputs(task: int, inputs: list) -> list:
    if task in _TUPLE_ARGS:
        return [[tuple(lst) for lst in inp] for inp in inputs]
    if task in _LIST_OF_TUPLES_ARGS:
        return [[_tuples(lst_lst) for lst_lst in inp] for inp in inputs]
    if task in _FIRST_LIST_OF_TUPLES:
        return [[_tuples(inp[0])] + [inp[1]] for inp in inputs]
    if task in _SECOND_TUPLE:
        return [[inp[0]] + [tuple(inp[1])] for inp in inputs]
    if task == 115:  # an empty list stands for an empty dict, as evalplus reads it
        return [[[set(item) if isinstance(item, list) and len(item) else {} for item in inp[0]]]
                for inp in inputs]
    if task == 124:
        return [(float(inp[0]), complex(inp[1])) for inp in inputs]
    if task in _FIRST_TUPLE:
        return [[tuple(inp[0])] + [inp[1]] for inp in inputs]
    if task in _TUPLE_OF_TUPLES:
        return [[tuple(lst) for lst in [_tuples(lst_lst) for lst_lst in inp]] for inp in inputs]
    if task == 278:  # evalplus's two steps: [[items]], then [tuple(items)]
        return [[tuple(tuple(i) if isinstance(i, list) else i for i in inp[0])] for inp in inputs]
    if task == 307:
        return [[tuple(inp[0])] + [inp[1], inp[2]] for inp in inputs]
    if task == 722:
        return [[{k: tuple(v) for k, v in inp[0].items()}] + inp[1:] for inp in inputs]
    if task == 252:
        return [[complex(inp[0])] for inp in inputs]
    if task in _ALL_TUPLES:
        return [_deep_tuple(inp) for inp in inputs]
    return inputs
