"""`evalpack eval --ray`: sandbox-bound scoring on 1 vs 2 Ray workers, and the driver's serial cost.

    python perf/ray_scaling.py [--dataset-dir ../shared/datasets] [--tasks 40] [--n 10] [--mmlu 2000]

1. HumanEval+ with n=10 (`--tasks` tasks, each answered with its canonical solution by a mock
   server in its own process, so every one of tasks x n programs runs all of its EvalPlus
   inputs in the sandbox): one process without Ray, then a Ray cluster of this machine
   (ray.cluster_utils: a head with no CPU plus 1, then 2 worker nodes of 1 CPU each, so 1 and
   2 worker processes, each running one sandboxed program at a time).
2. The driver's serial cost: `--mmlu` MMLU questions against the instant mock on the 2-worker
   cluster, where the model and scoring cost nothing, so the run's speed is the driver's and
   Ray's; plus the driver's own work per sample (dispatch, store, progress) as it logs it.
Each run gets a fresh work dir (nothing is resumed). Prints one table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import support

REPO = Path(__file__).resolve().parents[1]
os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])

RESPONDER = '''
import gzip, json, os

TASKS = [json.loads(l) for l in gzip.open(os.environ["HUMANEVALPLUS_FILE"], "rt")]

def answer(body):
    text = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    task = next((t for t in TASKS if t["prompt"].strip() in text), None)
    if task is None:  # MMLU
        return "ANSWER: A"
    return "```python\\n" + task["prompt"] + task["canonical_solution"] + "```"
'''


def start_mock(responder: Path, data: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "HUMANEVALPLUS_FILE": str(data / "humanevalplus" / "HumanEvalPlus.jsonl.gz")}
    proc, port = support.start_mock("--responder", f"{responder}:answer", env=env)
    return proc, f"http://127.0.0.1:{port}/v1"


def run_eval(url: str, data: Path, work: Path, dataset: str, args: dict, limit: int,
             ray_address: str | None, concurrency: int = 32) -> dict:
    cmd = [sys.executable, "-m", "evalpack", "eval", "--model", "mock", "--api-url", url,
           "--datasets", dataset, "--dataset-dir", str(data), "--work-dir", str(work),
           "--dataset-args", json.dumps({dataset: args}), "--limit", str(limit), "--quiet",
           "--concurrency", str(concurrency)]
    if ray_address is not None:
        cmd += ["--ray", ray_address]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    run_dir = Path(done.stdout.strip().splitlines()[-1].split("run directory:")[1].strip())
    report = json.loads((run_dir / "report.json").read_text())
    log = (run_dir / "evalpack.log").read_text()
    per_sample = re.findall(r"driver's own work .* ([0-9.]+) ms a sample", log)
    ready = re.findall(r"workers ready .* in ([0-9.]+) s", log)
    samples_seconds = re.findall(r"samples on \d+ workers in ([0-9.]+) s", log)
    seconds = report["meta"]["dataset_seconds"][dataset]
    return {"wall": wall, "dataset_seconds": seconds, "ready": float(ready[-1]) if ready else 0.0,
            "samples_seconds": float(samples_seconds[-1]) if samples_seconds else seconds,
            "score": report["datasets"][0]["score"], "samples": report["datasets"][0]["num_samples"],
            "driver_ms": float(per_sample[-1]) if per_sample else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset-dir", default=str(REPO.parent / "shared" / "datasets"))
    ap.add_argument("--tasks", type=int, default=40, help="HumanEval+ tasks (x n programs)")
    ap.add_argument("--n", type=int, default=10, help="samples per task")
    ap.add_argument("--mmlu", type=int, default=2000, help="MMLU questions for the driver's cost")
    ns = ap.parse_args()
    from ray.cluster_utils import Cluster

    data = Path(ns.dataset_dir).resolve()
    tmp = Path(tempfile.mkdtemp(prefix="ray-scaling-"))
    (tmp / "responder.py").write_text(RESPONDER)
    mock, url = start_mock(tmp / "responder.py", data)
    plus = {"n": ns.n}
    rows = []
    try:
        # no Ray: the sandbox runs one program per core here
        rows.append(("humaneval_plus", "one process, no Ray", run_eval(url, data, tmp / "alone", "humaneval_plus",
                                                                      plus, ns.tasks, None)))
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": 80 << 20})
        try:
            for workers in (1, 2):
                cluster.add_node(num_cpus=1, object_store_memory=80 << 20)
                cluster.wait_for_nodes()
                rows.append(("humaneval_plus", f"Ray, {workers} worker{'s' * (workers > 1)}",
                             run_eval(url, data, tmp / f"ray{workers}", "humaneval_plus", plus, ns.tasks,
                                      cluster.address)))
            mmlu_limit = max(1, ns.mmlu // 57)  # --limit is per subject
            rows.append(("mmlu", "one process, no Ray", run_eval(url, data, tmp / "mmlu-alone", "mmlu", {},
                                                                mmlu_limit, None, concurrency=64)))
            rows.append(("mmlu", "Ray, 2 workers", run_eval(url, data, tmp / "mmlu-ray", "mmlu", {}, mmlu_limit,
                                                          cluster.address, concurrency=64)))
        finally:
            cluster.shutdown()
    finally:
        mock.terminate()
        mock.wait(10)
    # "ready": Ray workers started, data verified and loaded on each; "samples s": after that
    print(f"{'dataset':15} {'how':22} {'samples':>7} {'ready s':>7} {'samples s':>9} {'samples/s':>9} "
          f"{'wall s':>7} {'score':>6} {'driver ms/sample':>16}")
    for dataset, how, r in rows:
        print(f"{dataset:15} {how:22} {r['samples']:7d} {r['ready']:7.2f} {r['samples_seconds']:9.2f} "
              f"{r['samples'] / r['samples_seconds']:9.1f} {r['wall']:7.1f} {r['score']:6.3f} "
              f"{'' if r['driver_ms'] is None else format(r['driver_ms'], '.3f'):>16}")


if __name__ == "__main__":
    main()
