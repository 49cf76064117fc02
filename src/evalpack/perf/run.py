"""Run the levels of a perf session (a concurrency sweep, a rate sweep, or an SLO search)."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from evalpack import __version__
from evalpack.client import ModelClient
from evalpack.errors import UsageError
from evalpack.perf import stats
from evalpack.perf.load import Item, LoopLag, Record, Sender, arrival_offsets, closed_loop, open_loop


@dataclass
class PerfConfig:
    api_urls: list[str]
    model: str
    api_key: str | None = None
    parallel: list[int] | None = None
    rate: list[float] | None = None
    number: list[int] | None = None
    duration: float | None = None
    burstiness: float = 1.0
    constant_rate: bool = False
    max_concurrency: int | None = None
    warmup: int | None = None  # None: one per concurrent request, so every connection is open
    seed: int = 0
    timeout: float = 600.0
    slo: dict[str, float] = field(default_factory=dict)
    attainment: float = 0.95
    search: str | None = None  # "concurrency" | "rate"
    search_max: float | None = None
    workers: int = 1


def default_number(parallel: int | None) -> int:
    return max(20, 4 * (parallel or 1))


class PerfSession:
    def __init__(self, cfg: PerfConfig, prompts, counter=None) -> None:
        self.cfg, self.prompts, self.counter = cfg, prompts, counter
        self.levels: list[dict] = []
        self.records: list[tuple[dict, list[Record]]] = []

    async def run(self) -> dict:
        cfg = self.cfg
        top = max([*(cfg.parallel or [1]), cfg.max_concurrency or 1, 64 if (cfg.rate or cfg.search) else 1])
        client = ModelClient(cfg.api_urls, cfg.model, cfg.api_key, concurrency=int(max(top, 1)) * 4,
                             timeout=cfg.timeout, retries=0)
        try:
            await client.preflight()
            sender = Sender(client, self.counter)
            await self.prompts.calibrate(sender)
            started = time.time()
            if cfg.search:
                search = await self._search(sender)
            else:
                search = None
                if cfg.rate:
                    for i, rate in enumerate(cfg.rate):
                        await self.level(sender, rate=rate, number=self._number(i, None, rate))
                else:
                    for i, par in enumerate(cfg.parallel or [1]):
                        await self.level(sender, parallel=par, number=self._number(i, par, None))
        finally:
            await client.close()
        return {"evalpack_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "model": cfg.model, "api_urls": cfg.api_urls, "prompts": self.prompts.describe(),
                "token_counting": self.prompts.note + "; output tokens: " + self._output_source(),
                "slo": cfg.slo or None, "slo_attainment_target": cfg.attainment if cfg.slo else None,
                "wall_seconds": time.time() - started, "levels": self.levels, "search": search}

    def _output_source(self) -> str:
        sources = {r.output_counted for _, rs in self.records for r in rs if r.ok}
        names = {"usage": "server usage (usage.completion_tokens)",
                 "tokenizer": f"counted with {getattr(self.counter, 'name', '')} (the server sent no usage)",
                 "deltas": "one per streamed delta (the server sent no usage; pass --tokenizer to count)"}
        return ", ".join(names[s] for s in sorted(sources)) or names["usage"]

    def _number(self, index: int, parallel: int | None, rate: float | None) -> int | None:
        cfg = self.cfg
        if cfg.number:
            return cfg.number[min(index, len(cfg.number) - 1)]
        if cfg.duration:
            return math.ceil(cfg.duration * rate) if rate else None
        return default_number(parallel or (cfg.max_concurrency if rate else 1))

    async def level(self, sender: Sender, *, parallel: int | None = None, rate: float | None = None,
                    number: int | None = None) -> dict:
        cfg = self.cfg
        items = self.prompts.iterate()  # fresh random prompts per level: no cache hits across levels
        warm = cfg.warmup if cfg.warmup is not None else (parallel or min(cfg.max_concurrency or 8, 64))
        warm_items = [_warmup_item(next(items)) for _ in range(warm)]
        # prompts are made before the clock starts: building them must not slow the sending
        ready = [next(items) for _ in range(number or max(1000, 20 * (parallel or 1)))]
        for item in ready:
            item.encoded()
        offsets = arrival_offsets(number, rate, cfg.burstiness, cfg.seed, cfg.constant_rate) if rate else None
        if cfg.workers > 1:
            records, lags = await self._in_processes(warm_items, ready, parallel, number, offsets)
        else:
            if warm_items:
                await closed_loop(sender, iter(warm_items), min(warm, parallel or warm), warm, None)
            pool = itertools.chain(ready, items)
            with LoopLag() as lag:
                if rate:
                    records = await open_loop(sender, pool, offsets, cfg.max_concurrency)
                else:
                    records = await closed_loop(sender, pool, parallel, number, cfg.duration)
            lags = lag.lags
        summary = stats.summarize(records, cfg.slo or None)
        summary["warmup_requests"] = warm
        summary["origin_perf_counter"] = min((r.start for r in records), default=0.0)
        summary["client_loop_lag"] = stats.describe(lags)
        summary["client_processes"] = cfg.workers
        level = {"parallel": parallel, "rate": rate, "burstiness": cfg.burstiness if rate else None,
                 "arrivals": ("constant" if cfg.constant_rate else "gamma") if rate else None,
                 "max_concurrency": cfg.max_concurrency if rate else None, **summary}
        if cfg.slo:
            level["slo_met"] = (summary["slo_attainment"] or 0.0) >= cfg.attainment
        self.levels.append(level)
        self.records.append((level, records))
        return level

    async def _in_processes(self, warm: list, items: list, parallel: int | None, number: int | None,
                            offsets: list[float] | None) -> tuple[list, list]:
        from evalpack.perf.workers import Share, run_level

        cfg, n = self.cfg, self.cfg.workers
        shares = []
        for k in range(n):
            share = Share(cfg.api_urls, cfg.model, cfg.api_key, cfg.timeout, items[k::n] or items[:1], warm[k::n])
            if offsets is not None:
                share.offsets = offsets[k::n]
                share.max_concurrency = -(-cfg.max_concurrency // n) if cfg.max_concurrency else None
            else:
                share.parallel = parallel // n + (k < parallel % n)
                share.number = None if number is None else number // n + (k < number % n)
                share.duration = cfg.duration
            if share.parallel != 0 and (share.number is None or share.number > 0):
                shares.append(share)
        return await asyncio.get_running_loop().run_in_executor(None, run_level, shares)

    async def _search(self, sender: Sender) -> dict:
        """Double the load until the SLO fails, then bisect between the last pass and the first fail."""
        cfg = self.cfg
        if not cfg.slo:
            raise UsageError("--search needs --slo, e.g. --slo ttft=500ms,tpot=50ms")
        by_rate = cfg.search == "rate"
        value = (cfg.rate or [1.0])[0] if by_rate else (cfg.parallel or [1])[0]
        cap = cfg.search_max or (1000.0 if by_rate else 512)
        probes: dict[float, bool] = {}

        async def probe(v: float) -> bool:
            if v not in probes:
                if by_rate:
                    lvl = await self.level(sender, rate=v, number=self._number(0, None, v) or default_number(
                        cfg.max_concurrency))
                else:
                    lvl = await self.level(sender, parallel=int(v), number=self._number(0, int(v), None))
                probes[v] = lvl["slo_met"]
            return probes[v]

        good, bad = None, None
        while value <= cap:
            if await probe(value):
                good = value
                value = value * 2
            else:
                bad = value
                break
        if good is not None and bad is not None:
            while (bad - good > 1) if not by_rate else (bad / good > 1.05):
                mid = (good + bad) / 2 if by_rate else (good + bad) // 2
                if await probe(mid):
                    good = mid
                else:
                    bad = mid
        return {"variable": cfg.search, "best": good, "first_failing": bad, "capped_at": cap if bad is None else None,
                "probes": [{"value": v, "slo_met": m} for v, m in probes.items()]}


def _warmup_item(item: Item) -> Item:
    """Warm-up requests open the connections and wake the server: one output token is enough."""
    body = {k: v for k, v in item.body.items() if k not in ("min_tokens", "ignore_eos")}
    return Item({**body, "max_tokens": 1}, None)


def write_outputs(result: dict, session: PerfSession, out_dir: Path) -> None:
    from evalpack.perf import output

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "perf.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    with open(out_dir / "requests.jsonl", "w", encoding="utf-8") as f:
        for level, records in session.records:
            origin = level["origin_perf_counter"]
            key = {"parallel": level["parallel"], "rate": level["rate"]}
            for r in records:
                f.write(json.dumps({**key, **r.to_json(origin)}) + "\n")
    (out_dir / "perf.html").write_text(output.html(result), encoding="utf-8")


def run(cfg: PerfConfig, prompts, counter=None) -> tuple[dict, PerfSession]:
    session = PerfSession(cfg, prompts, counter)
    return asyncio.run(session.run()), session
