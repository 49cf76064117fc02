"""The run store: one SQLite database (WAL) per run directory.

Two tables:
- `calls`: every model call, keyed by a hash of (request body, sample, repeat).
  A call whose reply is stored is never sent again: resume and `--use-cache`
  replay it, which also makes multi-call (agentic) samples resumable mid-way.
- `results`: one row per (benchmark, variant, sample, repeat): output, score,
  extracted answer, error. `variant` hashes the benchmark's resolved args and
  the generation parameters, so a changed setting never reuses a stale score.

Writes are queued and committed in small batches (every second) so the event
loop never waits on the disk; a commit is durable against `kill -9` (WAL), and
at worst the last second of answers is asked again on resume.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import zlib
from pathlib import Path
from typing import Any, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    benchmark TEXT, sample_id TEXT, repeat INTEGER,
    request BLOB NOT NULL, response BLOB NOT NULL,  -- JSON text, zlib-compressed when long
    latency REAL, created REAL
);
CREATE TABLE IF NOT EXISTS results (
    benchmark TEXT NOT NULL, variant TEXT NOT NULL, sample_id TEXT NOT NULL, repeat INTEGER NOT NULL,
    subset TEXT, target TEXT, metadata TEXT, output TEXT,
    score REAL, extracted TEXT, unparsed INTEGER, detail TEXT, error TEXT,
    latency REAL, usage TEXT, created REAL,
    PRIMARY KEY (benchmark, variant, sample_id, repeat)
);
"""

FLUSH_EVERY = 1.0  # seconds
FLUSH_ROWS = 2000


def canonical_json(body: dict) -> str:
    """One serialisation used for the cache key, the stored request and the bytes sent."""
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def call_key(canonical_body: str, benchmark: str, sample_id: str, repeat: int) -> str:
    return hashlib.sha256(f"{benchmark}\x00{sample_id}\x00{repeat}\x00{canonical_body}".encode()).hexdigest()


COMPRESS_ABOVE = 8192  # bytes


def _pack(text: str) -> bytes | str:
    """Long bodies (tool schemas on every agent step, long contexts) are zlib-compressed: BFCL's
    multi-turn run.db shrinks several-fold. Short ones stay text: compressing every MMLU prompt
    cost a fifth of the client's CPU time."""
    return zlib.compress(text.encode(), 1) if len(text) > COMPRESS_ABOVE else text


def _unpack(blob: bytes | str) -> str:
    return blob if isinstance(blob, str) else zlib.decompress(blob).decode()


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class RunStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._pending_calls: dict[str, tuple] = {}
        self._pending_results: list[tuple] = []
        self._last_flush = time.monotonic()
        # keys of stored calls, so that a fresh run does not query the database per request
        self._known = {r[0] for r in self.db.execute("SELECT key FROM calls")}

    # --- calls (the response cache) ---
    def get_call(self, key: str) -> dict | None:
        pending = self._pending_calls.get(key)
        if pending is not None:
            return json.loads(_unpack(pending[5]))
        if key not in self._known:
            return None
        row = self.db.execute("SELECT response FROM calls WHERE key=?", (key,)).fetchone()
        return json.loads(_unpack(row[0])) if row else None

    def put_call(self, key: str, benchmark: str, sample_id: str, repeat: int,
                 request_json: str, response: dict, latency: float) -> None:
        self._known.add(key)
        self._pending_calls[key] = (key, benchmark, sample_id, repeat, _pack(request_json),
                                    _pack(_dumps(response)), latency, time.time())
        self._maybe_flush()

    # --- results ---
    def done(self, benchmark: str, variant: str) -> set[tuple[str, int]]:
        """(sample_id, repeat) pairs with a stored result that is not an error."""
        self.flush()
        rows = self.db.execute("SELECT sample_id, repeat FROM results WHERE benchmark=? AND variant=? "
                               "AND error IS NULL", (benchmark, variant))
        return {(r[0], r[1]) for r in rows}

    def put_result(self, benchmark: str, variant: str, row: dict) -> None:
        self._pending_results.append((
            benchmark, variant, row["sample_id"], row["repeat"], row.get("subset"),
            _dumps(row.get("target")), _dumps(row.get("metadata") or {}), _dumps(row.get("output")),
            row.get("score"), _dumps(row.get("extracted")), int(bool(row.get("unparsed"))),
            _dumps(row.get("detail") or {}), row.get("error"), row.get("latency"),
            _dumps(row.get("usage") or {}), time.time()))
        self._maybe_flush()

    def results(self, benchmark: str, variant: str | None = None, *, failures_first: bool = False,
                limit: int | None = None) -> Iterator[dict]:
        """Stored rows in the order they were written, or errors, then zero scores, then the rest."""
        self.flush()
        query = "SELECT * FROM results WHERE benchmark=?"
        params: tuple = (benchmark,)
        if variant is not None:
            query += " AND variant=?"
            params += (variant,)
        query += (" ORDER BY error IS NULL, COALESCE(score, 0) > 0, sample_id, repeat" if failures_first
                  else " ORDER BY rowid")
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        cur = self.db.execute(query, params)
        cols = [c[0] for c in cur.description]
        for values in cur:
            row = dict(zip(cols, values))
            for k in ("target", "metadata", "output", "extracted", "detail", "usage"):
                row[k] = _loads(row[k])
            row["unparsed"] = bool(row["unparsed"])
            yield row

    def update_scores(self, benchmark: str, variant: str, updates: list[dict]) -> None:
        """Rewrite scores in one transaction (rescore). Each update: sample_id, repeat, score,
        extracted, unparsed, detail, error."""
        self.flush()
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "UPDATE results SET score=?, extracted=?, unparsed=?, detail=?, error=? "
                "WHERE benchmark=? AND variant=? AND sample_id=? AND repeat=?",
                [(u["score"], _dumps(u["extracted"]), int(bool(u["unparsed"])), _dumps(u["detail"] or {}),
                  u["error"], benchmark, variant, u["sample_id"], u["repeat"]) for u in updates])

    def calls_for(self, wanted: set[tuple[str, str, int]]) -> dict[tuple[str, str, int], list[tuple[dict, dict]]]:
        """(benchmark, sample_id, repeat) -> [(request, response), ...] in call order."""
        self.flush()
        out: dict[tuple[str, str, int], list[tuple[dict, dict]]] = {}
        for bench in {w[0] for w in wanted}:
            for b, sid, rep, req, resp in self.db.execute(
                    "SELECT benchmark, sample_id, repeat, request, response FROM calls WHERE benchmark=? "
                    "ORDER BY rowid", (bench,)):
                if (b, sid, rep) in wanted:
                    out.setdefault((b, sid, rep), []).append((json.loads(_unpack(req)),
                                                              json.loads(_unpack(resp))))
        return out

    def call_timings(self, benchmark: str) -> list[tuple[float, float, dict]]:
        """(created, latency, response) of every stored call of a benchmark, for the per-dataset
        latency and throughput in report.json."""
        self.flush()
        return [(created, latency or 0.0, json.loads(_unpack(resp))) for created, latency, resp in self.db.execute(
            "SELECT created, latency, response FROM calls WHERE benchmark=? ORDER BY rowid", (benchmark,))]

    def requests(self) -> Iterator[dict]:
        """Every stored request body, in the order the calls were stored (`evalpack perf --replay`)."""
        self.flush()
        for (req,) in self.db.execute("SELECT request FROM calls ORDER BY rowid"):
            yield json.loads(_unpack(req))

    # --- durability ---
    def _maybe_flush(self) -> None:
        if (len(self._pending_calls) + len(self._pending_results) >= FLUSH_ROWS
                or time.monotonic() - self._last_flush >= FLUSH_EVERY):
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not (self._pending_calls or self._pending_results):
            return
        calls, results = self._pending_calls, self._pending_results
        self._pending_calls, self._pending_results = {}, []
        with self.db:
            self.db.execute("BEGIN")
            if calls:
                self.db.executemany("INSERT OR REPLACE INTO calls VALUES (?,?,?,?,?,?,?,?)", calls.values())
            if results:
                self.db.executemany("INSERT OR REPLACE INTO results VALUES "
                                    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", results)

    def close(self) -> None:
        self.flush()
        self.db.close()
