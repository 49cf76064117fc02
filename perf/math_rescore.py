"""Time `evalpack rescore` on a stored run of minerva_math + gsm8k + math_500 (2,091 items).

    python perf/math_rescore.py [--dataset-dir ../shared/datasets] [--runs 3]

Builds the run first: `evalpack eval` against `evalpack mock` answering with
tests/math_responder.py (gold boxed for every third item, a near miss otherwise, so two
thirds of the items need a full math-verify comparison). Then re-scores that run from the
stored replies `--runs` times, each in a fresh process (cold worker pool), and prints wall
time, CPU time and the machine's load average (other jobs on a 2-core box inflate the wall
time; the CPU time is what the work costs).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from support import start_mock

REPO = Path(__file__).resolve().parents[1]
DATASETS = ("minerva_math", "gsm8k", "math_500")


def cpu_of_children() -> float:
    """User + system seconds of finished child processes (and their reaped children)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset-dir", default=str(REPO.parent / "shared" / "datasets"))
    ap.add_argument("--runs", type=int, default=3)
    opts = ap.parse_args()
    dataset_dir = Path(opts.dataset_dir).resolve()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "EVALPACK_SHARED": str(dataset_dir.parent)}
    mock, port = start_mock("--responder", f"{REPO / 'tests' / 'math_responder.py'}:respond", env=env)
    try:
        with tempfile.TemporaryDirectory() as work:
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "evalpack", "eval", "--model", "mock", "--api-url",
                                   f"http://127.0.0.1:{port}/v1", "--datasets", *DATASETS, "--dataset-dir",
                                   str(dataset_dir), "--work-dir", work, "--quiet"],
                                  env=env, capture_output=True, text=True, check=True)
            print(f"eval (HTTP + scoring), 2,091 items: {time.perf_counter() - start:.1f} s")
            run_dir = [line.split(": ", 1)[1] for line in done.stdout.splitlines()
                       if line.startswith("run directory: ")][-1]
            for i in range(opts.runs):
                load = os.getloadavg()[0]
                cpu_before = cpu_of_children()
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "evalpack", "rescore", run_dir, "--quiet"],
                               env=env, capture_output=True, check=True)
                elapsed = time.perf_counter() - start
                cpu = cpu_of_children() - cpu_before
                print(f"rescore run {i + 1}: {elapsed:.1f} s wall ({2091 / elapsed:.0f} items/s), "
                      f"{cpu:.1f} s CPU (rescore process + verifier workers), "
                      f"load average before: {load:.1f} on {os.cpu_count()} cores")
    finally:
        mock.terminate()
        mock.wait(10)


if __name__ == "__main__":
    main()
