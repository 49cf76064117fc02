"""The evaluation pipeline: samples -> model calls -> store -> scores -> report.

The runner knows no benchmark by name: it gets them from the registry and
drives each through the same stages (see benchmarks/base.py). Order matters:
every dataset is loaded and checked before the first request, so a missing
file stops the run at once with no traffic.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from evalpack import __version__, report as report_mod, run_meta, samples as sample_export
from evalpack.benchmarks import registry
from evalpack.benchmarks.base import Benchmark, Result, Sample, maybe_await, subset_limit
from evalpack.config import RunConfig
from evalpack.errors import DataMissingError, EvalpackError, FatalCallError, ModelCallError, ServerError, UsageError
from evalpack.perf.stats import eval_calls
from evalpack.progress import Progress, RunTotals
from evalpack.store import RunDirLock, RunStore, call_key, canonical_json

if TYPE_CHECKING:  # aiohttp loads only once requests are due: data checks fail fast without it
    from evalpack.client import ChatReply, ModelClient

log = logging.getLogger("evalpack")


@dataclass
class Plan:
    bench: Benchmark
    args: dict
    samples: list[Sample]
    variant: str


class Context:
    """The SolveContext the runner gives a benchmark for one (sample, repeat)."""

    def __init__(self, runner: "Runner", plan: Plan, sample: Sample, repeat: int,
                 client: ModelClient, model: str) -> None:
        self._runner, self._plan, self._sample = runner, plan, sample
        self._client, self._model = client, model
        self.args = plan.args
        self.generation = runner.config.generation
        self.repeat = repeat
        self.seed = plan.args.get("seed")
        self.usage: dict[str, int] = {}
        self.latency = 0.0
        self.calls = 0

    async def chat(self, messages: list[dict], *, tools: list[dict] | None = None, **params: Any) -> ChatReply:
        body: dict[str, Any] = {"model": self._model, "messages": messages}
        body.update(self.generation)
        body.update(params)
        if tools:
            body["tools"] = tools
        extra = body.pop("extra_body", None)
        if isinstance(extra, dict):
            body.update(extra)
        if body.get("stream"):
            body.setdefault("stream_options", {"include_usage": True})
        return await self._call(body, self._client.chat)

    async def complete(self, prompt: str, **params: Any) -> ChatReply:
        """One raw-prompt /completions call (no chat template), e.g. for option log-likelihoods;
        the generation config does not apply: `params` is the whole request."""
        return await self._call({"model": self._model, "prompt": prompt, **params}, self._client.complete)

    async def tokenize(self, text: str) -> list[int]:
        """The model's token ids of `text` (llama.cpp's /tokenize; not stored: it is deterministic)."""
        return await self._client.tokenize(text)

    async def _call(self, body: dict, send) -> ChatReply:
        """A stored reply for this exact request, else `send` it and store the reply."""
        store = self._runner.store
        canon = canonical_json(body)
        key = call_key(canon, self._plan.bench.name, self._sample.id, self.repeat)
        cached = store.get_call(key)
        if cached is not None:
            from evalpack.client import ChatReply

            reply = ChatReply.from_json(cached)
        else:
            reply = await send(body, payload=canon.encode())
            store.put_call(key, self._plan.bench.name, self._sample.id, self.repeat,
                           canon, reply.to_json(), reply.latency)
            await store.durable()  # group commit: kill -9 now re-sends only what is in flight
        self.calls += 1
        self.latency += reply.latency
        for k, v in (reply.usage or {}).items():
            if isinstance(v, int):
                self.usage[k] = self.usage.get(k, 0) + v
        return reply

    def other_model(self, model: str | None = None, api_base: str | None = None,
                    api_key: str | None = None) -> "Context":
        client = self._runner.client_for(api_base, api_key) if api_base else self._client
        other = Context(self._runner, self._plan, self._sample, self.repeat, client, model or self._model)
        other.generation = dict(self.generation)
        return other


class Runner:
    def __init__(self, config: RunConfig, run_dir: Path) -> None:
        self.config = config
        self.run_dir = run_dir
        self.store: RunStore | None = None
        self.client: ModelClient | None = None
        self._extra_clients: dict[tuple, ModelClient] = {}
        self.fatal: str | None = None
        self.totals: RunTotals | None = None
        self.position: int | None = None  # of the dataset being run, 1-based

    def client_for(self, api_base: str, api_key: str | None) -> ModelClient:
        from evalpack.client import ModelClient

        key = (api_base, api_key)
        if key not in self._extra_clients:
            self._extra_clients[key] = ModelClient([api_base], "", api_key, concurrency=self.config.concurrency,
                                                   timeout=self.config.timeout, retries=self.config.retries,
                                                   retry_interval=self.config.retry_interval)
        return self._extra_clients[key]

    # --- stages ---
    def plan(self) -> list[Plan]:
        """Resolve args and load every dataset; raises before any network traffic."""
        from evalpack.datasets.verify import check_before_run

        resolved = []
        for name in dict.fromkeys(self.config.datasets):
            bench = registry.get(name)
            args = bench.resolve_args(self.config.dataset_args.get(name) or
                                      self.config.dataset_args.get(bench.name))
            if args.get("seed") is None:
                args["seed"] = self.config.seed
            if "sandbox" in args and args["sandbox"] is None:
                args["sandbox"] = self.config.sandbox  # --sandbox, for benchmarks that run code
            resolved.append((bench, args))
        # every needed file of every dataset, sized and hashed, before anything is loaded or sent
        check_before_run(resolved, self.config.dataset_dir)
        plans = []
        for bench, args in resolved:
            samples = subset_limit(bench.load(self.config.dataset_dir, args), self.config.limit)
            plans.append(Plan(bench, args, samples, variant_of(bench.name, args, self.config)))
        return plans

    async def run(self, plans: list[Plan]) -> dict:
        cfg = self.config
        from evalpack.client import ModelClient

        self.store = RunStore(self.run_dir / "run.db")
        self.client = ModelClient(cfg.api_urls, cfg.model, cfg.api_key, concurrency=cfg.concurrency,
                                  timeout=cfg.timeout, retries=cfg.retries, retry_interval=cfg.retry_interval,
                                  stream=bool(cfg.generation.get("stream")))
        try:
            (self.run_dir / "plans.json").write_text(json.dumps(
                {p.bench.name: {"variant": p.variant, "args": _jsonable(p.args),
                                "num_samples": len(p.samples) * int(p.args.get("repeats") or 1)}
                 for p in plans}, indent=2), encoding="utf-8")
            started = time.time()
            pending = sum(len(self._todo(p)) for p in plans)
            total = sum(len(p.samples) * int(p.args.get("repeats") or 1) for p in plans)
            self.totals = RunTotals(total, total - pending, len(plans))
            if pending and not cfg.skip_preflight:
                await self.client.preflight()
            sections, seconds = [], {}
            for self.position, plan in enumerate(plans, 1):
                begun = time.monotonic()
                sent_here = bool(self._todo(plan))
                await self.run_plan(plan)
                if self.fatal:
                    raise ServerError(self.fatal)
                sections.append(self.summarize(plan))
                seconds[plan.bench.name] = time.monotonic() - begun
                # latency and token throughput of this dataset's calls (TTFT/TPOT with --stream)
                serving = eval_calls(self.store.call_timings(plan.bench.name),
                                     seconds[plan.bench.name] if sent_here else None)
                if serving:
                    sections[-1]["serving"] = serving
            report = self.build_report(sections)
            report["meta"] = run_meta.describe(self.config, plans, started, time.time(), seconds,
                                               getattr(self.client, "served_models", None))
            return report
        finally:
            self.store.close()
            await self.client.close()
            for c in self._extra_clients.values():
                await c.close()

    def _todo(self, plan: Plan) -> list[tuple[Sample, int]]:
        done = self.store.done(plan.bench.name, plan.variant)
        repeats = int(plan.args.get("repeats") or 1)
        todo = [(s, r) for s in plan.samples for r in range(repeats) if (s.id, r) not in done]
        # samples of a subset share a prompt prefix (MMLU's 5-shot header, BBH's per task): sent
        # together, a server's prefix cache (vLLM, SGLang, llama.cpp cache_prompt) computes it once
        first = {}
        for s in plan.samples:
            first.setdefault(s.subset, len(first))
        return sorted(todo, key=lambda item: first[item[0].subset])

    async def run_plan(self, plan: Plan) -> None:
        todo = self._todo(plan)
        total = len(plan.samples) * int(plan.args.get("repeats") or 1)
        progress = Progress(plan.bench.name, total, total - len(todo), quiet=self.config.quiet,
                            position=self.position, run=self.totals)
        scoring_phase = f"scoring ({getattr(plan.bench, 'scoring_phase', 'scorer')})"
        queue: asyncio.Queue = asyncio.Queue()
        for item in todo:
            queue.put_nowait(item)

        scoring: set[asyncio.Future] = set()

        def record(row: dict) -> None:
            self.store.put_result(plan.bench.name, plan.variant, row)
            progress.update(row.get("score"), error=row.get("error") is not None)

        async def finish(sample: Sample, row: dict, pending) -> None:
            self._apply_score(plan, sample, row, await _guard(pending))
            progress.pending_scores = max(len(scoring) - 1, 0)
            record(row)

        async def worker() -> None:
            while not queue.empty() and not self.fatal:
                sample, repeat = queue.get_nowait()
                row = await self.solve(plan, sample, repeat)
                if "output" not in row:
                    record(row)
                    continue
                try:
                    outcome = plan.bench.score(sample, row["output"], plan.args)
                except Exception as e:  # noqa: BLE001 - recorded on the sample
                    outcome = e
                if inspect.isawaitable(outcome):
                    # slow scorers (sandboxes, verifiers) run beside the workers, which go on
                    # sending requests: the model server never waits on scoring
                    task = asyncio.ensure_future(finish(sample, row, outcome))
                    scoring.add(task)
                    task.add_done_callback(scoring.discard)
                    progress.set_phase(f"requests + {scoring_phase}", len(scoring))
                else:
                    self._apply_score(plan, sample, row, outcome)
                    record(row)

        workers = [asyncio.ensure_future(worker()) for _ in range(min(self.client.concurrency, len(todo)))]
        try:
            await asyncio.gather(*workers)
            if scoring:
                progress.set_phase(scoring_phase, len(scoring))
            while scoring:
                await asyncio.gather(*list(scoring))
        finally:
            for w in workers + list(scoring):
                w.cancel()
            progress.close()

    async def solve(self, plan: Plan, sample: Sample, repeat: int) -> dict:
        """The model part of a sample: a row with `output`, or with `error` when it failed."""
        ctx = Context(self, plan, sample, repeat, self.client, self.config.model)
        row: dict[str, Any] = {"sample_id": sample.id, "repeat": repeat, "subset": sample.subset,
                               "target": sample.target, "metadata": sample.metadata}
        try:
            row["output"] = await plan.bench.solve(sample, ctx)
        except FatalCallError as e:  # every other call would fail the same way: stop the run
            row["error"] = str(e)
            self.fatal = str(e)
        except ModelCallError as e:
            row["error"] = str(e)
        except (asyncio.CancelledError, EvalpackError):  # e.g. run.db cannot be written: the run stops
            raise
        except Exception as e:  # a benchmark bug must not end the run: record it and go on
            row["error"] = f"{type(e).__name__}: {e}"
            log.error("sample %s/%s failed:\n%s", plan.bench.name, sample.id, traceback.format_exc())
        row.update(latency=ctx.latency, usage=ctx.usage)
        return row

    @staticmethod
    def _apply_score(plan: Plan, sample: Sample, row: dict, outcome) -> None:
        if isinstance(outcome, BaseException):
            row["error"] = f"scoring failed: {type(outcome).__name__}: {outcome}"
            log.error("scoring %s/%s failed: %r", plan.bench.name, sample.id, outcome)
        else:
            row.update(score=float(outcome.value), extracted=outcome.extracted, unparsed=outcome.unparsed,
                       detail=outcome.detail)

    def summarize(self, plan: Plan) -> dict:
        wanted = {s.id for s in plan.samples}
        rows = [r for r in self.store.results(plan.bench.name, plan.variant) if r["sample_id"] in wanted]
        total = len(plan.samples) * int(plan.args.get("repeats") or 1)
        section = summarize(plan.bench, plan.args, plan.variant, [to_result(r) for r in rows], total)
        sample_export.export(self.store, self.run_dir, plan.bench.name, rows)
        return section

    def build_report(self, sections: list[dict]) -> dict:
        return {"model": self.config.model, "run_dir": str(self.run_dir), "evalpack_version": __version__,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "datasets": sections}


async def _guard(awaitable):
    """The awaited value, or the exception it raised (never CancelledError)."""
    try:
        return await awaitable
    except asyncio.CancelledError:
        raise
    except Exception as e:  # noqa: BLE001
        return e


def to_result(r: dict) -> Result:
    return Result(sample_id=r["sample_id"], subset=r["subset"], repeat=r["repeat"],
                  score=None if r["error"] else r["score"], extracted=r["extracted"],
                  unparsed=r["unparsed"], error=r["error"], metadata=r["metadata"] or {},
                  detail=r["detail"] or {})


def summarize(bench: Benchmark, args: dict, variant: str, results: list[Result], total: int) -> dict:
    from evalpack.metrics import add_intervals

    scored = [r for r in results if r.error is None]
    section = {"dataset": bench.name, **bench.aggregate(scored, args)}
    add_intervals(section, scored, lambda sample: bench.aggregate(sample, args))
    section.update(
        num_samples=total,
        num_errors=sum(1 for r in results if r.error is not None),
        error_ids=sorted({r.sample_id for r in results if r.error is not None}),
        num_unparsed=sum(1 for r in results if r.unparsed and r.error is None),
        args=_jsonable(args), variant=variant)
    return section


def variant_of(name: str, args: dict, config: RunConfig) -> str:
    keyed = {"benchmark": name, "args": _jsonable(args), "generation": config.generation,
             "model": config.model}
    return hashlib.sha256(json.dumps(keyed, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _jsonable(value: Any) -> Any:
    from evalpack.config import redact

    return json.loads(json.dumps(redact(value), default=str))


def prepare_run_dir(config: RunConfig) -> Path:
    if config.use_cache:
        run_dir = config.use_cache
        if not (run_dir / "run.db").is_file():
            raise DataMissingError(f"--use-cache {run_dir}: no evalpack run there (run.db is missing)")
    else:
        run_id = config.run_id()
        if config.fresh:
            run_id += time.strftime("-%Y%m%d-%H%M%S")
        run_dir = config.work_dir / run_id
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create the run directory {run_dir} ({e.strerror or e}); "
                         f"give --work-dir a writable directory") from None
    _LOCKS[run_dir] = RunDirLock(run_dir).acquire()  # a second eval here is refused, naming this pid
    try:
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config.redacted(), sort_keys=False,
                                                             allow_unicode=True), encoding="utf-8")
        handler = logging.FileHandler(run_dir / "evalpack.log", encoding="utf-8")
    except OSError as e:
        release_run_dir(run_dir)
        raise UsageError(f"cannot write in the run directory {run_dir} ({e.strerror or e}); "
                         f"give --work-dir a writable directory") from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return run_dir


_LOCKS: dict[Path, RunDirLock] = {}


def release_run_dir(run_dir: Path) -> None:
    lock = _LOCKS.pop(run_dir, None)
    if lock is not None:
        lock.release()


def evaluate(config: RunConfig) -> dict:
    """Run an evaluation end to end; returns the report (also written to the run dir)."""
    runner = Runner(config, Path("."))
    plans = runner.plan()  # data problems surface here, before any directory or socket is made
    run_dir = prepare_run_dir(config)
    runner.run_dir = run_dir
    try:
        report = _run_loop(runner.run(plans))
        text = report_mod.write(run_dir, report)
    finally:
        release_run_dir(run_dir)
    return {"report": report, "markdown": text, "run_dir": run_dir}


def _run_loop(coro):
    try:
        import uvloop  # optional: a faster event loop where installed
        return uvloop.run(coro) if hasattr(uvloop, "run") else asyncio.run(coro)
    except ImportError:
        return asyncio.run(coro)


def rescore(run_dir: Path, concurrency: int = 64) -> dict:
    """Recompute every score of a run from its stored outputs; no server is contacted."""
    run_dir = Path(run_dir)
    plans_file = run_dir / "plans.json"
    if not plans_file.is_file():
        raise DataMissingError(f"{run_dir} is not an evalpack run directory (plans.json is missing)")
    try:
        plans = json.loads(plans_file.read_text(encoding="utf-8"))
        if not isinstance(plans, dict) or not all(isinstance(p, dict) and isinstance(p.get("args"), dict)
                                                  and isinstance(p.get("variant"), str) for p in plans.values()):
            raise ValueError("not a mapping of benchmark -> {variant, args}")
    except (OSError, ValueError) as e:
        raise DataMissingError(f"{plans_file} is damaged ({e}); rescore needs the plans.json the run "
                               f"wrote") from None
    try:
        config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, ValueError, yaml.YAMLError):
        config = {}  # only the model name is read from it
    if not isinstance(config, dict):
        config = {}
    lock = RunDirLock(run_dir).acquire()  # two rescores (or a rescore and an eval) never interleave
    try:
        store = RunStore(run_dir / "run.db")
    except BaseException:
        lock.release()
        raise

    async def rescore_all() -> list[dict]:
        sections = []
        limit = asyncio.Semaphore(concurrency)
        for name, info in plans.items():
            bench, args, variant = registry.get(name), info["args"], info["variant"]
            rows = [r for r in store.results(name, variant) if r["output"] is not None]
            updates: list[dict] = []

            async def one(r: dict) -> None:
                sample = Sample(id=r["sample_id"], subset=r["subset"], target=r["target"],
                                metadata=r["metadata"] or {})
                update = {"sample_id": r["sample_id"], "repeat": r["repeat"], "score": None,
                          "extracted": None, "unparsed": False, "detail": {}, "error": None}
                async with limit:
                    try:
                        sc = await maybe_await(bench.score(sample, r["output"], args))
                        update.update(score=float(sc.value), extracted=sc.extracted,
                                      unparsed=sc.unparsed, detail=sc.detail)
                    except Exception as e:  # record, as a live run would
                        update["error"] = f"{type(e).__name__}: {e}"
                updates.append(update)

            await asyncio.gather(*(one(r) for r in rows))
            store.update_scores(name, variant, updates)
            rows = list(store.results(name, variant))
            results = [to_result(r) for r in rows]
            sections.append(summarize(bench, args, variant, results, info.get("num_samples", len(results))))
            sample_export.export(store, run_dir, name, rows)
        return sections

    try:
        sections = _run_loop(rescore_all())
    finally:
        store.close()
        lock.release()
    report = {"model": config.get("model"), "run_dir": str(run_dir), "evalpack_version": __version__,
              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rescored": True, "datasets": sections}
    text = report_mod.write(run_dir, report)
    return {"report": report, "markdown": text, "run_dir": run_dir}
