"""Samples on a Ray cluster: `evalpack eval ... --ray [ADDRESS]` (the [ray] extra; imported only then).

The driver (the `evalpack eval` process) keeps everything a run owns: the plans, the one run
store, progress and the report. Ray workers only solve and score, through the same code as
one process (pool.Pool.solve, pool.score), so the scores are the same.

- Placement: one worker (an async Ray actor) per up to CPUS_PER_WORKER CPUs of each live node,
  pinned there, so the sandbox or container of a sample runs on the node that took it. A benchmark
  that needs a node resource (SWE-bench, or --sandbox docker: "docker") goes only to workers on
  nodes that declare it (`ray start --resources '{"docker": 1}'`).
- Concurrency: the driver runs --concurrency solves at once over all workers, each with one
  request in flight as in pool.Pool, so the model server sees the same bound as without Ray.
  As in one process, a synchronous scorer runs in the solve; an async one (the sandbox, containers)
  starts on the worker that solved the sample and runs beside, holding no request slot. A judge's
  requests are made by the workers: --judge-worker-num is split among them (at least 1 each), so
  the judge sees about the bound it would see from one process.
- Store: a worker returns the row and the calls it made; the driver stores the calls (durably,
  before it starts another sample) and then the scored row. The stored replies of a resumed
  sample travel with it, so it is replayed call by call as in one process.
- Lost workers: a solve or score whose worker or node died goes to another worker; the driver
  stores each (sample, repeat) once, from the first complete answer.
- Data: every node reads the kit at the driver's --dataset-dir (made absolute: a shared
  filesystem, or the same kit unpacked at the same path on each node). Each worker checks the
  files' sizes and hashes (datasets/verify.py) and loads the benchmark once before its first
  sample; the samples themselves are sent by the driver.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import itertools
import json
import logging
import os
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from evalpack import __version__
from evalpack.benchmarks.base import maybe_await
from evalpack.config import RunConfig
from evalpack.context import Clients
from evalpack.errors import DataMissingError, EvalpackError, UsageError
from evalpack.plan import Plan
from evalpack.pool import Pool, run_to_end, score
from evalpack.progress import Progress, RunTotals
from evalpack.store import RunStore
from evalpack.types import Sample

log = logging.getLogger("evalpack")

LOST_WORKERS_PER_SAMPLE = 3  # a sample whose work was lost this often is recorded as an error
LOST_WORKERS_PER_NODE = 3  # a live node that lost this many workers gets no new one in this run
PREPARE_TIMEOUT = 600.0  # seconds for a new worker to start and verify and load a benchmark's data
CPUS_PER_WORKER = 4  # one worker process per this many CPUs of a node (its sandbox runs as many programs)
ACTOR_CALLS = 100_000  # calls one worker takes at once (solves are bounded by the driver)


def connect(address: str) -> bool:
    """Join the cluster at `address`, or start Ray here for "" (declaring "docker" when an engine
    answers); False when this process is connected already (a test's cluster, the Python API)."""
    if ray.is_initialized():
        return False
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    if address:
        reachable(address)
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            from evalpack import docker_engine

            ray.init(resources={"docker": 1} if docker_engine.available()[0] else {},
                     include_dashboard=False, **quiet)
    except (ConnectionError, ValueError, RuntimeError) as e:
        where = f"at {address}" if address else "on this machine"
        raise UsageError(f"--ray: cannot use a Ray cluster {where} ({e}); start one with `ray start --head` "
                         f"and give its address, or give --ray alone to start Ray here") from None
    return True


def judge_share(config: RunConfig, workers: int) -> RunConfig:
    """The config a worker gets: its share of --judge-worker-num, at least 1, so that `workers`
    workers together keep about the one bound (at most max(N, workers) judge requests at once)."""
    if workers <= 1 or not config.judge.configured:
        return config
    share = max(1, config.judge.worker_num // workers)
    return dataclasses.replace(config, judge=dataclasses.replace(config.judge, worker_num=share))


def worker_sizes(cpus: int) -> list[int]:
    """The CPUs of each worker on a node of `cpus` whole CPUs: at most CPUS_PER_WORKER each (a
    64-CPU node runs 16 worker processes, not 64), spread evenly."""
    count = -(-cpus // CPUS_PER_WORKER)
    return [cpus // count + (i < cpus % count) for i in range(count)] if cpus > 0 else []


def reachable(address: str) -> None:
    """A HOST:PORT that nothing answers on is a sentence now: Ray itself retries it for minutes."""
    import socket

    match = re.fullmatch(r"\[?([^\[\]/]+?)\]?:(\d+)", address)
    if not match:  # "auto", ray://...: Ray's own forms, left to Ray
        return
    try:
        socket.create_connection((match[1], int(match[2])), timeout=10).close()
    except OSError as e:
        raise UsageError(f"--ray {address}: no Ray cluster answers there ({e.strerror or e}); start its head with "
                         f"`ray start --head --port {match[2]}` or give its address, or give --ray alone to start "
                         f"Ray on this machine") from None


def fits(resources: dict, need: dict[str, float]) -> bool:
    """A node offering `resources` may take work needing `need` (e.g. {"docker": 1})."""
    return all(resources.get(name, 0) >= amount for name, amount in need.items())


@dataclass(eq=False)
class Worker:
    """The driver's handle on one Ray worker."""

    actor: Any
    node_id: str
    node_ip: str
    resources: dict
    cpus: int = 1  # taken on its node
    pid: int | None = None  # its process, on its node (in evalpack.log)
    busy: int = 0  # solves and scores it holds
    prepared: set = field(default_factory=set)  # settings hashes of the plans it has loaded


class _Lost(Exception):
    """The work of one sample was lost with its worker too often."""


class RayPool:
    """pool.Pool's interface (`run`, `fatal`) over Ray workers; `close` ends the workers and the
    Ray this run started. `placements` says which node solved each (benchmark, sample, repeat)."""

    def __init__(self, config: RunConfig, store: RunStore, concurrency: int,
                 totals: RunTotals | None = None) -> None:
        self.config, self.store, self.concurrency, self.totals = config, store, concurrency, totals
        self.fatal: str | None = None
        self.driver_seconds = 0.0  # the driver's own serial work on samples: dispatch, store, progress
        self.placements: dict[tuple[str, str, int], str] = {}
        self.workers: list[Worker] = []  # the live ones
        self._losses: Counter[str] = Counter()  # workers lost, by node id
        self._started_ray = connect(config.ray or "")
        self._start_workers()

    def _start_workers(self) -> None:
        remote = ray.remote(SampleWorker)
        hosting = {w.node_id for w in self.workers}
        alive = [n for n in ray.nodes() if n.get("Alive")]
        config = judge_share(self.config, sum(len(worker_sizes(int(n["Resources"].get("CPU", 0)))) for n in alive))
        for node in ray.nodes():
            if (not node.get("Alive") or node["NodeID"] in hosting
                    or self._losses[node["NodeID"]] >= LOST_WORKERS_PER_NODE):
                continue
            for cpus in worker_sizes(int(node["Resources"].get("CPU", 0))):
                # as many sandboxed programs at once as CPUs taken, unless the driver's setting says otherwise
                programs = int(os.environ.get("EVALPACK_SANDBOX_WORKERS") or cpus)
                actor = remote.options(
                    num_cpus=cpus, max_restarts=0, max_concurrency=ACTOR_CALLS,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
                ).remote(config, programs)
                self.workers.append(Worker(actor, node["NodeID"], node.get("NodeManagerAddress", "?"),
                                           dict(node["Resources"]), cpus))

    def close(self) -> None:
        for w in self.workers:
            ray.kill(w.actor)
        self.workers = []
        if self._started_ray:
            ray.shutdown()

    # --- workers ---
    def _lose(self, worker: Worker, error: BaseException) -> None:
        if worker in self.workers:
            log.warning("Ray worker on node %s lost (%s): its samples go to other workers",
                        worker.node_ip, type(error).__name__)
            self.workers.remove(worker)
            self._losses[worker.node_id] += 1
            ray.kill(worker.actor)

    async def _ready(self, plan: Plan, need: dict[str, float]) -> list[Worker]:
        """The live workers that may take this plan, each with the plan loaded (and verified)."""
        while True:
            eligible = [w for w in self.workers if fits(w.resources, need)]
            if not eligible:
                self._start_workers()  # on live nodes hosting none (a lost worker's, one joined since)
                eligible = [w for w in self.workers if fits(w.resources, need)]
            if not eligible:
                needs = f" offering {need}" if need else ""
                raise EvalpackError(f"no live Ray node{needs} with a free CPU can run {plan.bench.name}"
                                    f"{' (workers lost: ' + str(sum(self._losses.values())) + ')' if self._losses else ''};"
                                    f" add one (`ray start --address ... --num-cpus N"
                                    f"{' --resources ' + repr(need) if need else ''}`), then run the same command "
                                    f"again to resume")
            fresh = [w for w in eligible if plan.settings_hash not in w.prepared]
            if not fresh:
                return eligible
            load_args = dict(plan.args)
            if load_args.get("local_path"):
                load_args["local_path"] = str(Path(load_args["local_path"]).resolve())
            data_dir = str(Path(self.config.dataset_dir).resolve())
            refs = [w.actor.prepare.remote(plan.bench.name, plan.args, load_args, plan.settings_hash, data_dir,
                                           plan.judge) for w in fresh]
            for w, ref in zip(fresh, refs):
                try:  # a worker pinned to a node that died unnoticed would wait for ever
                    info = await asyncio.wait_for(_result(ref), PREPARE_TIMEOUT)
                except (RayError, asyncio.TimeoutError) as e:
                    self._lose(w, e)
                    continue
                if info["version"] != __version__:
                    raise UsageError(f"the Ray node {info['node']} has evalpack {info['version']}, this driver "
                                     f"{__version__}; install the same version on every node")
                w.prepared.add(plan.settings_hash)
                w.pid = info["pid"]

    async def _on_worker(self, plan: Plan, need: dict, method: str, *args: Any,
                         prefer: Worker | None = None) -> tuple[Any, Worker]:
        """`method(*args)` on a worker for this plan (`prefer`red while it lives), again on another
        when the worker is lost; _Lost after LOST_WORKERS_PER_SAMPLE losses."""
        for _ in range(LOST_WORKERS_PER_SAMPLE):
            if prefer is not None and prefer in self.workers:
                worker = prefer
            else:
                worker = min(await self._ready(plan, need), key=lambda w: w.busy / w.cpus)
            prefer = None
            worker.busy += 1
            try:
                begun = time.perf_counter()
                ref = getattr(worker.actor, method).remote(*args)
                self.driver_seconds += time.perf_counter() - begun
                return await _result(ref), worker
            except RayError as e:
                self._lose(worker, e)
            finally:
                worker.busy -= 1
        raise _Lost(f"its Ray worker was lost {LOST_WORKERS_PER_SAMPLE} times while running it")

    # --- one plan ---
    async def run(self, plan: Plan, todo: list[tuple[Sample, int]], position: int | None = None) -> None:
        name, variant = plan.bench.name, plan.settings_hash
        progress = Progress(name, plan.total, plan.total - len(todo), quiet=self.config.quiet,
                            position=position, run=self.totals)
        scoring_phase = f"scoring ({getattr(plan.bench, 'scoring_phase', 'scorer')})"
        need = plan.bench.node_resources(plan.args)
        begun = time.perf_counter()
        await self._ready(plan, need)
        log.info("ray: %s: %d workers ready (started, data verified and loaded) in %.2f s; pids: %s", name,
                 len(self.workers), time.perf_counter() - begun,
                 " ".join(f"{w.pid}@{w.node_ip}" for w in self.workers))
        begun = time.perf_counter()
        resume = self.store.replies_of(name, {(s.id, r) for s, r in todo})
        queue = deque(todo)
        stored: set[tuple[str, int]] = set()
        scoring: set[asyncio.Future] = set()

        def store(row: dict) -> None:
            if (row["sample_id"], row["repeat"]) in stored:  # a lost worker's answer that came back after all
                return
            begun = time.perf_counter()
            stored.add((row["sample_id"], row["repeat"]))
            self.store.put_result(name, variant, row)
            progress.update(row.get("score"), error=row.get("error") is not None)
            self.driver_seconds += time.perf_counter() - begun

        async def finish(sample: Sample, row: dict, worker: Worker, token: int) -> None:
            try:
                scored, _ = await self._on_worker(plan, need, "score", variant, sample, row["output"], token,
                                                  row["repeat"], prefer=worker)
            except _Lost as e:
                scored = {"calls": [], "fields": {"score": None, "extracted": None, "unparsed": False,
                                                  "detail": {}, "error": f"scoring failed: {e}"}}
            for call in scored["calls"]:  # a judge's
                self.store.put_call(*call)
            row.update(scored["fields"])
            progress.pending_scores = max(len(scoring) - 1, 0)
            store(row)

        async def solver() -> None:
            while queue and not self.fatal:
                sample, repeat = queue.popleft()
                try:
                    answer, worker = await self._on_worker(plan, need, "solve", variant, sample, repeat,
                                                           resume.pop((sample.id, repeat), {}))
                except _Lost as e:
                    store({"sample_id": sample.id, "repeat": repeat, "subset": sample.subset,
                           "target": sample.target, "metadata": sample.metadata, "error": str(e)})
                    continue
                begun = time.perf_counter()
                self.placements[(name, sample.id, repeat)] = worker.node_id
                for call in answer["calls"]:
                    self.store.put_call(*call)
                self.driver_seconds += time.perf_counter() - begun
                if answer["calls"]:
                    await self.store.durable()  # as in one process: a killed driver re-sends only what is in flight
                if answer["fatal"]:
                    self.fatal = answer["fatal"]
                row = answer["row"]
                if answer["scoring"] is None:  # scored already, or an error
                    store(row)
                    continue
                task = asyncio.ensure_future(finish(sample, row, worker, answer["scoring"]))
                scoring.add(task)
                task.add_done_callback(scoring.discard)
                progress.set_phase(f"requests + {scoring_phase}", len(scoring))

        solvers = [asyncio.ensure_future(solver()) for _ in range(min(self.concurrency, len(todo)))]
        spent = self.driver_seconds
        await run_to_end(solvers, scoring, progress, scoring_phase)
        if todo:  # what bounds a cluster's speed on the driver (docs/distributed.md)
            log.info("ray: %s: %d samples on %d workers in %.2f s; the driver's own work (dispatch, store, "
                     "progress) %.3f ms a sample", name, len(todo), len(self.workers),
                     time.perf_counter() - begun, 1000 * (self.driver_seconds - spent) / len(todo))
            by_node = Counter(node for (bench, _, _), node in self.placements.items() if bench == name)
            log.info("ray: %s: samples solved by node: %s", name, json.dumps(dict(by_node), sort_keys=True))


async def _result(ref) -> Any:
    """The value of a Ray call; an evalpack error raised on the worker is raised here as itself
    (one sentence for the user), a lost worker as the RayError it is."""
    try:
        return await ref
    except RayTaskError as e:
        if isinstance(e.cause, EvalpackError):
            raise e.cause from None
        raise


class _ReplyCache:
    """The run store as a worker's Context sees it: the replies the driver sent along are
    replayed; new calls are kept for the driver, which stores them."""

    def __init__(self, known: dict[str, dict]) -> None:
        self.known = dict(known)
        self.new: list[tuple] = []

    def take(self) -> list[tuple]:
        """The calls made since the last take, for the driver to store."""
        new, self.new = self.new, []
        return new

    def get_call(self, key: str) -> dict | None:
        return self.known.get(key)

    def put_call(self, key: str, benchmark: str, sample_id: str, repeat: int, request_json: str,
                 response: dict, latency: float) -> None:
        self.known[key] = response
        self.new.append((key, benchmark, sample_id, repeat, request_json, response, latency))

    async def durable(self) -> None:
        """Durable once the driver has stored them (see RayPool.run)."""


class SampleWorker:
    """One Ray worker (an async actor): solves and scores samples of the plans it prepared."""

    def __init__(self, config: RunConfig, sandbox_workers: int) -> None:  # programs at once
        from evalpack.config import register_secrets
        from evalpack.scrub import add_secret

        # one sandboxed program per CPU Ray gave this worker, unless the node's own setting says otherwise
        os.environ.setdefault("EVALPACK_SANDBOX_WORKERS", str(sandbox_workers))
        add_secret(config.api_key)
        add_secret(getattr(config.judge, "api_key", None))
        register_secrets(config.generation)
        register_secrets(config.dataset_args)
        self.config = config
        self.clients: Clients | None = None  # made on the actor's event loop, at the first solve
        self.plans: dict[str, Plan] = {}
        # async scorings started by solve(), by token: (the scoring, the calls its judge makes)
        self._scoring: dict[int, tuple[asyncio.Future, _ReplyCache]] = {}
        self._tokens = itertools.count()

    def prepare(self, name: str, args: dict, load_args: dict, variant: str, data_dir: str,
                judge: dict | None = None) -> dict:
        from evalpack.benchmarks import registry
        from evalpack.datasets.verify import check_before_run

        node = ray.util.get_node_ip_address()
        bench = registry.get(name)
        try:
            check_before_run([(bench, load_args)], Path(data_dir))
            bench.load(Path(data_dir), load_args)  # the driver's checks, on this node's copy of the data
        except DataMissingError as e:
            raise DataMissingError(f"on Ray node {node}: {e} (every node reads the kit at the driver's "
                                   f"--dataset-dir {data_dir})") from None
        self.plans[variant] = Plan(bench, args, [], variant, root=bench.root(Path(data_dir), load_args), judge=judge)
        return {"version": __version__, "node": node, "pid": os.getpid()}

    async def solve(self, variant: str, sample: Sample, repeat: int, known: dict[str, dict]) -> dict:
        """The row, scored when the scorer is synchronous (as pool.Pool scores it); an async scorer
        starts here, beside, and `score(..., token)` collects it."""
        if self.clients is None:
            self.clients = Clients(self.config)
        plan = self.plans[variant]
        replies = _ReplyCache(known)
        pool = Pool(lambda p, s, r: self._context(p, s, r, replies), record=None, concurrency=1, quiet=True)
        row = await pool.solve(plan, sample, repeat)
        token = None
        if "output" in row:
            fields = score(plan.bench, sample, row["output"], plan.args, self._judge(plan, sample, repeat, replies))
            if inspect.isawaitable(fields):
                token = next(self._tokens)
                self._scoring[token] = (asyncio.ensure_future(fields), replies)
            else:
                row.update(fields)
        return {"row": row, "calls": replies.take(), "fatal": pool.fatal, "scoring": token}

    async def score(self, variant: str, sample: Sample, output: dict, token: int, repeat: int = 0) -> dict:
        """The score fields of a solve's output and the judge's calls: the scoring that solve
        started, or (on another worker, after the first one was lost) scored anew."""
        pending, replies = self._scoring.pop(token, (None, None))
        if pending is not None:
            return {"fields": await pending, "calls": replies.take()}
        if self.clients is None:
            self.clients = Clients(self.config)
        plan, replies = self.plans[variant], _ReplyCache({})
        fields = await maybe_await(score(plan.bench, sample, output, plan.args,
                                         self._judge(plan, sample, repeat, replies)))
        return {"fields": fields, "calls": replies.take()}

    def _context(self, plan: Plan, sample: Sample, repeat: int, replies: _ReplyCache):
        return self.clients.context(replies, plan.bench.name, plan.args, sample.id, repeat, plan.root,
                                    judged=bool(plan.judge))

    def _judge(self, plan: Plan, sample: Sample, repeat: int, replies: _ReplyCache):
        """As Runner.judge: the judge of a judged benchmark's sample, its calls into `replies`."""
        from evalpack.scoring.judge import Judge

        if not plan.judge:
            return None
        return Judge(self._context(plan, sample, repeat, replies).judge, self.config.judge.strategy)
