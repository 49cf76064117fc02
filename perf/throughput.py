"""Time full MMLU (14,042 questions, 5-shot) against the instant mock server.

    python perf/throughput.py [--dataset-dir ../shared/datasets] [--concurrency 64]

Prints samples/s, wall time, peak RSS of the eval process, and the time of
`evalpack --help`. The mock runs in its own process, as a real server would.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from support import start_mock

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset-dir", default=str(REPO.parent / "shared" / "datasets"))
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    opts = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}

    help_times = []
    for _ in range(7):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "evalpack", "--help"], env=env, capture_output=True, check=True)
        help_times.append(time.perf_counter() - t)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare = time.perf_counter() - t

    mock, port = start_mock("--answer", "ANSWER: C", env=env)
    try:
        for run in range(opts.runs):
            with tempfile.TemporaryDirectory() as work:
                cmd = [sys.executable, "-m", "evalpack", "eval", "--model", "mock",
                       "--api-url", f"http://127.0.0.1:{port}/v1", "--datasets", "mmlu",
                       "--dataset-dir", opts.dataset_dir, "--eval-batch-size", str(opts.concurrency),
                       "--work-dir", work, "--quiet"]
                t = time.perf_counter()
                proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
                _, status, usage = os.wait4(proc.pid, 0)
                wall = time.perf_counter() - t
                if status != 0:
                    sys.exit(f"eval failed with status {status}")
                print(f"run {run + 1}: 14042 samples in {wall:.2f} s = {14042 / wall:.0f} samples/s, "
                      f"peak RSS {usage.ru_maxrss / 1024:.0f} MiB, cpu {usage.ru_utime + usage.ru_stime:.2f} s")
    finally:
        mock.terminate()
    print(f"evalpack --help: median {statistics.median(help_times) * 1000:.0f} ms "
          f"(bare python start {bare * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
