"""MBPP (Austin et al., 2021): ~1,000 entry-level Python tasks, each with three test asserts.

Data: Google's `mbpp.jsonl` (974 tasks; subset `full`, test split = ids 11-510, 500 tasks) and
`sanitized-mbpp.json` (427 hand-verified; subset `sanitized`, its 257 test tasks).
Prompt: the paper's 3-shot prompt (tasks 2, 3 and 4 as the examples, in EvalScope's exact
text), "You are an expert Python programmer, and here is your task: {text} Your code should
pass these tests:\n\n{tests}\n[BEGIN]\n", in one user message.
Score: the code (cut at [DONE], taken out of fences or prose, top-level asserts and
`__main__` blocks dropped) runs in the sandbox, followed by the task's test_setup_code (full) or
test_imports (sanitized) and its test asserts; it passes when the program exits 0.
The 11 full-set test tasks with a challenge_test_list also run those, reported apart.
Aggregate: pass@k over `n` samples (like humaneval), per subset.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from evalpack.benchmarks.base import Result, Sample, Score
from evalpack.benchmarks.humaneval import HumanEval
from evalpack.errors import DataMissingError
from evalpack.scoring.code_extract import drop_asserts, drop_main_guard, extract_code
from evalpack.scoring.sandbox import PASSED, get_sandbox, run_program

TASK = ("You are an expert Python programmer, and here is your task: {text} Your code should pass "
        "these tests:\n\n{tests}\n[BEGIN]\n")
SHOT_IDS = (2, 3, 4)
TEST_IDS = range(11, 511)
FILES = {"full": "mbpp.jsonl", "sanitized": "sanitized-mbpp.json"}


class MBPP(HumanEval):
    name = "mbpp"
    title = "MBPP"
    description = "Mostly Basic Python Problems: 3-shot, scored by the task's asserts in a sandbox"
    metric = "pass@1"
    split = "test"
    subsets = ("full", "sanitized")
    # EvalScope's mbpp runs the full set; {"subset_list": ["sanitized"]} for the hand-verified one
    default_args = {"subset_list": ["full"], "n": 1, "timeout": 20.0, "sandbox": None}

    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        get_sandbox(args.get("sandbox") or "local")
        root = self.root(data_dir, args)
        full = {r["task_id"]: r for r in read_full(root)}
        template = args.get("prompt_template")
        shots = "".join(shot(full[i]) for i in SHOT_IDS)
        system = args.get("system_prompt")
        samples = []
        for subset in self.selected_subsets(args):
            records = full.values() if subset == "full" else read_sanitized(root)
            for rec in records:
                if rec["task_id"] not in TEST_IDS:
                    continue
                text = rec.get("text") if subset == "full" else rec["prompt"]
                tests = "\n".join(rec["test_list"])
                content = (template.format(query=text, tests=tests) if template
                           else shots + TASK.format(text=text, tests=tests))
                messages = [{"role": "user", "content": content}]
                if system:
                    messages.insert(0, {"role": "system", "content": system})
                setup = rec.get("test_setup_code") or "\n".join(rec.get("test_imports") or [])
                samples.append(Sample(
                    id=f"{subset}/{rec['task_id']}", subset=subset, target=rec["code"], messages=messages,
                    metadata={"task_id": rec["task_id"], "setup": setup, "tests": rec["test_list"],
                              "challenge_tests": rec.get("challenge_test_list") or []}))
        return samples

    async def score(self, sample: Sample, output: dict, args: dict) -> Score:
        meta = sample.metadata
        code = completion_code(output.get("content"))
        engine = args.get("sandbox") or "local"
        result = await run_program(build_program(meta["setup"], code, meta["tests"]),
                                   timeout=float(args["timeout"]), engine=engine)
        detail = {"status": result.status, "reason": result.detail,
                  "stderr_tail": result.stderr_tail[-2000:], "duration_s": result.duration_s,
                  "engine": result.engine, "isolation": result.isolation}
        if meta.get("challenge_tests"):
            challenge = await run_program(build_program(meta["setup"], code, meta["challenge_tests"]),
                                          timeout=float(args["timeout"]), engine=engine)
            detail["challenge_status"] = challenge.status
        return Score(value=1.0 if result.status == PASSED else 0.0, extracted=code, detail=detail,
                     unparsed=not code.strip())

    def aggregate(self, results: list[Result], args: dict) -> dict:
        report = super().aggregate(results, args)
        challenge = Counter(r.detail["challenge_status"] for r in results if r.detail.get("challenge_status"))
        if challenge:
            report["challenge_status_counts"] = dict(challenge)
            report["notes"].insert(1, "challenge tests (11 full-set tasks, not in the score): "
                                      + ", ".join(f"{n} {s}" for s, n in sorted(challenge.items())))
        return report


def shot(rec: dict) -> str:
    """One worked example, as EvalScope writes it (the upstream code, its tests' and its
    trailing spaces stripped)."""
    tests = "\n".join(t.strip() for t in rec["test_list"])
    return TASK.format(text=rec["text"], tests=tests) + rec["code"].rstrip() + "\n[DONE]\n"


def read_full(root: Path) -> list[dict]:
    path = root / FILES["full"]
    if not path.is_file():
        raise DataMissingError(f"mbpp: {path} is missing (Google's mbpp.jsonl; `evalpack pack mbpp` carries it)")
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_sanitized(root: Path) -> list[dict]:
    path = root / FILES["sanitized"]
    if not path.is_file():
        raise DataMissingError(f"mbpp: {path} is missing (Google's sanitized-mbpp.json)")
    return json.loads(path.read_text(encoding="utf-8"))


def completion_code(text: str | None) -> str:
    """The code of a reply: up to [DONE] (the prompt's end marker), out of fences or prose,
    without top-level asserts (a model restating the tests) or `__main__` demo blocks."""
    text = (text or "").replace("[BEGIN]", "")
    if "[DONE]" in text:
        text = text[:text.index("[DONE]")]
    return drop_asserts(drop_main_guard(extract_code(text)))


def build_program(setup: str, code: str, tests: list[str]) -> str:
    """code, then the setup, then the asserts: task 367's and 927's setup builds trees of the
    solution's own Node class, so it must follow the code (EvalScope puts it first, which
    fails their canonical solutions)."""
    return "\n".join([code, setup, *tests]) + "\n"
