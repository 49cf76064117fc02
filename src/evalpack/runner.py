"""The evaluation pipeline: plans -> model calls -> store -> scores -> report.

The runner knows no benchmark by name: it gets them from the registry and drives each
through the same stages (see benchmarks/base.py). Order matters: every dataset is planned
(args checked, files hashed, samples loaded) before the run directory is made or a request is
sent (plan.py). `rescore` goes through the same scoring path (pool.score) and the same
summary and report envelope as a live run, on the outputs the store kept.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

from evalpack import __version__, run_meta
from evalpack.benchmarks import registry
from evalpack.benchmarks.base import Benchmark, maybe_await
from evalpack.config import RunConfig
from evalpack.context import Clients, Context
from evalpack.errors import ServerError
from evalpack.plan import Plan, make_plans
from evalpack.pool import Pool, score
from evalpack.perf.stats import eval_calls
from evalpack.progress import RunTotals
from evalpack.run_dir import RunDir, jsonable
from evalpack.scoring.judge import Judge, JudgeSettings, StoredVerdictsOnly, not_stored, usage_total
from evalpack.store import RunStore
from evalpack.types import Result, Sample

if TYPE_CHECKING:  # aiohttp loads only once requests are due: data checks fail fast without it
    from evalpack.client import ModelClient


class Runner:
    def __init__(self, config: RunConfig, run_dir: RunDir) -> None:
        self.config = config
        self.run_dir = run_dir
        self.store: RunStore | None = None
        self.client: ModelClient | None = None
        self.clients: Clients | None = None

    def context(self, plan: Plan, sample: Sample, repeat: int) -> Context:
        return self.clients.context(self.store, plan.bench.name, plan.args, sample.id, repeat, plan.root, judged=bool(plan.judge))

    def judge(self, plan: Plan, sample: Sample, repeat: int) -> Judge | None:
        """The judge of a sample of a judged benchmark (its calls: the sample's Context's judge())."""
        if not plan.judge:
            return None
        return Judge(self.context(plan, sample, repeat).judge, self.config.judge.strategy)

    def record(self, plan: Plan, row: dict) -> None:
        self.store.put_result(plan.bench.name, plan.settings_hash, row)

    def todo(self, plan: Plan) -> list[tuple[Sample, int]]:
        done = self.store.done(plan.bench.name, plan.settings_hash)
        todo = [(s, r) for s in plan.samples for r in range(plan.repeats) if (s.id, r) not in done]
        # samples of a subset share a prompt prefix (MMLU's 5-shot header, BBH's per task): sent
        # together, a server's prefix cache (vLLM, SGLang, llama.cpp cache_prompt) computes it once
        first: dict[str, int] = {}
        for s in plan.samples:
            first.setdefault(s.subset, len(first))
        return sorted(todo, key=lambda item: first[item[0].subset])

    async def run(self, plans: list[Plan]) -> dict:
        cfg = self.config
        self.store = self.run_dir.open_store()
        self.clients = Clients(cfg)
        self.client = self.clients.main
        pool = None
        try:
            self.run_dir.write_plans(plans)
            started = time.time()
            pending = sum(len(self.todo(p)) for p in plans)
            total = sum(p.total for p in plans)
            if pending and not cfg.skip_preflight:
                await self.client.preflight()
                if any(p.judge for p in plans):
                    await judge_preflight(self.clients.judge())
            totals = RunTotals(total, total - pending, len(plans))
            if cfg.ray is None:
                pool = Pool(self.context, self.record, self.client.concurrency, quiet=cfg.quiet, totals=totals,
                            make_judge=self.judge)
            else:  # Ray is imported only here (the [ray] extra)
                from evalpack.ray_pool import RayPool

                pool = RayPool(cfg, self.store, self.client.concurrency, totals=totals)
            sections, seconds = [], {}
            for position, plan in enumerate(plans, 1):
                begun = time.monotonic()
                todo = self.todo(plan)
                await pool.run(plan, todo, position)
                if pool.fatal:
                    raise ServerError(pool.fatal)
                sections.append(self.summarize(plan))
                seconds[plan.bench.name] = time.monotonic() - begun
                # latency and token throughput of this dataset's calls (TTFT/TPOT with --stream)
                serving = eval_calls(self.store.call_timings(plan.bench.name),
                                     seconds[plan.bench.name] if todo else None)
                if serving:
                    sections[-1]["serving"] = serving
            report = envelope(cfg.model, self.run_dir, sections)
            report["meta"] = run_meta.describe(cfg, plans, started, time.time(), seconds,
                                               getattr(self.client, "served_models", None))
            return report
        finally:
            if pool is not None and hasattr(pool, "close"):
                pool.close()
            self.store.close()
            await self.clients.close()

    def summarize(self, plan: Plan) -> dict:
        wanted = {s.id for s in plan.samples}
        rows = [r for r in self.store.results(plan.bench.name, plan.settings_hash) if r["sample_id"] in wanted]
        section = summarize(plan.bench, plan.args, plan.settings_hash, [to_result(r) for r in rows], plan.total,
                            judge=plan.judge)
        self.run_dir.export_samples(self.store, plan.bench.name, rows)
        return section


def section_from_store(store: RunStore, run_dir: RunDir, name: str, info: dict) -> dict:
    """A benchmark's report section from every result the store has for its plan (plans.json's
    entry: variant, args, num_samples), and its samples/<name>.jsonl (rescore, merge)."""
    rows = list(store.results(name, info["variant"]))
    results = [to_result(r) for r in rows]
    section = summarize(registry.get(name), info["args"], info["variant"], results,
                        info.get("num_samples", len(results)), judge=info.get("judge"))
    run_dir.export_samples(store, name, rows)
    return section


def to_result(r: dict) -> Result:
    return Result(sample_id=r["sample_id"], subset=r["subset"], repeat=r["repeat"],
                  score=None if r["error"] else r["score"], extracted=r["extracted"],
                  unparsed=r["unparsed"], error=r["error"], metadata=r["metadata"] or {},
                  detail=r["detail"] or {})


def summarize(bench: Benchmark, args: dict, settings_hash: str, results: list[Result], total: int,
              judge: dict | None = None) -> dict:
    """One benchmark's section of the report: its aggregate with intervals, error and unparsed
    counts; with a judge, its usage and its errors (samples without a verdict), apart."""
    from evalpack.metrics import add_intervals
    from evalpack.report_html import natural_key

    # one order, whatever order the rows were stored in (concurrency, resume, merged shards, Ray):
    # float sums and the seeded bootstrap then give the same report for the same results, and the
    # notes that list samples list them as the dataset numbers them ('x/2' before 'x/10')
    results = sorted(results, key=lambda r: (str(r.subset), natural_key(r.sample_id), r.repeat))
    scored = [r for r in results if r.error is None]
    failed = [r for r in results if r.error is not None and not (r.detail or {}).get("judge_error")]
    section = {"dataset": bench.name, **bench.aggregate(scored, args)}
    add_intervals(section, scored, lambda sample: bench.aggregate(sample, args))
    section.update(
        num_samples=total,
        num_errors=len(failed),
        error_ids=sorted({r.sample_id for r in failed}),
        num_unparsed=sum(1 for r in results if r.unparsed and r.error is None),
        args=jsonable(args), variant=settings_hash)
    if judge:
        section["judge"] = judge_section(judge, results)
        section.setdefault("notes", []).extend(judge_notes(section["judge"]))
    return section


async def judge_preflight(client: "ModelClient") -> None:
    """The judge's server must answer /models and list the judge's model."""
    try:
        await client.preflight()
    except ServerError as e:
        raise ServerError(f"the judge: {e}".replace("as --model", "as --judge-model")) from None


def stored_judge(identity: dict | None) -> JudgeSettings | None:
    """The judge a run used (plans.json), to rebuild its requests for replay."""
    if not identity:
        return None
    return JudgeSettings(model_id=identity.get("model_id"), generation=dict(identity.get("generation") or {}),
                         strategy=identity.get("strategy") or "auto")


def judge_section(identity: dict, results: list[Result]) -> dict:
    """The judge's part of a report section: who judged, its usage, its errors (apart from the model's)."""
    errors = [r for r in results if (r.detail or {}).get("judge_error")]
    return {"model": identity.get("model_id"), "api_url": identity.get("api_url"),
            "strategy": identity.get("strategy"), "prompt": identity.get("prompt"),
            "usage": usage_total([r.detail for r in results]),
            "num_errors": len(errors), "error_ids": sorted({r.sample_id for r in errors}),
            "num_not_stored": sum(1 for r in errors if not_stored(r.error))}


def judge_notes(judge: dict) -> list[str]:
    usage = judge["usage"]
    notes = [f"judge {judge['model']} ({judge['strategy']}): {usage.get('calls', 0)} calls, "
             f"{usage.get('prompt_tokens', 0)} prompt + {usage.get('completion_tokens', 0)} completion tokens "
             f"(not counted in the model's usage)"]
    if judge["num_errors"]:
        ids = ", ".join(judge["error_ids"][:10]) + (" ..." if len(judge["error_ids"]) > 10 else "")
        notes.append(f"{judge['num_errors']} samples have no verdict (judge errors: the judge call failed, or its "
                     f"reply could not be read after retries); they are not scored: {ids}")
    if judge["num_not_stored"]:
        notes.append(f"{judge['num_not_stored']} of them need a judge call that run.db does not hold (rescore "
                     f"contacts no server): run `evalpack eval` again with the same flags")
    return notes


def envelope(model: str | None, run_dir: RunDir, sections: list[dict], **marks) -> dict:
    """The report around the sections (`marks`: e.g. rescored=True)."""
    return {"model": model, "run_dir": str(run_dir.path), "evalpack_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **marks, "datasets": sections}


def evaluate(config: RunConfig) -> dict:
    """Run an evaluation end to end; returns the report (also written to the run dir)."""
    return _run_loop(evaluate_async(config))


async def evaluate_async(config: RunConfig) -> dict:
    """`evaluate` on the caller's event loop (the Python API's evaluate_async)."""
    plans = make_plans(config)  # data problems surface here, before any directory or socket is made
    run_dir = RunDir.for_run(config)
    try:
        report = await Runner(config, run_dir).run(plans)
        text = run_dir.write_report(report)
    finally:
        run_dir.release()
    return {"report": report, "markdown": text, "run_dir": run_dir.path}


def _run_loop(coro):
    try:
        import uvloop  # optional: a faster event loop where installed
    except ImportError:  # (only the import: an ImportError inside the run is the run's own)
        uvloop = None
    if uvloop is not None and hasattr(uvloop, "run"):
        return uvloop.run(_stoppable(coro))
    return asyncio.run(_stoppable(coro))


async def _stoppable(coro):
    """Under the CLI, SIGTERM stops the run as Ctrl-C does (asyncio cancels the main task on
    SIGINT): every await is cancelled, the finally blocks store what was answered, then
    KeyboardInterrupt. Raising from a plain signal handler instead would land between any two
    bytecodes of the loop. The Python API (no CLI handler, or not the main thread) is untouched."""
    import signal
    import threading

    previous = signal.getsignal(signal.SIGTERM)
    if not getattr(previous, "evalpack_interrupt", False) or threading.current_thread() is not threading.main_thread():
        return await coro
    loop, task, stopping = asyncio.get_running_loop(), asyncio.current_task(), []

    def on_term() -> None:
        stopping.append(True)
        task.cancel()

    loop.add_signal_handler(signal.SIGTERM, on_term)
    try:
        return await coro
    except asyncio.CancelledError:
        if stopping:
            raise KeyboardInterrupt from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        signal.signal(signal.SIGTERM, previous)


def rescore(path: Path, concurrency: int = 64) -> dict:
    """Recompute every score of a run from its stored outputs; no server is contacted."""
    run_dir = RunDir.existing(Path(path))
    plans = run_dir.read_plans()
    config = run_dir.read_config()
    run_dir.lock()  # two rescores (or a rescore and an eval) never interleave
    try:
        store = run_dir.open_store()
    except BaseException:
        run_dir.release()
        raise

    async def rescore_all() -> list[dict]:
        sections = []
        limit = asyncio.Semaphore(concurrency)
        for name, info in plans.items():
            bench, args, settings = registry.get(name), info["args"], info["variant"]
            rows = [r for r in store.results(name, settings) if r["output"] is not None]
            updates: list[dict] = []

            judge = stored_judge(info.get("judge"))

            async def one(r: dict) -> None:
                sample = Sample(id=r["sample_id"], subset=r["subset"], target=r["target"],
                                metadata=r["metadata"] or {})
                verdicts = None
                if judge is not None:  # the judge's calls replayed from run.db, never sent
                    ctx = Context(store=store, client=None, model=None, benchmark=name, sample_id=sample.id,
                                  repeat=r["repeat"], args=args, generation={}, client_for=None,
                                  judge=(judge, StoredVerdictsOnly))
                    verdicts = Judge(ctx.judge, judge.strategy)
                async with limit:
                    fields = await maybe_await(score(bench, sample, r["output"], args, verdicts))
                updates.append({"sample_id": r["sample_id"], "repeat": r["repeat"], **fields})

            await asyncio.gather(*(one(r) for r in rows))
            store.update_scores(name, settings, updates)
            sections.append(section_from_store(store, run_dir, name, info))
        return sections

    try:
        sections = _run_loop(rescore_all())
    finally:
        store.close()
        run_dir.release()
    report = envelope(config.get("model"), run_dir, sections, rescored=True)
    text = run_dir.write_report(report)
    return {"report": report, "markdown": text, "run_dir": run_dir.path}

