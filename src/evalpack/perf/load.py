"""Load shapes: a closed loop at a fixed concurrency, or an open loop at a request rate.

Each request goes through the one HTTP client (evalpack.client) with retries off, so a
failure is counted by its kind instead of hidden in a longer latency. Every request leaves a
`Record` with absolute send time (time.perf_counter) and the offsets the client noted.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from dataclasses import dataclass, field
from typing import Iterator

from evalpack.client import ModelClient
from evalpack.errors import ModelCallError


@dataclass
class Item:
    """One thing to send: a request body, or a conversation played turn by turn."""
    body: dict
    turns: list[str] | None = None  # user turns after the first one (multi-turn chats)
    payload: bytes | None = None

    def encoded(self) -> bytes:
        if self.payload is None:
            self.payload = json.dumps(self.body, ensure_ascii=False).encode()
        return self.payload


@dataclass
class Record:
    start: float  # perf_counter at send
    e2e: float | None = None
    ttft: float | None = None
    itl: list[float] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error_kind: str | None = None
    error: str | None = None
    server_timings: dict | None = None
    cached_tokens: int | None = None  # usage.prompt_tokens_details.cached_tokens (vLLM, SGLang, OpenAI)
    scheduled: float | None = None  # open loop: when it was due (perf_counter)
    turn: int = 0
    output_counted: str = "usage"  # or "tokenizer", "deltas": where completion_tokens came from
    content: str = field(default="", repr=False)  # kept for the next turn of a conversation

    @property
    def ok(self) -> bool:
        return self.error_kind is None

    @property
    def tpot(self) -> float | None:
        if self.ttft is None or self.e2e is None or not self.completion_tokens or self.completion_tokens < 2:
            return None
        return (self.e2e - self.ttft) / (self.completion_tokens - 1)

    def to_json(self, origin: float) -> dict:
        return {"start": self.start - origin, "e2e": self.e2e, "ttft": self.ttft, "tpot": self.tpot,
                "itl": self.itl, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "error_kind": self.error_kind,
                "error": self.error, "turn": self.turn,
                **({"scheduled": self.scheduled - origin} if self.scheduled is not None else {}),
                **({"server_timings": self.server_timings} if self.server_timings else {})}


class Sender:
    """Sends items and turns replies into Records."""

    def __init__(self, client: ModelClient, counter=None) -> None:
        self.client = client
        self.counter = counter  # counts output tokens when the server sends no usage

    async def send(self, item: Item, scheduled: float | None = None) -> list[Record]:
        if not item.turns:
            return [await self._one(item.body, item.encoded(), scheduled)]
        records = []
        body = dict(item.body)
        messages = list(body["messages"])
        for turn, text in enumerate([None] + item.turns):
            if text is not None:
                messages.append({"role": "user", "content": text})
            body["messages"] = messages
            rec = await self._one(body, None, scheduled if turn == 0 else None, turn)
            records.append(rec)
            if not rec.ok:
                break
            messages.append({"role": "assistant", "content": rec.content})
        return records

    async def _one(self, body: dict, payload: bytes | None, scheduled: float | None, turn: int = 0) -> Record:
        rec = Record(start=time.perf_counter(), scheduled=scheduled, turn=turn)
        try:
            reply = await self.client.chat(body, payload)
        except ModelCallError as e:
            rec.error_kind, rec.error = e.kind, str(e)[:300]
            rec.e2e = time.perf_counter() - rec.start
            return rec
        rec.e2e = reply.latency
        rec.ttft = reply.ttft
        times = reply.chunk_times or []
        rec.itl = [b - a for a, b in zip(times, times[1:])]
        usage = reply.usage or {}
        rec.prompt_tokens = usage.get("prompt_tokens")
        details = usage.get("prompt_tokens_details")
        if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
            rec.cached_tokens = details["cached_tokens"]
        rec.completion_tokens = usage.get("completion_tokens")
        text = (reply.reasoning or "") + (reply.content or "")
        if rec.completion_tokens is None:
            rec.output_counted = "tokenizer" if self.counter else "deltas"
            rec.completion_tokens = self.counter.count(text) if self.counter else len(times)
        rec.server_timings = reply.server_timings
        rec.content = reply.content or ""
        return rec


def arrival_offsets(n: int, rate: float, burstiness: float, seed: int, constant: bool = False) -> list[float]:
    """When each of n requests is due, in seconds from the first.

    Gaps are gamma-distributed with shape `burstiness` and mean 1/rate (shape 1 is a Poisson
    process; below 1 burstier, above 1 more regular), as in vLLM's bench serve. The gaps are
    then scaled so that the last request is due at exactly (n-1)/rate: the arrival pattern is
    the process conditioned on that span, and the achieved rate is the target, not a draw."""
    if n <= 1:
        return [0.0] * n
    if constant:
        return [i / rate for i in range(n)]
    rng = random.Random(seed)
    gaps = [rng.gammavariate(burstiness, 1.0 / (rate * burstiness)) for _ in range(n - 1)]
    scale = ((n - 1) / rate) / sum(gaps)
    out, t = [0.0], 0.0
    for g in gaps:
        t += g * scale
        out.append(t)
    return out


async def closed_loop(sender: Sender, items: Iterator[Item], parallel: int, number: int | None,
                      duration: float | None) -> list[Record]:
    """`parallel` workers, each sending its next request as soon as its last one ends."""
    records: list[Record] = []
    issued = 0
    deadline = time.perf_counter() + duration if duration else math.inf

    async def worker() -> None:
        nonlocal issued
        while (number is None or issued < number) and time.perf_counter() < deadline:
            issued += 1
            records.extend(await sender.send(next(items)))

    await asyncio.gather(*(worker() for _ in range(parallel)))
    return records


async def open_loop(sender: Sender, items: Iterator[Item], offsets: list[float], max_concurrency: int | None,
                    origin: float | None = None) -> list[Record]:
    """Requests sent when due (origin + offset, perf_counter), whatever is still in flight (up to
    max_concurrency, if set)."""
    limit = asyncio.Semaphore(max_concurrency) if max_concurrency else None
    results: list[list[Record]] = []

    async def fire(item: Item, due: float) -> None:
        if limit is None:
            results.append(await sender.send(item, due))
            return
        async with limit:
            results.append(await sender.send(item, due))

    origin = time.perf_counter() + 0.01 if origin is None else origin
    tasks = []
    for offset in offsets:
        due = origin + offset
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(fire(next(items), due)))
    await asyncio.gather(*tasks)
    return [r for rs in results for r in rs]


class LoopLag:
    """How late the event loop wakes a 10 ms timer: when the client itself is the bottleneck,
    this grows, and the latencies it measured grow with it."""

    def __init__(self, period: float = 0.01) -> None:
        self.period, self.lags = period, []
        self._task: asyncio.Future | None = None

    async def _run(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(self.period)
            self.lags.append(max(0.0, time.perf_counter() - t - self.period))

    def __enter__(self) -> "LoopLag":
        self._task = asyncio.ensure_future(self._run())
        return self

    def __exit__(self, *exc) -> None:
        self._task.cancel()
