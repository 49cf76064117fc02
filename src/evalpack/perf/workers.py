"""`--workers N`: one level sent from N processes, for servers faster than one Python process
can drive (or a machine where one process does not get enough of the CPU).

Each process gets its share of the concurrency (closed loop) or every N-th due time (open
loop), its own connections and warm-up; all start together (two barriers: ready, then go, with
the open loop's origin set in between) and hand their records back. Timestamps are
time.perf_counter(), the machine-wide monotonic clock, so records of all processes merge.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from dataclasses import dataclass


@dataclass
class Share:
    api_urls: list[str]
    model: str
    api_key: str | None
    timeout: float
    items: list  # this process's Items, in order
    warm: list
    parallel: int | None = None  # closed loop
    number: int | None = None
    duration: float | None = None
    offsets: list[float] | None = None  # open loop
    max_concurrency: int | None = None


def _run_share(share: Share, ready, go, origin, results) -> None:
    from evalpack.client import ModelClient
    from evalpack.perf.load import LoopLag, Sender, closed_loop, open_loop

    async def main():
        top = max(share.parallel or 1, share.max_concurrency or 1, 64 if share.offsets is not None else 1)
        client = ModelClient(share.api_urls, share.model, share.api_key, concurrency=top * 4,
                             timeout=share.timeout, retries=0)
        try:
            sender = Sender(client)
            if share.warm:
                await closed_loop(sender, iter(share.warm), min(len(share.warm), share.parallel or len(share.warm)),
                                  len(share.warm), None)
            await asyncio.get_running_loop().run_in_executor(None, ready.wait)
            await asyncio.get_running_loop().run_in_executor(None, go.wait)
            pool = _cycle(share.items)
            with LoopLag() as lag:
                if share.offsets is not None:
                    records = await open_loop(sender, pool, share.offsets, share.max_concurrency, origin.value)
                else:
                    records = await closed_loop(sender, pool, share.parallel, share.number, share.duration)
            return records, lag.lags
        finally:
            await client.close()

    try:
        results.put(("ok", asyncio.run(main())))
    except BaseException as e:  # noqa: BLE001 - the parent reports it
        results.put(("error", f"{type(e).__name__}: {e}"))
        ready.abort()
        go.abort()


def _cycle(items):
    while True:
        yield from items


def run_level(shares: list[Share]) -> tuple[list, list[float]]:
    """Run the shares in their own processes; (all records, all loop lags)."""
    from evalpack.errors import EvalpackError

    ctx = multiprocessing.get_context("spawn")  # no inherited event loop or sockets
    ready, go = ctx.Barrier(len(shares) + 1), ctx.Barrier(len(shares) + 1)
    origin = ctx.Value("d", 0.0)
    results = ctx.Queue()
    procs = [ctx.Process(target=_run_share, args=(s, ready, go, origin, results), daemon=True) for s in shares]
    for p in procs:
        p.start()
    try:
        ready.wait()
        origin.value = time.perf_counter() + 0.05
        go.wait()
    except Exception:  # a worker failed before the start (its error is in the queue)
        pass
    import queue

    records, lags, errors = [], [], []
    done = 0
    while done < len(procs):
        try:
            status, value = results.get(timeout=1.0)
        except queue.Empty:
            if not any(p.is_alive() for p in procs) and results.empty():
                errors.append("a worker process died without a result")
                break
            continue
        done += 1
        if status == "ok":
            records += value[0]
            lags += value[1]
        else:
            errors.append(value)
    for p in procs:
        p.join()
    if errors:
        raise EvalpackError(f"a --workers process failed: {errors[0]}")
    return records, lags
