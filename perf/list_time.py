"""How long `evalpack list` takes, as a user starts it (a fresh interpreter each time).

    python perf/list_time.py [--src PATH/src] [--runs 7] [--dataset-dir DIR]

Bytecode is compiled once first into a private cache (PYTHONPYCACHEPREFIX), as an installed
package would have it; reports the median and the fastest of --runs, and `--help` for scale.
With --dataset-dir, also `list --dataset-dir DIR` (which hashes every file present there) and
`list NAME` for one benchmark.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd: list[str], env: dict, runs: int) -> tuple[float, float, float]:
    """(median wall, fastest wall, median CPU) seconds; CPU (user + system of the child) barely
    moves when other processes share the cores, wall time does."""
    subprocess.run(cmd, env=env, capture_output=True, check=True)  # warm: writes the bytecode
    seconds, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        seconds.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(seconds), min(seconds), statistics.median(cpu)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--dataset-dir", help="also time the listing of this dataset dir (files hashed)")
    ns = ap.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPATH=str(ns.src.resolve()), PYTHONPYCACHEPREFIX=cache)
        env["EVALPACK_DATA"] = str(Path(cache) / "no-data")  # `list`: nothing found, nothing hashed
        commands = [("--help", ["--help"]), ("list", ["list"]), ("list mmlu", ["list", "mmlu"])]
        if ns.dataset_dir:
            commands += [("list --dataset-dir", ["list", "--dataset-dir", ns.dataset_dir]),
                         ("list --dataset-dir mmlu", ["list", "--dataset-dir", ns.dataset_dir, "mmlu"])]
        commands.append(("(python -c pass: the floor)", None))
        for label, args in commands:
            cmd = [sys.executable, "-c", "pass"] if args is None else [sys.executable, "-m", "evalpack", *args]
            median, best, cpu = timed(cmd, env, ns.runs)
            print(f"{'evalpack ' + label if args is not None else label:33} median {median:.3f} s  "
                  f"fastest {best:.3f} s  cpu {cpu:.3f} s  ({ns.runs} runs)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
