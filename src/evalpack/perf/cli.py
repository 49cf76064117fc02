"""`evalpack perf`: the parser (light to import) and the command."""

from __future__ import annotations

import argparse

EXAMPLES = """examples:
  evalpack perf --api-url http://127.0.0.1:8000/v1 --model qwen --parallel 1 4 16 64 --number 200
  evalpack perf ... --rate 2 8 --burstiness 0.5 --duration 60 --input-len 1024 --max-tokens 256
  evalpack perf ... --dataset mmlu --dataset-dir ./datasets --parallel 8
  evalpack perf ... --slo ttft=500ms,tpot=50ms --search concurrency
  evalpack perf ... --replay outputs/<run> --parallel 32      # the requests an eval sent
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "perf", help="benchmark the model server: throughput, TTFT/TPOT/ITL, goodput, SLO search",
        description="Load-test an OpenAI-compatible server (streaming chat completions) at fixed "
                    "concurrencies or request rates and report vLLM-bench-style metrics.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--api-url", "--url", nargs="+", required=True, help="base URL(s); several = replicas")
    p.add_argument("--model", required=True)
    p.add_argument("--api-key", help="bearer key (or EVALPACK_API_KEY); never written anywhere")
    load = p.add_argument_group("load")
    load.add_argument("--parallel", type=int, nargs="+", help="closed loop: requests in flight (a sweep)")
    load.add_argument("--rate", type=float, nargs="+", help="open loop: requests per second (a sweep)")
    load.add_argument("--burstiness", type=float, default=1.0,
                      help="open loop: gamma shape of the gaps (1 = Poisson, <1 burstier)")
    load.add_argument("--arrivals", choices=["gamma", "constant"], default="gamma",
                      help="open loop: gamma (Poisson at burstiness 1) or evenly spaced")
    load.add_argument("--max-concurrency", type=int, help="open loop: cap on requests in flight")
    load.add_argument("--number", type=int, nargs="+", help="requests per level (one, or one per level)")
    load.add_argument("--duration", type=float, help="seconds per level instead of --number")
    load.add_argument("--warmup", type=int, help="requests (1 output token each) before each level, not "
                                                 "counted (default: one per concurrent request)")
    load.add_argument("--workers", type=int, default=1,
                      help="client processes sharing the load (for servers one process cannot saturate)")
    load.add_argument("--timeout", type=float, default=600.0, help="per-request timeout, seconds")
    load.add_argument("--seed", type=int, default=0)
    src = p.add_argument_group("prompts (default: random words)")
    src.add_argument("--input-len", type=int, default=256, help="random prompts: input tokens")
    src.add_argument("--input-len-range", type=float, default=0.0, help="random prompts: uniform ±ratio")
    src.add_argument("--tokenizer", help="count tokens with tiktoken:<encoding> or a tokenizer.json "
                                         "(default: the server's usage)")
    src.add_argument("--turns", type=int, default=1, help="random prompts: user turns per conversation")
    src.add_argument("--dataset", help="a kit benchmark's real prompts, e.g. mmlu, longbench_v2")
    src.add_argument("--dataset-dir", help="for --dataset (default $EVALPACK_DATA)")
    src.add_argument("--dataset-args", help="JSON options of --dataset, as in eval")
    src.add_argument("--limit", type=int, help="--dataset: the first N samples per subset")
    src.add_argument("--jsonl", help="a file of {\"messages\": [...]} or {\"prompt\": ...} lines (+ \"turns\")")
    src.add_argument("--replay", help="a run directory: send the requests that eval stored, as they were")
    src.add_argument("--shuffle", action="store_true", help="--dataset/--jsonl/--replay: send in a random "
                                                           "order (default: as listed, shared prefixes together)")
    out = p.add_argument_group("outputs")
    out.add_argument("--max-tokens", type=int, default=128)
    out.add_argument("--max-tokens-range", type=float, default=0.0, help="uniform ±ratio around --max-tokens")
    out.add_argument("--ignore-eos", action="store_true", help="ask for exactly max_tokens (ignore_eos, min_tokens)")
    out.add_argument("--extra-body", help="JSON merged into every request, e.g. '{\"temperature\": 0}'")
    slo = p.add_argument_group("SLOs")
    slo.add_argument("--slo", help="e.g. ttft=500ms,tpot=50ms,e2e=10s: goodput counts requests meeting all")
    slo.add_argument("--slo-attainment", type=float, default=0.95,
                     help="share of requests that must meet the SLO for a load to pass (default 0.95)")
    slo.add_argument("--search", choices=["concurrency", "rate"],
                     help="find the highest concurrency or rate that meets --slo (doubling, then bisection)")
    slo.add_argument("--search-max", type=float, help="the highest value the search tries")
    p.add_argument("--work-dir", default="outputs", help="perf-<model>-<time>/ goes here (default ./outputs)")
    p.set_defaults(func=cmd_perf)


def cmd_perf(ns: argparse.Namespace) -> int:
    import asyncio
    import os
    import re
    import time
    from pathlib import Path

    from evalpack.errors import UsageError
    from evalpack.perf import output, stats, workload
    from evalpack.perf.run import PerfConfig, PerfSession, write_outputs

    if ns.parallel and ns.rate:
        raise UsageError("give --parallel (closed loop) or --rate (open loop), not both")
    for name, values in (("--parallel", ns.parallel), ("--number", ns.number)):
        if values and min(values) < 1:
            raise UsageError(f"{name} values must be at least 1")
    if ns.rate and min(ns.rate) <= 0:
        raise UsageError("--rate values must be above 0 (requests per second)")
    if ns.number and ns.duration:
        raise UsageError("give --number or --duration, not both")
    if ns.duration is not None and ns.duration <= 0:
        raise UsageError("--duration must be above 0 seconds")
    if ns.burstiness <= 0:
        raise UsageError("--burstiness must be above 0 (1 = Poisson)")
    if not 0 < ns.slo_attainment <= 1:
        raise UsageError("--slo-attainment is a share between 0 and 1, e.g. 0.95")
    if ns.workers < 1:
        raise UsageError("--workers must be at least 1")
    if ns.turns < 1:
        raise UsageError("--turns must be at least 1")
    sources = [s for s in (ns.dataset, ns.jsonl, ns.replay) if s]
    if len(sources) > 1:
        raise UsageError("give one of --dataset, --jsonl, --replay")
    if ns.number and len(ns.number) > 1 and len(ns.number) != len(ns.parallel or ns.rate or [1]):
        raise UsageError("--number takes one value, or one per --parallel/--rate value")
    extra = _json_flag(ns.extra_body, "--extra-body")
    cfg = PerfConfig(api_urls=ns.api_url, model=ns.model, api_key=ns.api_key or os.environ.get("EVALPACK_API_KEY"),
                     parallel=ns.parallel, rate=ns.rate, number=ns.number, duration=ns.duration,
                     burstiness=ns.burstiness, constant_rate=ns.arrivals == "constant",
                     max_concurrency=ns.max_concurrency, warmup=None if ns.warmup is None else max(0, ns.warmup), seed=ns.seed,
                     timeout=ns.timeout, slo=stats.parse_slo(ns.slo), attainment=ns.slo_attainment,
                     search=ns.search, search_max=ns.search_max, workers=ns.workers)
    if cfg.search and not cfg.slo:
        raise UsageError("--search needs --slo, e.g. --slo ttft=500ms,tpot=50ms")
    counter = workload.make_counter(ns.tokenizer)
    outputs = workload.OutputLengths(ns.max_tokens, ns.max_tokens_range, ns.ignore_eos)
    if ns.dataset:
        from evalpack.config import default_dataset_dir

        data_dir = Path(ns.dataset_dir).expanduser() if ns.dataset_dir else default_dataset_dir()
        bodies = asyncio.run(workload.kit_bodies(ns.dataset, data_dir, _json_flag(ns.dataset_args, "--dataset-args"),
                                                 ns.limit))
        prompts = workload.FixedPrompts([(b, None) for b in bodies], f"{ns.dataset} prompts", outputs,
                                        ns.model, ns.seed, extra, ns.shuffle)
    elif ns.jsonl:
        prompts = workload.FixedPrompts(workload.jsonl_bodies(Path(ns.jsonl)), f"{ns.jsonl}", outputs,
                                        ns.model, ns.seed, extra, ns.shuffle)
    elif ns.replay:
        prompts = workload.FixedPrompts([(b, None) for b in workload.replay_bodies(Path(ns.replay))],
                                        f"requests replayed from {ns.replay}", None, ns.model, ns.seed, extra,
                                        ns.shuffle)
    else:
        prompts = workload.RandomPrompts(ns.input_len, ns.input_len_range, outputs, ns.model, ns.seed,
                                         counter, ns.turns, extra)
    session = PerfSession(cfg, prompts, counter)
    result = asyncio.run(session.run())
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", ns.model)[:60]
    out_dir = Path(ns.work_dir).expanduser() / f"perf-{slug}-{time.strftime('%Y%m%d-%H%M%S')}"
    write_outputs(result, session, out_dir)
    print(output.table(result), end="")
    print(f"perf results: {out_dir / 'perf.json'}, {out_dir / 'perf.html'}")
    return 0


def _json_flag(value: str | None, flag: str) -> dict | None:
    import json

    from evalpack.errors import UsageError

    if not value:
        return None
    try:
        parsed = json.loads(value)
    except ValueError as e:
        raise UsageError(f"{flag}: not valid JSON ({e})") from None
    if not isinstance(parsed, dict):
        raise UsageError(f"{flag}: expected a JSON object")
    return parsed
