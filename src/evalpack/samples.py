"""samples/<dataset>.jsonl: every sample of a run, one JSON object a line, for people and tools.

The export is also what report.html, `evalpack report` and `evalpack compare` read, so it
holds all a reader needs without run.db: the prompt as sent (the first request's messages
and offered tools), the output, the score and its detail, and per model call its latency,
usage and (when the client measured them) ttft/tpot. A multi-call sample whose output has
no transcript of its own gets `conversation`: the longest request of the sample plus the
reply to it. Field list: docs/statistics.md#exports.
"""

from __future__ import annotations

import json
from pathlib import Path

ROW_FIELDS = ("sample_id", "repeat", "subset", "target", "extracted", "score", "unparsed", "error", "output",
              "detail", "latency", "usage", "metadata")
TRANSCRIPT_KEYS = ("transcript", "messages", "conversation", "history")
CALL_FIELDS = ("latency", "ttft", "tpot", "attempts")


def status_of(row: dict) -> str:
    if row.get("error"):  # a judge that gave no verdict is not the model's error (reported apart)
        return "judge_error" if (row.get("detail") or {}).get("judge_error") else "error"
    if row.get("unparsed"):
        return "unparsed"
    score = row.get("score")
    if score is None:
        return "unscored"
    if score >= 1.0:
        return "correct"
    return "partial" if score > 0 else "wrong"


def has_transcript(output) -> bool:
    return isinstance(output, dict) and any(
        isinstance(output.get(k), list) and output[k] and isinstance(output[k][0], dict) for k in TRANSCRIPT_KEYS)


def record(row: dict, calls: list[tuple[dict, dict]]) -> dict:
    rec = {k: row.get(k) for k in ROW_FIELDS}
    rec["status"] = status_of(row)
    if calls:
        first = calls[0][0]
        rec["prompt"] = first.get("messages")
        if first.get("tools"):
            rec["tools"] = first["tools"]
        rec["calls"] = [{**{k: resp[k] for k in CALL_FIELDS if resp.get(k) is not None},
                         "usage": resp.get("usage") or {}} for _, resp in calls]
        if len(calls) > 1 and not has_transcript(row.get("output")):
            request, response = max(calls, key=lambda c: len(c[0].get("messages") or []))
            reply = {"role": "assistant", "content": response.get("content")}
            if response.get("tool_calls"):
                reply["tool_calls"] = response["tool_calls"]
            if response.get("reasoning"):
                reply["reasoning"] = response["reasoning"]
            rec["conversation"] = list(request.get("messages") or []) + [reply]
    return rec


def write(path: Path, rows: list[dict], calls: dict[tuple[str, str, int], list[tuple[dict, dict]]],
          benchmark: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            rec = record(r, calls.get((benchmark, r["sample_id"], r["repeat"]), []))
            f.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
    tmp.replace(path)


def export(store, run_dir: Path, benchmark: str, rows: list[dict]) -> None:
    """samples/<benchmark>.jsonl from stored rows and their calls."""
    calls = store.calls_for({(benchmark, r["sample_id"], r["repeat"]) for r in rows})
    write(Path(run_dir) / "samples" / f"{benchmark}.jsonl", rows, calls, benchmark)


def read(run_dir: Path, benchmark: str) -> list[dict]:
    path = Path(run_dir) / "samples" / f"{benchmark}.jsonl"
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
