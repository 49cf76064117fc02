"""How long `evalpack list` takes, as a user starts it (a fresh interpreter each time).

    python perf/list_time.py [--src PATH/src] [--runs 7]

Bytecode is compiled once first into a private cache (PYTHONPYCACHEPREFIX), as an installed
package would have it; reports the median and the fastest of --runs, and `--help` for scale.
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


def timed(cmd: list[str], env: dict, runs: int) -> tuple[float, float]:
    subprocess.run(cmd, env=env, capture_output=True, check=True)  # warm: writes the bytecode
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), min(seconds)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    ap.add_argument("--runs", type=int, default=7)
    ns = ap.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPATH=str(ns.src.resolve()), PYTHONPYCACHEPREFIX=cache)
        for label, args in (("--help", ["--help"]), ("list", ["list"])):
            median, best = timed([sys.executable, "-m", "evalpack", *args], env, ns.runs)
            print(f"evalpack {label:7} median {median:.3f} s  fastest {best:.3f} s  ({ns.runs} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
