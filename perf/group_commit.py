"""What per-reply durability (group commit) costs, and what it saves after `kill -9`.

    python perf/group_commit.py [--dataset-dir ../shared/datasets] [--concurrency 64] [--runs 3]

1. Throughput: full MMLU (14,042 questions, 5-shot) against the instant mock, with workers waiting
   for their reply's commit before the next request (the default) and without (commits still run on
   the writer thread, nobody waits: EVALPACK_BENCH_NO_COMMIT_WAIT=1). Runs alternate, median shown.
2. Re-sent after `kill -9`: the same run killed at full speed once the server has answered about
   half of the questions, then resumed against a fresh mock. Re-sent = requests over both runs
   minus 14,042; the promise is at most --concurrency.
The mock runs in its own process, as a real server would.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from support import start_mock

REPO = Path(__file__).resolve().parents[1]
TOTAL = 14042


class Mock:
    def __init__(self, env: dict) -> None:
        self.proc, self.port = start_mock("--answer", "ANSWER: A", env=env, stderr=None, probe="/mock/stats")

    def stats(self) -> dict:
        return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/mock/stats", timeout=5).read())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def eval_cmd(port: int, data: str, work: str, concurrency: int) -> list[str]:
    return [sys.executable, "-m", "evalpack", "eval", "--model", "mock", "--api-url", f"http://127.0.0.1:{port}/v1",
            "--datasets", "mmlu", "--dataset-dir", data, "--work-dir", work, "--quiet",
            "--eval-batch-size", str(concurrency)]


def timed_run(env: dict, data: str, concurrency: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the eval process): on a shared machine the CPU time is the
    steadier measure of what evalpack itself spends."""
    import resource

    mock = Mock(env)
    try:
        with tempfile.TemporaryDirectory() as work:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(eval_cmd(mock.port, data, work, concurrency), env=env, check=True,
                           stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the mock is not waited for yet
            return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    finally:
        mock.stop()


def resent_after_kill(env: dict, data: str, concurrency: int) -> tuple[int, int]:
    """(requests sent again, replies stored at the kill)."""
    with tempfile.TemporaryDirectory() as work:
        mock = Mock(env)
        proc = subprocess.Popen(eval_cmd(mock.port, data, work, concurrency), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while mock.stats()["chat_requests"] < TOTAL // 2:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        first = mock.stats()["chat_requests"]
        mock.stop()
        import sqlite3

        stored = sqlite3.connect(next(Path(work).glob("*/run.db"))).execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        mock = Mock(env)
        subprocess.run(eval_cmd(mock.port, data, work, concurrency), env=env, check=True, stdout=subprocess.DEVNULL)
        second = mock.stats()["chat_requests"]
        mock.stop()
        return first + second - TOTAL, stored


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset-dir", default=str(REPO.parent / "shared" / "datasets"))
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    opts = ap.parse_args()
    base = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    modes = {"group commit (default)": base, "no wait for commit": {**base, "EVALPACK_BENCH_NO_COMMIT_WAIT": "1"}}
    times: dict[str, list[float]] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(opts.runs):
        for mode, env in modes.items():
            wall, spent = timed_run(env, opts.dataset_dir, opts.concurrency)
            times[mode].append(wall)
            cpu[mode].append(spent)
    print(f"full MMLU ({TOTAL} questions, 5-shot), instant mock, --eval-batch-size {opts.concurrency}, "
          f"{opts.runs} runs each")
    best = {m: min(t) for m, t in times.items()}
    for mode, t in times.items():
        print(f"  {mode:24} best {best[mode]:.2f} s = {TOTAL / best[mode]:.0f} samples/s, median "
              f"{statistics.median(t):.2f} s (runs: {', '.join(f'{x:.2f}' for x in t)}); eval CPU median "
              f"{statistics.median(cpu[mode]):.2f} s")
    wall_cost = best["group commit (default)"] / best["no wait for commit"] - 1
    cpu_cost = statistics.median(cpu["group commit (default)"]) / statistics.median(cpu["no wait for commit"]) - 1
    print(f"  cost of per-reply durability: {wall_cost * 100:+.1f}% best wall time, {cpu_cost * 100:+.1f}% eval CPU")
    for mode, env in modes.items():
        resent, stored = resent_after_kill(env, opts.dataset_dir, opts.concurrency)
        print(f"kill -9 at ~{TOTAL // 2} answered, {mode}: {stored} replies stored, {resent} requests sent again "
              f"(bound: --eval-batch-size {opts.concurrency})")


if __name__ == "__main__":
    main()
