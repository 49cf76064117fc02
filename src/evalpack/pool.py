"""The worker pool of one plan, and the one scoring path (a live run and `rescore` share it).

Workers take (sample, repeat) pairs not yet stored, solve them through a Context and score
the output. A slow (async) scorer runs beside the workers, which go on sending requests: the
model server never waits on scoring. Each scored row is stored as soon as it exists.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import traceback
from typing import Any, Awaitable, Callable

from evalpack.benchmarks.base import Benchmark
from evalpack.context import Context
from evalpack.errors import EvalpackError, FatalCallError, ModelCallError
from evalpack.plan import Plan
from evalpack.progress import Progress, RunTotals
from evalpack.scoring.judge import Judge, JudgeError
from evalpack.types import Sample

log = logging.getLogger("evalpack")


def score(bench: Benchmark, sample: Sample, output: dict, args: dict,
          judge: Judge | None = None) -> dict | Awaitable[dict]:
    """The score fields of one output (score, extracted, unparsed, detail, error), or an
    awaitable of them when the benchmark's scorer is async. A scorer that raises gives an error
    row, never an exception. A benchmark with a `judge_policy` gets `judge` (None: the rule only);
    a JudgeError makes a judge error row (error + detail.judge_error), counted apart."""
    try:
        if getattr(bench, "judge_policy", None):
            outcome = bench.score(sample, output, args, judge=judge)
        else:
            outcome = bench.score(sample, output, args)
    except Exception as e:  # noqa: BLE001 - recorded on the sample
        return _fields(bench, sample, e, judge)
    if inspect.isawaitable(outcome):
        return _later(bench, sample, outcome, judge)
    return _fields(bench, sample, outcome, judge)


async def _later(bench: Benchmark, sample: Sample, outcome: Awaitable, judge: Judge | None = None) -> dict:
    try:
        return _fields(bench, sample, await outcome, judge)
    except asyncio.CancelledError:
        raise
    except Exception as e:  # noqa: BLE001
        return _fields(bench, sample, e, judge)


def _fields(bench: Benchmark, sample: Sample, outcome, judge: Judge | None = None) -> dict:
    fields = _plain_fields(bench, sample, outcome)
    if judge is not None and judge.calls:
        fields["detail"] = {**(fields["detail"] or {}), "judge_usage": judge.summary()}
    return fields


def _plain_fields(bench: Benchmark, sample: Sample, outcome) -> dict:
    if isinstance(outcome, JudgeError):
        log.warning("judging %s/%s failed: %s", bench.name, sample.id, outcome)
        return {"score": None, "extracted": None, "unparsed": False, "detail": {"judge_error": str(outcome)},
                "error": f"judge error: {outcome}"}
    if isinstance(outcome, BaseException):
        log.error("scoring %s/%s failed: %r", bench.name, sample.id, outcome)
        return {"score": None, "extracted": None, "unparsed": False, "detail": {},
                "error": f"scoring failed: {type(outcome).__name__}: {outcome}"}
    return {"score": float(outcome.value), "extracted": outcome.extracted, "unparsed": outcome.unparsed,
            "detail": outcome.detail, "error": None}


async def run_to_end(workers: list[asyncio.Future], scoring: set[asyncio.Future], progress: Progress,
                     scoring_phase: str) -> None:
    """Await the workers, then the scorers they started (which add themselves to `scoring` and leave
    it when done); however this ends, what is still running is cancelled and the progress line closed."""
    try:
        await asyncio.gather(*workers)
        if scoring:
            progress.set_phase(scoring_phase, len(scoring))
        while scoring:
            await asyncio.gather(*list(scoring))
    finally:
        for task in workers + list(scoring):
            task.cancel()
        progress.close()


class Pool:
    """Runs one plan: `make_context(plan, sample, repeat)` gives each solve its Context;
    `record(plan, row)` stores a finished row. `fatal` is set (and the workers stop) on a
    FatalCallError (the key refused, a redirect): every further request would fail alike."""

    def __init__(self, make_context: Callable[[Plan, Sample, int], Context],
                 record: Callable[[Plan, dict], None], concurrency: int, quiet: bool = False,
                 totals: RunTotals | None = None,
                 make_judge: Callable[[Plan, Sample, int], Judge | None] | None = None) -> None:
        self.make_context, self.record, self.make_judge = make_context, record, make_judge
        self.concurrency, self.quiet, self.totals = concurrency, quiet, totals
        self.fatal: str | None = None

    async def run(self, plan: Plan, todo: list[tuple[Sample, int]], position: int | None = None) -> None:
        """`position`: of this plan in the run, 1-based (the progress line says "dataset k/n")."""
        progress = Progress(plan.bench.name, plan.total, plan.total - len(todo), quiet=self.quiet,
                            position=position, run=self.totals)
        scoring_phase = f"scoring ({getattr(plan.bench, 'scoring_phase', 'scorer')})"
        queue: asyncio.Queue = asyncio.Queue()
        for item in todo:
            queue.put_nowait(item)
        scoring: set[asyncio.Future] = set()

        def store(row: dict) -> None:
            self.record(plan, row)
            progress.update(row.get("score"), error=row.get("error") is not None)

        async def finish(row: dict, pending: Awaitable[dict]) -> None:
            row.update(await pending)
            progress.pending_scores = max(len(scoring) - 1, 0)
            store(row)

        async def worker() -> None:
            while not queue.empty() and not self.fatal:
                sample, repeat = queue.get_nowait()
                row = await self.solve(plan, sample, repeat)
                if "output" not in row:
                    store(row)
                    continue
                # a judged scorer is async: its judge calls run beside the workers' model calls
                judge = self.make_judge(plan, sample, repeat) if self.make_judge else None
                fields = score(plan.bench, sample, row["output"], plan.args, judge)
                if inspect.isawaitable(fields):
                    task = asyncio.ensure_future(finish(row, fields))
                    scoring.add(task)
                    task.add_done_callback(scoring.discard)
                    progress.set_phase(f"requests + {scoring_phase}", len(scoring))
                else:
                    row.update(fields)
                    store(row)

        workers = [asyncio.ensure_future(worker()) for _ in range(min(self.concurrency, len(todo)))]
        await run_to_end(workers, scoring, progress, scoring_phase)

    async def solve(self, plan: Plan, sample: Sample, repeat: int) -> dict:
        """The model part of a sample: a row with `output`, or with `error` when it failed."""
        ctx = self.make_context(plan, sample, repeat)
        row: dict[str, Any] = {"sample_id": sample.id, "repeat": repeat, "subset": sample.subset,
                               "target": sample.target, "metadata": sample.metadata}
        try:
            row["output"] = await plan.bench.solve(sample, ctx)
        except FatalCallError as e:  # every other call would fail the same way (key refused, redirects)
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
