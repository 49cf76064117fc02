"""How much time the tau-bench environment itself adds to an episode (no model calls).

    EVALPACK_SHARED=../shared python perf/tau_bench_env.py

Prints per-domain: one-time table load, fresh per-episode copy, database hash, and the
gold-action replay of every task (fresh copy + actions + hash), i.e. what `solve` spends
besides waiting for the two models.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from evalpack.benchmarks.tau_bench.env import Database, data_hash, ground_truth_hash  # noqa: E402

SHARED = Path(os.environ.get("EVALPACK_SHARED", ROOT.parent / "shared"))


def timed(fn, repeat=10):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    for domain in ("airline", "retail"):
        domain_dir = SHARED / "datasets" / "tau_bench" / domain
        t = time.perf_counter()
        database = Database(domain, domain_dir)
        load = time.perf_counter() - t
        fresh = timed(database.fresh)
        data = database.fresh()
        hashing = timed(lambda: data_hash(data))
        tasks = json.loads((domain_dir / "tasks_test.json").read_text())
        t = time.perf_counter()
        for task in tasks:
            ground_truth_hash(database, task["actions"])
        replay = time.perf_counter() - t
        print(f"{domain:8s} load {load * 1000:6.0f} ms | fresh copy {fresh * 1000:5.1f} ms | "
              f"hash {hashing * 1000:5.1f} ms | gold replay of {len(tasks)} tasks {replay:5.2f} s "
              f"({replay / len(tasks) * 1000:.0f} ms/task)")


if __name__ == "__main__":
    main()
