"""From request records to the serving metrics, with vLLM bench serve's definitions.

- TTFT: send -> first delta carrying text or a tool call (a role-only delta is not a token).
- TPOT, per request: (e2e - TTFT) / (output tokens - 1); requests with one token have none.
- ITL: the gaps between consecutive token-carrying deltas, pooled over all requests (a server
  that packs several tokens in one delta shows a larger ITL than TPOT).
- e2e: send -> the reply fully read.
- throughputs divide by the level's duration: first send to last reply.
- goodput: successful requests meeting every SLO, per second.
Percentiles interpolate linearly between order statistics (numpy's default, as vLLM).
"""

from __future__ import annotations

import math
import re
from collections import Counter

from evalpack.errors import UsageError

PERCENTILES = [float(p) for p in range(1, 100)] + [99.5, 99.9]
SLO_KEYS = {"ttft", "tpot", "e2e", "itl"}  # itl here: a request's largest gap


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return math.nan
    k = (len(sorted_values) - 1) * p / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def describe(values: list[float]) -> dict | None:
    """mean, median, p90/p95/p99, min, max, std and every percentile (for CDFs), in seconds."""
    if not values:
        return None
    v = sorted(values)
    mean = math.fsum(v) / len(v)
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in v) / len(v))
    return {"count": len(v), "mean": mean, "median": percentile(v, 50), "p90": percentile(v, 90),
            "p95": percentile(v, 95), "p99": percentile(v, 99), "min": v[0], "max": v[-1], "std": std,
            "percentiles": {_pkey(p): percentile(v, p) for p in PERCENTILES}}


def _pkey(p: float) -> str:
    return str(int(p)) if p == int(p) else str(p)


def parse_slo(spec: str | None) -> dict[str, float]:
    """'ttft=500ms,tpot=50ms,e2e=10s' -> {"ttft": 0.5, "tpot": 0.05, "e2e": 10.0} (seconds)."""
    out: dict[str, float] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        m = re.fullmatch(r"\s*(\w+)\s*[=:<]=?\s*([0-9.]+)\s*(ms|s)?\s*", part)
        if not m or m.group(1) not in SLO_KEYS:
            raise UsageError(f"--slo {part!r}: expected NAME=VALUE[ms|s] with NAME one of "
                             f"{', '.join(sorted(SLO_KEYS))}, e.g. --slo ttft=500ms,tpot=50ms")
        value = float(m.group(2))
        out[m.group(1)] = value / 1000.0 if (m.group(3) or "ms") == "ms" else value
    return out


def meets(rec, slo: dict[str, float]) -> bool:
    if not rec.ok:
        return False
    values = {"ttft": rec.ttft, "tpot": rec.tpot, "e2e": rec.e2e, "itl": max(rec.itl) if rec.itl else None}
    for key, bound in slo.items():
        value = values[key]
        if key == "tpot" and value is None and rec.ok:
            continue  # a one-token reply has no TPOT: nothing to miss
        if value is None or value > bound:
            return False
    return True


def prompt_cache(ok: list) -> dict | None:
    """How much of the prompts the server did not have to compute: from llama.cpp's
    timings.prompt_n (tokens it evaluated) or usage.prompt_tokens_details.cached_tokens."""
    prompt = sum(r.prompt_tokens or 0 for r in ok)
    evaluated = [r.server_timings.get("prompt_n") for r in ok if r.server_timings]
    evaluated = [n for n in evaluated if isinstance(n, int)]
    cached = [r.cached_tokens for r in ok if r.cached_tokens is not None]
    if not prompt or not (evaluated or cached):
        return None
    out = {"prompt_tokens": prompt}
    if evaluated and len(evaluated) == len(ok):
        out["evaluated_by_server"] = sum(evaluated)
        out["reused_share"] = 1 - sum(evaluated) / prompt
    if cached:
        out["cached_tokens"] = sum(cached)
        out.setdefault("reused_share", sum(cached) / prompt)
    return out


def summarize(records: list, slo: dict[str, float] | None = None) -> dict:
    ok = [r for r in records if r.ok]
    starts = [r.start for r in records]
    ends = [r.start + r.e2e for r in records if r.e2e is not None]
    duration = (max(ends) - min(starts)) if records and ends else 0.0
    out_tokens = sum(r.completion_tokens or 0 for r in ok)
    in_tokens = sum(r.prompt_tokens or 0 for r in ok)
    per_s = (lambda x: x / duration) if duration > 0 else (lambda x: None)
    out = {
        "requests": len(records), "completed": len(ok), "failed": len(records) - len(ok),
        "errors": dict(Counter(r.error_kind for r in records if not r.ok)),
        "duration": duration,
        "input_tokens": in_tokens, "output_tokens": out_tokens,
        "request_throughput": per_s(len(ok)),
        "output_throughput": per_s(out_tokens),
        "total_token_throughput": per_s(in_tokens + out_tokens),
        "ttft": describe([r.ttft for r in ok if r.ttft is not None]),
        "tpot": describe([r.tpot for r in ok if r.tpot is not None]),
        "itl": describe([g for r in ok for g in r.itl]),
        "e2e": describe([r.e2e for r in ok]),
        "input_len": describe([float(r.prompt_tokens) for r in ok if r.prompt_tokens is not None]),
        "output_len": describe([float(r.completion_tokens) for r in ok if r.completion_tokens is not None]),
    }
    cache = prompt_cache(ok)
    if cache:
        out["prompt_cache"] = cache
    sent = sorted(starts)
    if len(sent) > 1 and sent[-1] > sent[0]:
        out["send_rate"] = (len(sent) - 1) / (sent[-1] - sent[0])
    late = [r.start - r.scheduled for r in records if r.scheduled is not None]
    if late:
        out["send_lateness"] = describe(late)
    if slo:
        good = sum(1 for r in records if meets(r, slo))
        out["slo"] = {k: v for k, v in slo.items()}
        out["goodput"] = per_s(good)
        out["slo_attainment"] = good / len(records) if records else None
    return out


def eval_calls(calls: list[tuple[float, float, dict]], wall: float | None = None) -> dict | None:
    """Latency and token throughput of an eval's model calls for one dataset: (created, latency,
    response) rows from the run store. `wall` is the seconds this session spent on the dataset;
    without it the span of the stored calls is used (a resumed run's span includes the pause)."""
    if not calls:
        return None
    usage = [c[2].get("usage") or {} for c in calls]
    out_tokens = sum(u.get("completion_tokens") or 0 for u in usage)
    in_tokens = sum(u.get("prompt_tokens") or 0 for u in usage)
    if wall is None:
        wall = max(c[0] for c in calls) - min(c[0] - c[1] for c in calls)
    per_s = (lambda x: x / wall) if wall and wall > 0 else (lambda x: None)
    brief = lambda d: {k: d[k] for k in ("mean", "median", "p90", "p99", "max")} if d else None  # noqa: E731
    return {"requests": len(calls), "wall_seconds": wall, "input_tokens": in_tokens, "output_tokens": out_tokens,
            "request_throughput": per_s(len(calls)), "output_throughput": per_s(out_tokens),
            "total_token_throughput": per_s(in_tokens + out_tokens),
            "latency": brief(describe([c[1] for c in calls])),
            "ttft": brief(describe([c[2]["ttft"] for c in calls if c[2].get("ttft") is not None])),
            "tpot": brief(describe([c[2]["tpot"] for c in calls if c[2].get("tpot") is not None]))}
