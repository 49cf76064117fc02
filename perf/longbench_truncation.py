"""Time LongBench-v2's middle truncation on the largest upstream context size (~2M words).

Usage: python perf/longbench_truncation.py [--words 2000000] [--max-input-tokens 120000]
Builds a synthetic English context (and a Chinese one of the same character count / 5) and
truncates it with each available counter, printing seconds and token counts.
"""

from __future__ import annotations

import argparse
import time

from evalpack.benchmarks.longbench_v2 import ApproxCounter, make_counter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--words", type=int, default=2_000_000)
    parser.add_argument("--max-input-tokens", type=int, default=120_000)
    args = parser.parse_args()
    english = " ".join(f"keeper{i % 977} logged wind {i % 13}." for i in range(args.words // 4))
    chinese = "灯塔看守人每天早上都会写日志，记录风向和船只。" * (len(english) // 5 // 22)
    counters = [ApproxCounter()]
    auto = make_counter("auto")
    if auto.name != "approx":
        counters.insert(0, auto)
    for label, text in (("english", english), ("chinese", chinese)):
        for counter in counters:
            start = time.perf_counter()
            kept, info = counter.truncate_middle(text, args.max_input_tokens)
            took = time.perf_counter() - start
            print(f"{label:8s} {len(text) / 1e6:6.1f}M chars  {counter.name:30s} {took:6.2f} s  "
                  f"prompt_tokens={info['prompt_tokens']} kept={info['kept_tokens']}")


if __name__ == "__main__":
    main()
