"""The run store: one SQLite database (WAL) per run directory.

Two tables:
- `calls`: every model call, keyed by a hash of (request body, sample, repeat).
  A call whose reply is stored is never sent again: resume and `--use-cache`
  replay it, which also makes multi-call (agentic) samples resumable mid-way.
- `results`: one row per (benchmark, variant, sample, repeat): output, score,
  extracted answer, error. `variant` hashes the benchmark's resolved args and
  the generation parameters, so a changed setting never reuses a stale score.

Group commit, no timer: every stored reply starts (or joins) a commit that runs on a
writer thread, while the event loop goes on; whatever arrives meanwhile goes into the
next commit. A worker awaits `durable()` before it sends its next request, so after
`kill -9` only the requests in flight at that moment (at most --concurrency) are asked
again, at any server speed. A commit is durable against a killed process (WAL); rows
leave the buffer only once their commit succeeded, so a locked or full disk loses
nothing that was received: the run waits for a lock (up to LOCK_WAIT) and otherwise
stops with a StoreError sentence.

One run directory, one writer: `lock_run_dir` takes an exclusive lock that a second
eval or rescore on the same directory is refused with, naming the first one's pid.
Every text stored passes through the secret scrubber first.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

from evalpack.errors import StoreError
from evalpack.scrub import scrub

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

LOCK_WAIT = 60.0  # seconds a commit waits for another process's lock on run.db before the run stops
# benchmarks/group_commit.py sets this to measure what waiting for durability costs; never in use
WAIT_FOR_COMMIT = os.environ.get("EVALPACK_BENCH_NO_COMMIT_WAIT") != "1"


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
    return None if value is None else scrub(json.dumps(value, ensure_ascii=False))


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):  # a damaged row is shown as it is, never a crash
        return text


def _describe(path: Path, e: Exception) -> str:
    reason = str(e)
    if "locked" in reason or "busy" in reason:
        return (f"{path} stayed locked by another process for {LOCK_WAIT:.0f} s ({reason}); stop it, then "
                f"run the same command again to resume")
    if "full" in reason:
        return f"cannot write {path}: the disk is full ({reason}); free space, then run the same command again"
    if "not a database" in reason or "malformed" in reason:
        return f"{path} is not a readable evalpack run store ({reason}); it is damaged or not a run.db"
    return f"cannot use {path} ({reason}); check that the run directory is writable"


class RunStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = self._connect()
            self.db.executescript(SCHEMA)
            # keys of stored calls, so that a fresh run does not query the database per request
            self._known = {r[0] for r in self.db.execute("SELECT key FROM calls")}
        except (sqlite3.Error, OSError) as e:
            raise StoreError(_describe(self.path, e)) from None
        self._pending_calls: dict[str, tuple] = {}
        self._pending_results: list[tuple] = []
        self._writer: sqlite3.Connection | None = None  # opened on first write, used under _write_lock
        self._write_lock = threading.Lock()
        self._thread: ThreadPoolExecutor | None = None
        self._put = 0  # rows handed to the store
        self._durable = 0  # rows known to be committed
        self._commit: asyncio.Future | None = None
        self._failure: StoreError | None = None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False,
                             timeout=LOCK_WAIT)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

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
        self._raise_failure()
        self._known.add(key)
        self._pending_calls[key] = (key, benchmark, sample_id, repeat, _pack(scrub(request_json)),
                                    _pack(_dumps(response)), latency, time.time())
        self._put += 1
        self._start_commit()

    # --- results ---
    def done(self, benchmark: str, variant: str) -> set[tuple[str, int]]:
        """(sample_id, repeat) pairs with a stored result that is not an error."""
        self.flush()
        rows = self.db.execute("SELECT sample_id, repeat FROM results WHERE benchmark=? AND variant=? "
                               "AND error IS NULL", (benchmark, variant))
        return {(r[0], r[1]) for r in rows}

    def put_result(self, benchmark: str, variant: str, row: dict) -> None:
        self._raise_failure()
        self._pending_results.append((
            benchmark, variant, row["sample_id"], row["repeat"], row.get("subset"),
            _dumps(row.get("target")), _dumps(row.get("metadata") or {}), _dumps(row.get("output")),
            row.get("score"), _dumps(row.get("extracted")), int(bool(row.get("unparsed"))),
            _dumps(row.get("detail") or {}), scrub(row.get("error")), row.get("latency"),
            _dumps(row.get("usage") or {}), time.time()))
        self._put += 1
        self._start_commit()

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
        try:
            cur = self.db.execute(query, params)
        except sqlite3.Error as e:
            raise StoreError(_describe(self.path, e)) from None
        cols = [c[0] for c in cur.description]
        for values in cur:
            row = dict(zip(cols, values))
            for k in ("target", "metadata", "output", "extracted", "detail", "usage"):
                row[k] = _loads(row[k])
            for k in ("metadata", "detail", "usage"):
                if not isinstance(row[k], dict):
                    row[k] = {}
            if not isinstance(row["score"], (int, float)) or isinstance(row["score"], bool):
                row["score"] = None
            if row["error"] is not None and not isinstance(row["error"], str):
                row["error"] = str(row["error"])
            row["unparsed"] = bool(row["unparsed"])
            yield row

    def update_scores(self, benchmark: str, variant: str, updates: list[dict]) -> None:
        """Rewrite scores in one transaction (rescore). Each update: sample_id, repeat, score,
        extracted, unparsed, detail, error."""
        self.flush()
        rows = [(u["score"], _dumps(u["extracted"]), int(bool(u["unparsed"])), _dumps(u["detail"] or {}),
                 scrub(u["error"]), benchmark, variant, u["sample_id"], u["repeat"]) for u in updates]
        with self._write_lock:
            self._execute(lambda db: db.executemany(
                "UPDATE results SET score=?, extracted=?, unparsed=?, detail=?, error=? "
                "WHERE benchmark=? AND variant=? AND sample_id=? AND repeat=?", rows))

    def calls_for(self, wanted: set[tuple[str, str, int]]) -> dict[tuple[str, str, int], list[tuple[dict, dict]]]:
        """(benchmark, sample_id, repeat) -> [(request, response), ...] in call order."""
        self.flush()
        out: dict[tuple[str, str, int], list[tuple[dict, dict]]] = {}
        for bench in {w[0] for w in wanted}:
            for b, sid, rep, req, resp in self.db.execute(
                    "SELECT benchmark, sample_id, repeat, request, response FROM calls WHERE benchmark=? "
                    "ORDER BY rowid", (bench,)):
                if (b, sid, rep) in wanted:
                    try:
                        pair = (json.loads(_unpack(req)), json.loads(_unpack(resp)))
                    except (ValueError, TypeError, zlib.error):
                        continue  # a damaged call is left out of the report, never a crash
                    out.setdefault((b, sid, rep), []).append(pair)
        return out

    def replies_of(self, benchmark: str, wanted: set[tuple[str, int]]) -> dict[tuple[str, int], dict[str, dict]]:
        """(sample_id, repeat) -> {call key: reply} of the stored calls of those pairs: what a Ray
        worker replays when it resumes a sample (ray_pool.py). One scan of the benchmark's calls."""
        self.flush()
        out: dict[tuple[str, int], dict[str, dict]] = {}
        if not wanted:
            return out
        for key, sid, rep, resp in self.db.execute(  # the model's calls and a judge's (context.py)
                "SELECT key, sample_id, repeat, response FROM calls WHERE benchmark IN (?, ?)",
                (benchmark, f"{benchmark}/judge")):
            if (sid, rep) in wanted:
                try:
                    out.setdefault((sid, rep), {})[key] = json.loads(_unpack(resp))
                except (ValueError, TypeError, zlib.error):
                    continue  # a damaged reply is asked again
        return out

    def call_timings(self, benchmark: str) -> list[tuple[float, float, dict]]:
        """(created, latency, response) of every stored call of a benchmark, for the per-dataset
        latency and throughput in report.json."""
        self.flush()
        return [(created, latency or 0.0, json.loads(_unpack(resp))) for created, latency, resp in self.db.execute(
            "SELECT created, latency, response FROM calls WHERE benchmark=? ORDER BY rowid", (benchmark,))]

    def requests(self) -> Iterator[dict]:
        """Every stored request the model was sent, in the order the calls were stored (`evalpack
        perf --replay`); a judge's requests (benchmark "<name>/judge", context.py) were another model's."""
        self.flush()
        for (req,) in self.db.execute("SELECT request FROM calls WHERE benchmark NOT LIKE '%/judge' ORDER BY rowid"):
            yield json.loads(_unpack(req))

    # --- merge ---
    def absorb(self, other: Path, keep: dict[str, str]) -> dict[str, int]:
        """Copy another run store's results of the benchmarks in `keep` (benchmark -> variant) and
        those benchmarks' calls into this one (`evalpack merge`). The other file is opened read-only;
        its text was scrubbed when it was stored and is copied as it is. A result already here
        stays, unless it is an error and the other one is not (a shard run twice, once failing)."""
        self.flush()
        src = open_read_only(Path(other))
        counts = {"results": 0, "results_new": 0, "calls": 0, "calls_new": 0}

        def write(db: sqlite3.Connection) -> None:
            for bench, variant in keep.items():
                rows = src.execute("SELECT * FROM results WHERE benchmark=? AND variant=? ORDER BY rowid",
                                   (bench, variant)).fetchall()
                before = db.total_changes
                db.executemany(
                    "INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT(benchmark, variant, sample_id, repeat) DO UPDATE SET subset=excluded.subset, "
                    "target=excluded.target, metadata=excluded.metadata, output=excluded.output, "
                    "score=excluded.score, extracted=excluded.extracted, unparsed=excluded.unparsed, "
                    "detail=excluded.detail, error=excluded.error, latency=excluded.latency, "
                    "usage=excluded.usage, created=excluded.created "
                    "WHERE results.error IS NOT NULL AND excluded.error IS NULL", rows)
                counts["results"] += len(rows)
                counts["results_new"] += db.total_changes - before
                calls = src.execute("SELECT * FROM calls WHERE benchmark=? ORDER BY rowid", (bench,)).fetchall()
                before = db.total_changes
                db.executemany("INSERT OR IGNORE INTO calls VALUES (?,?,?,?,?,?,?,?)", calls)
                counts["calls"] += len(calls)
                counts["calls_new"] += db.total_changes - before
                self._known.update(c[0] for c in calls)

        try:
            with self._write_lock:
                self._execute(write)
        except sqlite3.Error as e:
            raise StoreError(_describe(Path(other), e)) from None
        finally:
            src.close()
        return counts

    # --- durability ---
    async def durable(self) -> None:
        """Return once every row handed to the store so far is committed (group commit)."""
        target = self._put
        if not WAIT_FOR_COMMIT:
            self._start_commit()
            return
        while self._durable < target:
            self._raise_failure()
            self._start_commit()
            await asyncio.shield(self._commit)
        self._raise_failure()

    def _start_commit(self) -> None:
        """Start a commit on the writer thread unless one is running (it takes what is pending)."""
        if self._commit is not None and not self._commit.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (rescore, report): flush() commits synchronously
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="evalpack-store")
        self._commit = loop.run_in_executor(self._thread, self._write_pending)
        self._commit.add_done_callback(lambda f: f.cancelled() or f.exception())

    def _write_pending(self) -> None:
        """Commit what is pending; rows leave the buffers only after their commit succeeded."""
        with self._write_lock:
            upto = self._put
            calls = list(self._pending_calls.items())
            results = self._pending_results[:]
            if not calls and not results:
                self._durable = max(self._durable, upto)
                return

            def write(db: sqlite3.Connection) -> None:
                if calls:
                    db.executemany("INSERT OR REPLACE INTO calls VALUES (?,?,?,?,?,?,?,?)",
                                   [v for _, v in calls])
                if results:
                    db.executemany("INSERT OR REPLACE INTO results VALUES "
                                   "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", results)

            try:
                self._execute(write)
            except StoreError as e:
                self._failure = e
                raise
            for key, value in calls:
                if self._pending_calls.get(key) is value:
                    del self._pending_calls[key]
            del self._pending_results[:len(results)]
            self._durable = max(self._durable, upto)

    def _execute(self, write) -> None:
        """One write transaction on the writer connection (caller holds _write_lock)."""
        try:
            if self._writer is None:
                self._writer = self._connect()
            db = self._writer
            db.execute("BEGIN IMMEDIATE")
            try:
                write(db)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    try:
                        db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass  # the original error is the one to report
                raise
        except (sqlite3.Error, OSError) as e:
            raise StoreError(_describe(self.path, e)) from None

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def flush(self) -> None:
        """Commit what is pending, now (raises StoreError, keeping the rows, when it cannot)."""
        if self._pending_calls or self._pending_results:
            self._failure = None  # try again: the disk may have been freed or the lock released
            self._write_pending()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._thread is not None:
                self._thread.shutdown(wait=True)
            if self._writer is not None:
                self._writer.close()
            self.db.close()


def open_read_only(path: Path) -> sqlite3.Connection:
    """Another run's store, read without writing a byte beside it. A store closed cleanly has no
    -wal file (the last writer checkpointed it into run.db), and is opened as immutable: a WAL
    database opened read-only otherwise gets -wal and -shm files made. One left by a killed run
    still holds rows, so that one is read through them."""
    path = Path(path)
    wal = path.with_name(path.name + "-wal")
    mode = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
    try:
        return sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True, timeout=LOCK_WAIT)
    except sqlite3.Error as e:
        raise StoreError(_describe(path, e)) from None


class RunDirLock:
    """An exclusive lock on a run directory, held while one process writes it."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / "evalpack.lock"
        self._fd: int | None = None

    def acquire(self) -> "RunDirLock":
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StoreError(f"cannot use the run directory {self.path.parent} ({e.strerror}); "
                             f"choose a writable --work-dir") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            other = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreError(f"another evalpack (pid {other}) is writing {self.path.parent}; wait for it to "
                             f"finish (or stop it) and run again, or use --fresh for a separate run "
                             f"directory") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    @staticmethod
    def holder(run_dir: Path) -> str | None:
        """The pid of the process writing `run_dir` now, or None; the lock file is only read."""
        import fcntl

        try:
            fd = os.open(Path(run_dir) / "evalpack.lock", os.O_RDONLY)
        except OSError:
            return None  # never locked, or not readable: nothing writes it through evalpack
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return None
        except OSError:
            return os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        finally:
            os.close(fd)  # closing releases the shared lock, if taken

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None

    def __enter__(self) -> "RunDirLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
