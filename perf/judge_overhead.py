"""What does the judge add to a run's wall time, with its calls overlapping the model's?

Usage: python perf/judge_overhead.py [--samples 200] [--model-latency 0.2] [--judge-latency 0.2]
                                     [--concurrency 16] [--judge-workers 16]

Starts two `evalpack mock` servers on 127.0.0.1 (the evaluated model, and a judge answering
"A"), each with a fixed latency per reply, and runs SimpleQA on the first N questions twice:
with a judge that answers at once (latency 0: the run without a judge step, as near as the
benchmark allows) and with the judge's latency. Prints each run's dataset time (report.json
meta.dataset_seconds; medians of --rounds interleaved runs) and the difference, next to what a serial judging pass after the model
would add (N x judge latency / judge workers). Needs ../shared/datasets/simpleqa.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from support import start_mock

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("EVALPACK_SHARED", REPO.parent / "shared")) / "datasets"
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}


def mock(model: str, latency: float, answer: str) -> tuple[subprocess.Popen, str]:
    proc, port = start_mock("--model", model, "--latency", str(latency), "--answer", answer, env=ENV,
                            probe="/mock/stats")
    return proc, f"http://127.0.0.1:{port}/v1"


def run(model_url: str, judge_url: str, args, work: Path) -> float:
    proc = subprocess.run([sys.executable, "-m", "evalpack", "eval", "--model", "m", "--api-url", model_url,
                           "--datasets", "simpleqa", "--dataset-dir", str(DATASETS), "--limit", str(args.samples),
                           "--work-dir", str(work), "--fresh", "--quiet", "--eval-batch-size", str(args.concurrency),
                           "--judge-model", "j", "--judge-api-url", judge_url,
                           "--judge-worker-num", str(args.judge_workers)],
                          env=ENV, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    run_dir = Path(proc.stdout.strip().splitlines()[-1].split(": ", 1)[1])
    return json.loads((run_dir / "report.json").read_text())["meta"]["dataset_seconds"]["simpleqa"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--model-latency", type=float, default=0.2)
    ap.add_argument("--judge-latency", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--judge-workers", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3, help="runs of each kind, interleaved; medians are printed")
    args = ap.parse_args()
    procs = []
    try:
        model, model_url = mock("m", args.model_latency, "Paris")
        instant, instant_url = mock("j", 0.0, "A")
        slow, slow_url = mock("j", args.judge_latency, "A")
        procs = [model, instant, slow]
        with tempfile.TemporaryDirectory() as tmp:
            run(model_url, instant_url, args, Path(tmp) / "warm")  # page cache, bytecode
            bases, judgeds = [], []
            for i in range(args.rounds):  # interleaved: a loaded machine slows both kinds alike
                bases.append(run(model_url, instant_url, args, Path(tmp) / f"a{i}"))
                judgeds.append(run(model_url, slow_url, args, Path(tmp) / f"b{i}"))
            base, judged = statistics.median(bases), statistics.median(judgeds)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    serial = args.samples * args.judge_latency / args.judge_workers
    model_only = args.samples * args.model_latency / args.concurrency
    print(f"{args.samples} SimpleQA samples; model latency {args.model_latency}s x concurrency {args.concurrency} "
          f"(model calls alone >= {model_only:.2f}s); judge latency {args.judge_latency}s x {args.judge_workers} workers")
    print(f"judge answering at once : {base:.2f}s (runs: {', '.join(f'{x:.2f}' for x in bases)})")
    print(f"judge with its latency  : {judged:.2f}s (runs: {', '.join(f'{x:.2f}' for x in judgeds)})")
    print(f"added by the judge      : {judged - base:.2f}s (a serial judging pass after the model would add "
          f">= {serial:.2f}s)")


if __name__ == "__main__":
    main()
