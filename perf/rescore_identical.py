"""Proof that a refactor preserves behaviour: stored runs of every benchmark, rescored (and
re-evaluated) by another checkout, give the same report.json, sample exports and requests.

    python perf/rescore_identical.py record DIR    # with the checkout BEFORE the change
    python perf/rescore_identical.py check DIR     # with the checkout AFTER it (--src PATH/src)

`record` evaluates every benchmark against `evalpack mock` (replies from
perf/rescore_responder.py: varied answer styles and reasoning decoys; the tests' responders
for BFCL, tau-bench) with a small --limit, keeps each run directory under DIR/runs, then
rescores a copy and keeps its report.json and samples/*.jsonl as DIR/golden. `check` rescores
a fresh copy of each stored run with the checkout under test and compares byte for byte
(after dropping the rescore's own timestamp, and HumanEval's program durations); with
`--eval` it also re-runs each evaluation and compares its report.json and every request
body sent to the model (run.db `calls`).
DIR is outside the repository (runs are megabytes). Needs docker only for swe_bench_verified_mini.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path

from support import start_mock

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
TESTS = REPO / "tests"
DATASETS = Path(os.environ.get("EVALPACK_SHARED", REPO.parent / "shared")) / "datasets"
GENERIC = f"{HERE / 'rescore_responder.py'}:respond"
BFCL_CATS = ["simple_python", "simple_java", "multiple", "parallel", "irrelevance", "live_simple",
             "live_relevance", "multi_turn_base", "multi_turn_miss_func"]


def cases(work: Path) -> list[dict]:
    """label -> how to run it. `prepare` makes any data the run needs under `work`."""
    lb = work / "data" / "longbench"
    swe_repo = work / "data" / "tinycalc"
    swe_args = {"local_path": str(TESTS / "fixtures" / "swe_synthetic"),
                "extra_params": {"repos": {"evalpack/tinycalc": str(swe_repo)}, "timeout": 10}}
    he_file = str(DATASETS / "humaneval" / "HumanEval.jsonl.gz")
    return [
        {"label": "mmlu", "datasets": ["mmlu"], "limit": "2"},
        {"label": "mmlu_0shot", "datasets": ["mmlu"], "limit": "3",
         "args": {"mmlu": {"few_shot_num": 0, "subset_list": ["anatomy", "virology"]}}},
        {"label": "ceval", "datasets": ["ceval"], "limit": "2"},
        {"label": "gpqa_diamond", "datasets": ["gpqa_diamond"], "limit": "8"},
        {"label": "longbench_v2", "datasets": ["longbench_v2"], "dir": lb,
         "args": {"longbench_v2": {"max_input_tokens": 2000}}},
        {"label": "longbench_v2_cot", "datasets": ["longbench_v2"], "dir": lb,
         "args": {"longbench_v2": {"max_input_tokens": 2000, "prompt_mode": "cot"}}},
        {"label": "gsm8k", "datasets": ["gsm8k"], "limit": "12"},
        {"label": "math_500", "datasets": ["math_500"], "limit": "4"},
        {"label": "minerva_math", "datasets": ["minerva_math"], "limit": "12"},
        {"label": "humaneval", "datasets": ["humaneval"], "limit": "9", "env": {"HUMANEVAL_FILE": he_file}},
        {"label": "bfcl_v4", "datasets": ["bfcl_v4"], "limit": "2", "args": {"bfcl_v4": {"subset_list": BFCL_CATS}}},
        {"label": "bfcl_v4_perfect", "datasets": ["bfcl_v4"], "limit": "2",
         "args": {"bfcl_v4": {"subset_list": BFCL_CATS}},
         "responder": f"{TESTS / 'responders' / 'bfcl.py'}:respond",
         "env": {"BFCL_DATA": str(DATASETS / "bfcl_v4"), "BFCL_CATEGORIES": ",".join(BFCL_CATS)}},
        {"label": "tau_bench", "datasets": ["tau_bench"], "limit": "2",
         "responder": f"{TESTS / 'tau_bench_responder.py'}:respond",
         "env": {"TAU_BENCH_DIR": str(DATASETS / "tau_bench"), "TAU_AGENT_MODE": "replay"}},
        {"label": "tau_bench_idle", "datasets": ["tau_bench"], "limit": "2",
         "responder": f"{TESTS / 'tau_bench_responder.py'}:respond",
         "env": {"TAU_BENCH_DIR": str(DATASETS / "tau_bench"), "TAU_AGENT_MODE": "idle"}},
        {"label": "tau2_bench", "datasets": ["tau2_bench"], "limit": "2",
         "args": {"tau2_bench": {"subset_list": ["airline", "retail", "telecom"]}},
         "responder": f"{TESTS / 'tau2_bench_responder.py'}:respond",
         "env": {"TAU2_BENCH_DIR": str(DATASETS / "tau2_bench"), "TAU2_AGENT_MODE": "replay"}},
        {"label": "swe_bench_verified_mini", "datasets": ["swe_bench_verified_mini"], "args":
         {"swe_bench_verified_mini": swe_args}, "dir": work / "data" / "empty", "swe_repo": swe_repo},
        {"label": "two_datasets", "datasets": ["gpqa_diamond", "mmlu"], "limit": "1",
         "args": {"mmlu": {"subset_list": ["astronomy"]}}},
    ]


def prepare(work: Path) -> None:
    lb = work / "data" / "longbench" / "longbench_v2"
    if not lb.is_dir():
        shutil.copytree(DATASETS / "longbench_v2" / "prompts", lb / "prompts")
        shutil.copy(TESTS / "fixtures" / "longbench_v2" / "data.json", lb / "data.json")
    (work / "data" / "empty").mkdir(parents=True, exist_ok=True)
    repo = work / "data" / "tinycalc"
    if not repo.is_dir():
        sys.path.insert(0, str(TESTS / "fixtures" / "swe_synthetic"))
        from make_repo import make_repo

        make_repo(repo)


class Mock:
    def __init__(self, src: Path, responder: str, env: dict) -> None:
        self.proc, self.port = start_mock("--responder", responder, env=env, stderr=subprocess.PIPE)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def env_for(src: Path, extra: dict | None = None) -> dict:
    return {**os.environ, "PYTHONPATH": str(src), **(extra or {})}


def evaluate(case: dict, src: Path, work_dir: Path) -> Path:
    env = env_for(src, case.get("env"))
    mock = Mock(src, case.get("responder", GENERIC), env)
    try:
        cmd = [sys.executable, "-m", "evalpack", "eval", "--model", "mock", "--api-url",
               f"http://127.0.0.1:{mock.port}/v1", "--datasets", *case["datasets"],
               "--dataset-dir", str(case.get("dir", DATASETS)), "--work-dir", str(work_dir), "--quiet"]
        if case.get("limit"):
            cmd += ["--limit", case["limit"]]
        if case.get("args"):
            cmd += ["--dataset-args", json.dumps(case["args"])]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    finally:
        mock.stop()
    if done.returncode != 0:
        raise SystemExit(f"{case['label']}: eval failed ({done.returncode}):\n{done.stderr[-3000:]}")
    line = [x for x in done.stdout.splitlines() if x.startswith("run directory: ")][-1]
    path = Path(line.split(": ", 1)[1].strip())
    return path if path.is_absolute() else Path.cwd() / path


def rescore_copy(run: Path, dest: Path, src: Path) -> dict[str, bytes]:
    """Rescore a copy of `run` at `dest` (same path every time, so run_dir is equal)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(run, dest)
    done = subprocess.run([sys.executable, "-m", "evalpack", "rescore", str(dest), "--quiet"],
                          env=env_for(src), capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"rescore of {run} failed:\n{done.stderr[-3000:]}")
    return artefacts(dest)


# Values that differ between two runs of the same code: the sandbox's per-program uid (in
# HumanEval's isolation note) and the tool-call ids the mock makes up.
VOLATILE = [(re.compile(rb"uid \d+"), b"uid N"), (re.compile(rb"call_[0-9a-f]{12}"), b"call_ID")]


def stable(data: bytes) -> bytes:
    for pattern, repl in VOLATILE:
        data = pattern.sub(repl, data)
    return data


# What two evaluations of the same code measure differently: times, and the mock's port.
TIMED = ("latency", "output_throughput", "request_throughput", "total_token_throughput", "wall_seconds",
         "ttft", "tpot", "itl")
RUN_SPECIFIC = ("command", "api_urls", "served_models", "wall_seconds", "started", "finished",
                "dataset_seconds", "requests")


def normalized_report(path: Path, drop_run_dir: bool = False) -> bytes:
    """report.json without its timestamp; for a comparison of two evaluations (`drop_run_dir`),
    also without the run directory, the measured times and the run-specific metadata."""
    report = json.loads(path.read_text(encoding="utf-8"))
    report.pop("created", None)
    if drop_run_dir:
        report.pop("run_dir", None)
        for section in report.get("datasets") or []:
            for key in TIMED:
                (section.get("serving") or {}).pop(key, None)
        for key in RUN_SPECIFIC:
            (report.get("meta") or {}).pop(key, None)
    return stable(json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False).encode())


def normalized_samples(path: Path) -> bytes:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if isinstance(row.get("detail"), dict):
            row["detail"].pop("duration_s", None)  # HumanEval: wall time of the rerun program
        rows.append(json.dumps(row, sort_keys=True, ensure_ascii=False))
    return stable("\n".join(rows).encode())


def artefacts(run: Path) -> dict[str, bytes]:
    out = {"report.json": normalized_report(run / "report.json")}
    for path in sorted((run / "samples").glob("*.jsonl")):
        out[f"samples/{path.name}"] = normalized_samples(path)
    return out


def requests(run: Path) -> bytes:
    db = sqlite3.connect(str(run / "run.db"))
    rows = sorted((b, s, r, (zlib.decompress(q).decode() if isinstance(q, bytes) else q))
                  for b, s, r, q in db.execute("SELECT benchmark, sample_id, repeat, request FROM calls"))
    db.close()
    return stable(json.dumps(rows, ensure_ascii=False).encode())


def save(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


def record(work: Path, src: Path, only: set[str]) -> None:
    prepare(work)
    for case in cases(work):
        if only and case["label"] not in only:
            continue
        started = time.perf_counter()
        evals = work / "evals" / case["label"]
        if evals.exists():
            shutil.rmtree(evals)
        run = evaluate(case, src, evals)
        stored = work / "runs" / case["label"]
        if stored.exists():
            shutil.rmtree(stored)
        shutil.copytree(run, stored)
        golden = work / "golden" / case["label"]
        if golden.exists():
            shutil.rmtree(golden)
        save(golden, rescore_copy(stored, work / "check" / case["label"], src))
        (golden / "eval_report.json").write_bytes(normalized_report(run / "report.json", drop_run_dir=True))
        (golden / "requests.json").write_bytes(requests(run))
        print(f"recorded {case['label']:26} {time.perf_counter() - started:6.1f} s", flush=True)


def check(work: Path, src: Path, only: set[str], also_eval: bool) -> int:
    failed = 0
    for case in cases(work):
        if only and case["label"] not in only:
            continue
        golden = work / "golden" / case["label"]
        got = rescore_copy(work / "runs" / case["label"], work / "check" / case["label"], src)
        want = {str(p.relative_to(golden)): p.read_bytes() for p in golden.rglob("*")
                if p.is_file() and p.name not in ("eval_report.json", "requests.json")}
        diffs = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
        if also_eval:
            evals = work / "evals_check" / case["label"]
            if evals.exists():
                shutil.rmtree(evals)
            run = evaluate(case, src, evals)
            recorded = next((work / "evals" / case["label"]).glob("*/report.json"), golden / "eval_report.json")
            if normalized_report(run / "report.json", drop_run_dir=True) != (
                    normalized_report(recorded, drop_run_dir=True) if recorded.name == "report.json"
                    and recorded.parent.parent.name == case["label"] else recorded.read_bytes()):
                diffs.append("eval: report.json")
            if requests(run) != (golden / "requests.json").read_bytes():
                diffs.append("eval: requests")
        print(f"{case['label']:26} {'identical' if not diffs else 'DIFFERENT: ' + ', '.join(diffs)}", flush=True)
        failed += bool(diffs)
    return 1 if failed else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["record", "check"])
    ap.add_argument("dir", type=Path, help="where runs and golden copies live (outside the repo)")
    ap.add_argument("--src", type=Path, default=REPO / "src", help="the checkout's src/ to run")
    ap.add_argument("--only", nargs="*", default=[], help="labels to run (default: all)")
    ap.add_argument("--eval", action="store_true", help="check: also re-run each evaluation")
    ns = ap.parse_args()
    work = ns.dir.resolve()
    if ns.mode == "record":
        record(work, ns.src.resolve(), set(ns.only))
        return 0
    return check(work, ns.src.resolve(), set(ns.only), ns.eval)


if __name__ == "__main__":
    sys.exit(main())
