"""The worker pool (pool.py) with the real Context, RunStore and ModelClient against an aiohttp
server on 127.0.0.1: the concurrency bound, errors kept per sample, a fatal error stopping the
workers, a slow scorer running beside the requests, and a benchmark bug recorded, not raised.
The benchmark is a small one written here (a Benchmark subclass, not registered); every
wait is on an event the server or the scorer sets, never on a sleep."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from evalpack.benchmarks.base import Benchmark
from evalpack.client import ModelClient
from evalpack.context import Context
from evalpack.plan import Plan
from evalpack.pool import Pool
from evalpack.store import RunStore
from evalpack.types import Sample, Score
from in_process_server import InProcessServer


class Letters(Benchmark):
    """Asks one question per sample; right when the reply is the sample's target."""

    name = "pool_test"
    subsets = ("a", "b")

    def score(self, sample: Sample, output: dict, args: dict) -> Score:
        if output["content"] == "RAISE":
            raise ValueError("a scorer bug")
        return Score(value=float(output["content"] == sample.target), extracted=output["content"])


def samples(n: int) -> list[Sample]:
    return [Sample(id=f"q{i}", subset="ab"[i % 2], target="A",
                   messages=[{"role": "user", "content": f"question {i}"}]) for i in range(n)]


class Server(InProcessServer):
    """Answers each question with `answer(question_text)`; `hold` may delay a reply (awaitable)."""

    route = ("POST", "/v1/chat/completions")

    def __init__(self, answer=lambda q: "A", hold=None) -> None:
        super().__init__()
        self.answer, self.hold = answer, hold
        self.seen: list[str] = []
        self.inflight = self.max_inflight = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        question = body["messages"][-1]["content"]
        self.seen.append(question)
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            if self.hold is not None:
                await self.hold(self)
            reply = self.answer(question)
        finally:
            self.inflight -= 1
        if isinstance(reply, int):
            return web.json_response({"error": {"message": f"status {reply}"}}, status=reply)
        return web.json_response({"choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                                               "finish_reason": "stop"}], "usage": {"total_tokens": 2}})


async def run_pool(server: Server, bench: Benchmark, items: list[Sample], tmp_path, concurrency: int = 4):
    store = RunStore(tmp_path / "run.db")
    client = ModelClient([server.url], "m", retries=0, concurrency=concurrency)
    args = bench.resolve_args({})
    plan = Plan(bench, args, items, "h1")
    rows: list[dict] = []

    def make_context(plan, sample, repeat):
        return Context(store=store, client=client, model="m", benchmark=bench.name, sample_id=sample.id,
                       repeat=repeat, args=args, generation={}, client_for=lambda *a: client)

    def record(plan, row):
        store.put_result(bench.name, plan.settings_hash, row)
        rows.append(row)

    pool = Pool(make_context, record, concurrency, quiet=True)
    try:
        await asyncio.wait_for(pool.run(plan, [(s, 0) for s in items]), 60)
    finally:
        await client.close()
        stored = list(store.results(bench.name, "h1"))
        store.close()
    return pool, rows, stored


def test_no_more_requests_in_flight_than_the_concurrency(tmp_path):
    async def barrier(server):  # each batch of 3 waits for its third: fewer workers would never get there
        if server.inflight % 3 == 0:
            server.release.set()
        await server.release.wait()
        if server.inflight == 1:
            server.release.clear()

    async def main():
        async with Server(hold=barrier) as server:
            server.release = asyncio.Event()
            pool, rows, stored = await run_pool(server, Letters(), samples(12), tmp_path, concurrency=3)
            return server, rows, stored

    server, rows, stored = asyncio.run(main())
    assert server.max_inflight == 3 and len(server.seen) == 12
    assert len(stored) == 12 and all(r["score"] == 1.0 and r["error"] is None for r in stored)


def test_a_failed_call_is_that_samples_error_and_the_others_go_on(tmp_path):
    async def main():
        async with Server(answer=lambda q: 400 if q == "question 3" else ("B" if q == "question 4" else "A")) as s:
            return await run_pool(s, Letters(), samples(8), tmp_path)

    pool, rows, stored = asyncio.run(main())
    by_id = {r["sample_id"]: r for r in stored}
    assert pool.fatal is None and len(by_id) == 8
    assert by_id["q3"]["error"].startswith("HTTP 400") and by_id["q3"]["score"] is None
    assert by_id["q4"]["score"] == 0.0 and by_id["q4"]["extracted"] == "B"
    assert sum(r["score"] == 1.0 for r in stored) == 6


def test_a_refused_key_stops_the_workers(tmp_path):
    async def main():
        async with Server(answer=lambda q: 401) as s:
            pool, rows, stored = await run_pool(s, Letters(), samples(40), tmp_path, concurrency=2)
            return pool, stored, s.seen

    pool, stored, seen = asyncio.run(main())
    assert pool.fatal and "refused the API key" in pool.fatal
    assert len(seen) <= 2 and len(stored) == len(seen)  # no worker asked again after the refusal


def test_a_slow_scorer_runs_beside_the_requests(tmp_path):
    """Each score waits until the server has seen every request: it can finish only if the
    workers go on sending while scores are pending."""
    all_sent = None

    class SlowScorer(Letters):
        name = "pool_test_slow"

        async def score(self, sample, output, args):
            await all_sent.wait()
            return Score(value=1.0, extracted=output["content"])

    def answer(question):
        if len(server.seen) == 10:
            all_sent.set()
        return "A"

    async def main():
        nonlocal all_sent, server
        all_sent = asyncio.Event()
        async with Server(answer=answer) as server:
            return await run_pool(server, SlowScorer(), samples(10), tmp_path, concurrency=2)

    server = None
    pool, rows, stored = asyncio.run(main())
    assert len(stored) == 10 and all(r["score"] == 1.0 for r in stored)


def test_scorer_and_solve_bugs_are_recorded_not_raised(tmp_path):
    class Buggy(Letters):
        name = "pool_test_buggy"

        async def solve(self, sample, ctx):
            if sample.id == "q1":
                raise KeyError("a solve bug")
            return await super().solve(sample, ctx)

    async def main():
        async with Server(answer=lambda q: "RAISE" if q == "question 2" else "A") as s:
            return await run_pool(s, Buggy(), samples(4), tmp_path)

    pool, rows, stored = asyncio.run(main())
    by_id = {r["sample_id"]: r for r in stored}
    assert by_id["q1"]["error"] == "KeyError: 'a solve bug'"
    assert by_id["q2"]["error"] == "scoring failed: ValueError: a scorer bug"
    assert by_id["q0"]["score"] == by_id["q3"]["score"] == 1.0
    assert by_id["q0"]["usage"] == {"total_tokens": 2} and by_id["q0"]["latency"] > 0


@pytest.mark.parametrize("concurrency", [1, 5])
def test_every_pair_is_stored_once(tmp_path, concurrency):
    async def main():
        async with Server() as s:
            return await run_pool(s, Letters(), samples(7), tmp_path, concurrency=concurrency)

    pool, rows, stored = asyncio.run(main())
    assert sorted(r["sample_id"] for r in stored) == sorted(f"q{i}" for i in range(7))
