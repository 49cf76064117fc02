"""The run store (store.py) on its own: group commit, durability against a killed process, the
run-directory lock, a run.db locked by another connection, a full disk, and the call cache's
keys. Real SQLite files in tmp_path, real subprocesses; nothing is mocked."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from conftest import SRC
from evalpack import store as store_module
from evalpack.errors import StoreError
from evalpack.store import RunDirLock, RunStore, call_key, canonical_json

BULK = "x" * 20000  # above COMPRESS_ABOVE: stored zlib-compressed
NOISE = os.urandom(40000).hex()  # incompressible: it needs new pages in run.db


def result_row(sample_id: str, score: float = 1.0, **extra) -> dict:
    return {"sample_id": sample_id, "repeat": 0, "subset": "s", "target": "A", "metadata": {"m": 1},
            "output": {"content": "ANSWER: A"}, "score": score, "extracted": "A", "unparsed": False,
            "detail": {}, "error": None, "latency": 0.1, "usage": {"total_tokens": 3}, **extra}


def rows_on_disk(path) -> tuple[int, int]:
    """(calls, results) as another connection sees them: what is committed."""
    db = sqlite3.connect(path)
    try:
        return (db.execute("SELECT COUNT(*) FROM calls").fetchone()[0],
                db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    finally:
        db.close()


def test_rows_are_committed_once_durable_returns(tmp_path):
    path = tmp_path / "run.db"
    store = RunStore(path)

    async def put_then_check():
        for i in range(50):
            store.put_call(f"k{i}", "mmlu", f"s{i}", 0, json.dumps({"i": i}), {"content": str(i)}, 0.01)
            store.put_result("mmlu", "v1", result_row(f"s{i}"))
        await store.durable()
        return rows_on_disk(path)

    assert asyncio.run(put_then_check()) == (50, 50)
    assert store._pending_calls == {} and store._pending_results == []
    store.close()


def test_durable_rows_survive_kill_9(tmp_path):
    """A child stores rows, awaits durable(), says so, and is killed with SIGKILL: the rows are there."""
    path = tmp_path / "run.db"
    code = (
        "import asyncio, os, signal, sys\n"
        "from evalpack.store import RunStore\n"
        f"store = RunStore({str(path)!r})\n"
        "async def main():\n"
        "    for i in range(20):\n"
        "        store.put_call(f'k{i}', 'mmlu', f's{i}', 0, '{}', {'content': 'ANSWER: B'}, 0.0)\n"
        "    await store.durable()\n"
        "    store.put_call('late', 'mmlu', 'late', 0, '{}', {'content': 'never committed'}, 0.0)\n"
        "    print('durable', flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(main())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(SRC)})
    assert proc.returncode == -signal.SIGKILL and proc.stdout.strip() == "durable", proc.stderr
    reread = RunStore(path)
    assert [reread.get_call(f"k{i}") for i in (0, 19)] == [{"content": "ANSWER: B"}] * 2
    reread.close()


def test_a_second_writer_of_a_run_dir_is_refused_with_the_first_ones_pid(tmp_path):
    first = RunDirLock(tmp_path).acquire()
    with pytest.raises(StoreError, match=rf"another evalpack \(pid {os.getpid()}\) is writing"):
        RunDirLock(tmp_path).acquire()
    code = ("import sys\nfrom evalpack.store import RunDirLock\nfrom evalpack.errors import StoreError\n"
            f"try:\n    RunDirLock({str(tmp_path)!r}).acquire()\nexcept StoreError as e:\n"
            "    print(e); sys.exit(4)\n")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYTHONPATH": str(SRC)})
    assert other.returncode == 4 and f"pid {os.getpid()}" in other.stdout  # another process too
    first.release()
    with RunDirLock(tmp_path):  # released: the next writer gets it
        pass


def store_locked_by_another(tmp_path):
    """A run store whose database another connection holds in an exclusive transaction."""
    path = tmp_path / "run.db"
    store = RunStore(path)
    store.flush()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return path, store, holder


def test_a_locked_database_is_waited_for_and_nothing_is_lost(tmp_path):
    path, store, holder = store_locked_by_another(tmp_path)

    async def main():
        store.put_result("mmlu", "v1", result_row("s1"))
        waiting = asyncio.create_task(store.durable())
        assert store._commit is not None and not store._commit.done()  # blocked by the other lock
        holder.execute("ROLLBACK")  # the other process lets go: the same commit goes through
        await waiting

    asyncio.run(main())
    holder.close()
    assert rows_on_disk(path) == (0, 1)
    store.close()


def test_a_lock_held_past_the_wait_stops_with_a_sentence_and_keeps_the_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "LOCK_WAIT", 0.2)  # the wait, shortened (60 s in a run)
    path, store, holder = store_locked_by_another(tmp_path)

    async def main():
        store.put_call("k1", "mmlu", "s1", 0, "{}", {"content": "A"}, 0.0)
        await store.durable()

    with pytest.raises(StoreError, match="stayed locked by another process"):
        asyncio.run(main())
    assert "k1" in store._pending_calls
    holder.execute("ROLLBACK")
    holder.close()
    store.close()  # the rows reach the disk once the lock is gone
    assert rows_on_disk(path) == (1, 0)


def test_a_full_disk_keeps_the_rows_and_says_so(tmp_path):
    """SQLite's page limit gives the same SQLITE_FULL a full disk does."""
    store = RunStore(tmp_path / "run.db")
    store.flush()
    with store._write_lock:
        store._writer = store._connect()
        pages = store._writer.execute("PRAGMA page_count").fetchone()[0]
        store._writer.execute(f"PRAGMA max_page_count={pages}")

    async def put_and_wait() -> None:
        store.put_call("k1", "mmlu", "s1", 0, '{"q": 1}', {"content": NOISE}, 0.1)
        await store.durable()

    with pytest.raises(StoreError, match="disk is full"):
        asyncio.run(put_and_wait())
    assert "k1" in store._pending_calls  # nothing received was dropped
    with pytest.raises(StoreError):
        store.put_call("k2", "mmlu", "s2", 0, "{}", {}, 0.1)  # the run stops instead of going on
    store._writer.execute("PRAGMA max_page_count=1000000")  # space freed: the rows reach the disk
    store.close()
    reread = RunStore(tmp_path / "run.db")
    assert reread.get_call("k1") == {"content": NOISE}
    reread.close()


def test_call_keys_tell_apart_body_benchmark_sample_and_repeat():
    body = canonical_json({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0})
    assert body == canonical_json({"temperature": 0, "messages": [{"content": "hi", "role": "user"}], "model": "m"})
    base = call_key(body, "mmlu", "s1", 0)
    others = {call_key(body, "ceval", "s1", 0), call_key(body, "mmlu", "s2", 0), call_key(body, "mmlu", "s1", 1),
              call_key(canonical_json({"model": "m", "messages": [], "temperature": 0}), "mmlu", "s1", 0)}
    assert base not in others and len(others) == 4


def test_get_call_sees_pending_then_stored_replies_and_long_ones_round_trip(tmp_path):
    store = RunStore(tmp_path / "run.db")
    assert store.get_call("nope") is None
    store.put_call("short", "mmlu", "s1", 0, canonical_json({"q": 1}), {"content": "ANSWER: C"}, 0.2)
    store.put_call("long", "mmlu", "s2", 0, canonical_json({"q": BULK}), {"content": BULK}, 0.2)
    assert store.get_call("short") == {"content": "ANSWER: C"}  # before any commit
    store.close()
    reread = RunStore(tmp_path / "run.db")
    assert reread.get_call("short") == {"content": "ANSWER: C"} and reread.get_call("long") == {"content": BULK}
    assert [r["q"] for r in reread.requests()] == [1, BULK]
    raw = sqlite3.connect(tmp_path / "run.db").execute("SELECT response FROM calls WHERE key='long'").fetchone()[0]
    assert isinstance(raw, bytes) and len(raw) < 1000  # compressed on disk
    reread.close()


def test_results_round_trip_done_and_rescore_updates(tmp_path):
    store = RunStore(tmp_path / "run.db")
    store.put_result("mmlu", "v1", result_row("s1"))
    store.put_result("mmlu", "v1", result_row("s2", score=0.0, error="timeout", output=None))
    store.put_result("mmlu", "v2", result_row("s1", score=0.0))
    assert store.done("mmlu", "v1") == {("s1", 0)}  # an error is not done: it is retried
    rows = list(store.results("mmlu", "v1"))
    assert [(r["sample_id"], r["score"], r["error"]) for r in rows] == [("s1", 1.0, None), ("s2", 0.0, "timeout")]
    assert rows[0]["metadata"] == {"m": 1} and rows[0]["output"] == {"content": "ANSWER: A"}
    store.update_scores("mmlu", "v1", [{"sample_id": "s1", "repeat": 0, "score": 0.5, "extracted": "B",
                                        "unparsed": True, "detail": {"why": "rescored"}, "error": None}])
    again = next(store.results("mmlu", "v1"))
    assert (again["score"], again["extracted"], again["unparsed"], again["detail"]) == (0.5, "B", True, {"why": "rescored"})
    assert next(store.results("mmlu", "v2"))["score"] == 0.0  # another variant is untouched
    store.close()


def test_secrets_never_reach_the_database(tmp_path):
    from evalpack.scrub import add_secret

    add_secret("sk-test-store-secret-123456")
    store = RunStore(tmp_path / "run.db")
    store.put_call("k", "mmlu", "s", 0, '{"api_key": "sk-test-store-secret-123456"}',
                   {"content": "your key is sk-test-store-secret-123456"}, 0.0)
    store.put_result("mmlu", "v", result_row("s", error="refused sk-test-store-secret-123456"))
    store.close()
    assert b"sk-test-store-secret-123456" not in (tmp_path / "run.db").read_bytes()
    assert "***" in RunStore(tmp_path / "run.db").get_call("k")["content"]


def test_a_file_that_is_not_a_database_is_one_sentence(tmp_path):
    (tmp_path / "run.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a readable evalpack run store"):
        RunStore(tmp_path / "run.db")
