"""What do --shard and `evalpack merge` cost?

Usage: python perf/shard_merge.py --dataset-dir DIR [--shards 3] [--work DIR]

Starts `evalpack mock` on 127.0.0.1, runs the full MMLU (14,042 questions) once unsharded and
once as N shards (each `evalpack eval --shard I/N`, one after the other), then merges the
shards. Prints the time of each, the time merge takes and its cost per stored result, the time
of the partition itself per sample, and whether the merged report.json equals the single run's
on every field but timing and place (docs/distributed.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from support import start_mock

SRC = Path(__file__).resolve().parents[1] / "src"
ENV = {**os.environ, "PYTHONPATH": str(SRC)}


def evalpack(*args: str) -> tuple[float, str]:
    begun = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "evalpack", *args], capture_output=True, text=True, env=ENV)
    if done.returncode:
        sys.exit(f"evalpack {' '.join(args[:2])} failed:\n{done.stderr[-2000:]}")
    run_dir = [line for line in done.stdout.splitlines() if line.startswith("run directory: ")][-1]
    return time.perf_counter() - begun, run_dir.split(": ", 1)[1]


def comparable(path: str) -> dict:
    report = json.loads((Path(path) / "report.json").read_text())
    for key in ("created", "run_dir"):
        report.pop(key)
    for key in ("command", "started", "wall_seconds", "dataset_seconds"):
        report["meta"].pop(key)
    report["meta"]["requests"] = {k: v for k, v in report["meta"]["requests"].items()
                                  if not k.endswith(("_p50", "_p95"))}
    for section in report["datasets"]:
        section.pop("serving", None)
    return report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset-dir", required=True)
    ap.add_argument("--shards", type=int, default=3)
    ap.add_argument("--work", default=None)
    a = ap.parse_args()
    work = Path(a.work or tempfile.mkdtemp(prefix="evalpack-shard-"))
    mock, port = start_mock("--answer", "ANSWER: C", env=ENV)
    try:
        common = ["eval", "--model", "mock", "--api-url", f"http://127.0.0.1:{port}/v1", "--datasets", "mmlu",
                  "--dataset-dir", a.dataset_dir, "--quiet", "--eval-batch-size", "64"]
        single_s, single = evalpack(*common, "--work-dir", str(work / "single"))
        shard_s, shard_dirs = [], []
        for i in range(1, a.shards + 1):
            seconds, d = evalpack(*common, "--work-dir", str(work / "shards"), "--shard", f"{i}/{a.shards}")
            shard_s.append(seconds)
            shard_dirs.append(d)
        merge_s, merged = evalpack("merge", *shard_dirs, "--out", str(work / "merged"), "--quiet")
    finally:
        mock.terminate()
        mock.wait()

    sys.path.insert(0, str(SRC))
    from evalpack.shard import part_of

    begun = time.perf_counter()
    for n in range(14042):
        part_of("mmlu", "high_school_macroeconomics", f"high_school_macroeconomics/{n}", a.shards)
    hash_us = (time.perf_counter() - begun) / 14042 * 1e6
    results = 14042
    print(f"single run           {single_s:7.2f} s")
    print(f"{a.shards} shards, in turn    {sum(shard_s):7.2f} s  ({', '.join(f'{s:.2f}' for s in shard_s)})")
    print(f"merge                {merge_s:7.2f} s  ({merge_s / results * 1e3:.3f} ms per result, "
          f"process start and the report included)")
    print(f"partition            {hash_us:7.2f} us per sample")
    print(f"merged report equals the single run's (timing apart): {comparable(merged) == comparable(single)}")


if __name__ == "__main__":
    main()
