"""What a report records about how its run was made, so two runs can be compared honestly.

`describe` is called where the run is prepared (settings, data hashes, wall time);
`call_stats` reads the stored calls when the report is written (tokens, latency), so a
rescore or `evalpack report` recomputes the same numbers from run.db.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import sys
from urllib.parse import urlsplit, urlunsplit

from evalpack import __version__

SECRET = "***"
_SECRET_FLAG = re.compile(r"^--?(api[-_]?key|key|token|password|secret)(=|$)", re.I)
_SECRET_PARAM = re.compile(r"(?i)([?&](?:api[-_]?key|key|token|access_token|sig|signature|password)=)[^&#]*")


def redact_url(url: str) -> str:
    """Credentials in user:pass@ and in query parameters are replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return SECRET
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{SECRET}@{netloc.rsplit('@', 1)[1]}"
    return _SECRET_PARAM.sub(lambda m: m.group(1) + SECRET, urlunsplit(parts._replace(netloc=netloc)))


def redact_argv(argv: list[str], secrets: list[str]) -> list[str]:
    out, hide_next = [], False
    for arg in argv:
        if hide_next:
            out.append(SECRET)
            hide_next = False
            continue
        m = _SECRET_FLAG.match(arg)
        if m:
            if m.group(2) == "=":
                arg = arg.split("=", 1)[0] + "=" + SECRET
            else:
                hide_next = True
        for s in secrets:
            if s and len(s) >= 4:
                arg = arg.replace(s, SECRET)
        if arg.startswith(("http://", "https://")):
            arg = redact_url(arg)
        out.append(arg)
    return out


def _secret_values(value) -> list[str]:
    """The values that config.redact would blank (api keys inside --dataset-args...), so the
    command line can have them replaced wherever they appear in it."""
    from evalpack.config import SECRET as BLANK, redact

    found: list[str] = []

    def walk(original, redacted) -> None:
        if isinstance(original, dict):
            for k, v in original.items():
                walk(v, redacted.get(k) if isinstance(redacted, dict) else None)
        elif isinstance(original, list):
            for o, r in zip(original, redacted if isinstance(redacted, list) else [None] * len(original)):
                walk(o, r)
        elif redacted == BLANK and original not in (None, "", BLANK):
            found.append(str(original))

    walk(value, redact(value))
    return found


def dataset_files(bench, args: dict) -> dict:
    """The files this run reads, with the sha256 the registry declares (verified against the
    disk before the first request, unless the folder is sample data or another layout) or, for a
    user's own files, the sha256 of the bytes read; and one digest over them: equal digests =
    the same data."""
    from evalpack.datasets.verify import needed_files

    files = {f.path: f.sha256 for f in needed_files(bench, args)}
    # a user's own files (general_mcq, general_qa) as their benchmark read and hashed them
    user = [f.describe() for f in getattr(bench, "user_files", None) or []]
    files.update({u["path"]: u["sha256"] for u in user})
    digest = hashlib.sha256("".join(f"{p}\0{h}\n" for p, h in sorted(files.items())).encode()).hexdigest()
    return {"digest": digest if files else None, "files": files, **({"user_files": user} if user else {})}


def describe(config, plans, started: float, finished: float, dataset_seconds: dict,
             served_models: dict | None) -> dict:
    from evalpack.config import redact

    secrets = [config.api_key] if config.api_key else []
    secrets += _secret_values(config.dataset_args) + _secret_values(config.generation)
    judge = getattr(config, "judge", None)
    if judge is not None and judge.api_key:  # --judge-api-key, or inside --judge-model-args
        secrets.append(judge.api_key)
    described = {
        "evalpack_version": __version__,
        "command": shlex.join(redact_argv(["evalpack", *sys.argv[1:]], secrets)),
        "model": config.model,
        "served_models": {redact_url(k): v for k, v in (served_models or {}).items()} or None,
        "api_urls": [redact_url(u) for u in config.api_urls],
        "generation": redact(config.generation),
        "limit": config.limit,
        "seed": config.seed,
        "concurrency": config.concurrency,
        "timeout": config.timeout,
        "retries": config.retries,
        "sandbox": config.sandbox,
        "started": started,
        "wall_seconds": round(finished - started, 3),
        "dataset_seconds": {k: round(v, 3) for k, v in dataset_seconds.items()},
        "datasets": {p.bench.name: dataset_files(p.bench, p.args) for p in plans},
    }
    if config.shard:  # this report covers one part; report.notes says so, merge reads it
        described["shard"] = {"index": config.shard.index, "count": config.shard.count,
                              "unsharded_num_samples": {p.bench.name: p.unsharded_total for p in plans}}
    return described


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    pos = q * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def call_stats(responses: list[dict]) -> dict:
    """Token totals (reasoning apart), request latency p50/p95, and TTFT/TPOT when stored."""
    tokens = {"prompt": 0, "completion": 0, "reasoning": 0}
    latencies, ttft, tpot = [], [], []
    for resp in responses:
        usage = resp.get("usage") or {}
        tokens["prompt"] += int(usage.get("prompt_tokens") or 0)
        tokens["completion"] += int(usage.get("completion_tokens") or 0)
        details = usage.get("completion_tokens_details") or {}
        tokens["reasoning"] += int((details.get("reasoning_tokens") if isinstance(details, dict) else 0)
                                   or usage.get("reasoning_tokens") or 0)
        for key, into in (("latency", latencies), ("ttft", ttft), ("tpot", tpot)):
            if isinstance(resp.get(key), (int, float)):
                into.append(float(resp[key]))
    out = {"requests": len(responses), "tokens_in": tokens["prompt"], "tokens_out": tokens["completion"],
           "tokens_reasoning": tokens["reasoning"]}
    for name, values in (("latency", latencies), ("ttft", ttft), ("tpot", tpot)):
        values.sort()
        if values:
            out[f"{name}_p50"] = round(_percentile(values, 0.5), 4)
            out[f"{name}_p95"] = round(_percentile(values, 0.95), 4)
    return out
