"""math-verify in a small pool of worker processes, each item under a hard deadline.

math-verify guards itself with `signal.alarm`, which only works in a main thread and cannot
interrupt a long C call. So it runs in worker processes (`python -m evalpack.scoring.verify_pool`,
JSON lines over pipes), one dispatcher thread in the caller's process feeding them. A worker
that misses an item's deadline is killed and replaced, and that item alone gets status
"timeout"; a worker that dies costs only its item ("crash"). Callers get a `Verdict`.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import importlib.util
import itertools
import json
import logging
import os
import re
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger("evalpack.math")

DEFAULT_TIMEOUT = 30.0  # seconds per item, hard (the worker is killed past it)
WORKER_MEMORY_LIMIT = 4 << 30  # bytes of address space per worker: a runaway bignum fails, not the box
WORKER_START_TIMEOUT = 120.0  # importing sympy on a loaded 2-core machine can be slow

# --------------------------------------------------------------------------- verdicts


@dataclass
class Verdict:
    correct: bool
    status: str  # "ok" | "same_text" | "no_answer" | "timeout" | "error" | "crash"
    message: str = ""  # what went wrong (timeouts, exceptions), for the log and Score.detail
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def math_verify_available() -> bool:
    return importlib.util.find_spec("math_verify") is not None


# --------------------------------------------------------------------------- worker side


# The LaTeX parser (ANTLR) builds its prediction cache lazily: a fresh process takes 1-2 s
# on its first expressions. Paying that before "ready", with no deadline running, keeps
# math-verify's wall-clock alarms from firing on the first real items of a busy machine.
WARM_UP = (r"\frac{1}{2}", r"\dfrac{\sqrt{3}}{2}", r"3\sqrt{2} + \pi", r"x^{2}-2x+1", r"2.5 \times 10^{-3}",
           r"\left( 3, \frac{\pi}{2} \right)", r"[1, 2) \cup (3, \infty)", r"\{1, 2\}", r"y = 2x + 3",
           r"\text{east}", r"5 \mathrm{~cm}", r"30^\circ", r"10\%", r"e^{-a t} \cos (\omega t)",
           r"\sin^{2} \theta + \log_{2} 8", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\$18", r"52_8")


def _warm_up(parse, verify, latex_config) -> None:
    config = [latex_config()]
    parsed = [parse("$\\boxed{" + text + "}$", config, parsing_timeout=None) for text in WARM_UP]
    for a, b in zip(parsed, parsed[1:]):
        verify(a, b, timeout_seconds=None)


def _limit_worker() -> None:
    """Best effort: cap the worker's memory, and end it if the evalpack process dies."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = WORKER_MEMORY_LIMIT if hard == resource.RLIM_INFINITY else min(WORKER_MEMORY_LIMIT, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, ValueError, OSError):
        pass
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass


def _worker_main() -> None:  # runs in `python -m evalpack.scoring.verify_pool`
    # Our replies go through a private copy of stdout; anything a library prints goes to stderr.
    reply = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    try:
        from math_verify import LatexExtractionConfig, parse, verify  # import cost paid before "ready"
    except Exception as exc:  # pragma: no cover - reported to the parent
        reply.write(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}) + "\n")
        return
    warnings: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if "Timeout is disabled" not in text:  # said once when we turn its alarms off
                warnings.append(text[:300])

    mv_log = logging.getLogger("math_verify")
    mv_log.addHandler(Collect(logging.WARNING))
    mv_log.propagate = False
    mv_log.setLevel(logging.WARNING)
    _limit_worker()
    _warm_up(parse, verify, LatexExtractionConfig)
    reply.write(json.dumps({"ready": True}) + "\n")
    # Only LaTeX extraction: the answer is already cut out, and math-verify's plain-expression
    # fallback would otherwise read a stray digit out of an unparsable answer (e.g. "2").
    latex_only = [LatexExtractionConfig()]
    for line in sys.stdin:
        job = json.loads(line)
        warnings.clear()
        start = time.perf_counter()
        try:
            inner = job.get("inner_timeout")  # int seconds for math-verify's own alarms, or None
            gold = parse("$\\boxed{" + job["gold"] + "}$", latex_only, parsing_timeout=inner)
            pred = parse("$\\boxed{" + job["pred"] + "}$", latex_only, parsing_timeout=inner)
            differ = _differ_numerically(gold, pred)
            ok = False if differ else bool(verify(gold, pred, timeout_seconds=inner))
            veto = _veto(job["gold"], job["pred"], gold, pred) if ok else ""
            timed_out = any("Timeout" in w for w in warnings)
            status = "timeout" if timed_out and not ok else "ok"
            out = {"correct": ok and not veto, "status": status,
                   "message": (veto or differ or "; ".join(warnings))[:500]}
        except BaseException as exc:  # noqa: BLE001 - one bad item must not end the worker
            out = {"correct": False, "status": "error",
                   "message": f"{type(exc).__name__}: {str(exc)[:300]}"}
        out["id"] = job["id"]
        out["seconds"] = round(time.perf_counter() - start, 4)
        reply.write(json.dumps(out) + "\n")


def _differ_numerically(gold: list, pred: list) -> str:
    """Why two expressions in the same variables cannot be equal ("" if they may be).

    sympy can spend seconds simplifying gold - pred for a long expression that is simply
    wrong. Two expressions that are equal take equal values everywhere, so values that differ
    at two random points settle it at once; anything else (relations, sets, undefined points,
    matching values) is left to math-verify.
    """
    import random

    from sympy import Basic, Expr, Float, N

    g = next((x for x in gold if isinstance(x, Basic)), None)
    p = next((x for x in pred if isinstance(x, Basic)), None)
    if not (isinstance(g, Expr) and isinstance(p, Expr)):
        return ""
    symbols = g.free_symbols
    if not symbols or symbols != p.free_symbols:
        return ""
    rng = random.Random(20240601)
    for _ in range(2):
        point = {s: Float(rng.uniform(0.3, 1.7), 30) for s in sorted(symbols, key=str)}
        try:
            a, b = complex(N(g.subs(point), 30)), complex(N(p.subs(point), 30))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return ""
        scale = max(abs(a), abs(b))
        if not (scale < float("inf")) or abs(a - b) <= REL_TOL * scale:
            return ""
    return "expressions differ numerically at random points"


_BASE_RE = re.compile(r"([0-9A-Za-z]+)_\{?(\d+)\}?")
REL_TOL = 1e-6


def _veto(gold_text: str, pred_text: str, gold: list, pred: list) -> str:
    """Why a math-verify match is wrong after all ("" if it stands).

    math-verify rounds numbers to 6 decimals, so 1.3e-27 "equals" 1.3e-28 (both round to 0):
    plain numbers must also agree to a relative 1e-6. It also reads 52_8 as 52: answers that
    both give a base subscript must give the same digits and base.
    """
    gold_bases, pred_bases = _BASE_RE.findall(gold_text), _BASE_RE.findall(pred_text)
    if gold_bases and pred_bases and sorted(gold_bases) != sorted(pred_bases):
        return f"base subscripts differ: {gold_bases} vs {pred_bases}"
    if "%" in gold_text or "%" in pred_text:  # math-verify matches 10% with 10 on purpose
        return ""
    from sympy import Basic, N

    g = next((x for x in gold if isinstance(x, Basic)), None)
    p = next((x for x in pred if isinstance(x, Basic)), None)
    if g is None or p is None or not (getattr(g, "is_number", False) and getattr(p, "is_number", False)):
        return ""
    try:
        a, b = complex(N(g, 30)), complex(N(p, 30))
    except (TypeError, ValueError):
        return ""
    scale = max(abs(a), abs(b))
    if scale and abs(a - b) > REL_TOL * scale:
        return f"numbers differ: {a.real:.6g} vs {b.real:.6g} (relative tolerance {REL_TOL:g})"
    return ""


# --------------------------------------------------------------------------- parent side


@dataclass
class _Job:
    id: int
    gold: str
    pred: str
    timeout: float
    future: concurrent.futures.Future


class _Worker:
    def __init__(self, env: dict) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evalpack.scoring.verify_pool"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, close_fds=True)
        self.fd = self.proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.buffer = b""
        self.ready = False
        self.started = time.monotonic()
        self.job: _Job | None = None
        self.deadline = 0.0
        self.sent_at = 0.0

    def send(self, job: _Job, inner_timeout: int | None) -> None:
        self.job = job
        self.sent_at = time.monotonic()
        self.deadline = self.sent_at + job.timeout
        payload = {"id": job.id, "gold": job.gold, "pred": job.pred, "inner_timeout": inner_timeout}
        self.proc.stdin.write((json.dumps(payload) + "\n").encode())
        self.proc.stdin.flush()

    def read_lines(self) -> tuple[list[dict], bool]:
        """Complete JSON lines available now, and whether the worker closed its stdout."""
        try:
            chunk = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return [], False
        if not chunk:
            return [], True
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()], False

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


class VerifyPool:
    """Worker processes running math-verify with a hard per-item deadline.

    `check_many(pairs)` scores a batch (all workers busy at once); `await check(gold, pred)`
    scores one item from async code, and concurrent awaits share the workers the same way.
    """

    def __init__(self, workers: int | None = None, *, signal_timeouts: bool = True) -> None:
        if not math_verify_available():
            from evalpack.errors import UsageError

            raise UsageError("math scoring needs the math-verify package; install it with "
                             "`pip install 'math-verify[antlr4_13_2]>=0.9,<0.10'` (an evalpack dependency).")
        self.size = max(1, workers or min(2, os.cpu_count() or 1))
        # False leaves math-verify's own SIGALRM guards off: only our deadline stops a hang.
        self.signal_timeouts = signal_timeouts
        self._env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])
        self._env["PYTHONPATH"] = os.pathsep.join(
            [package_root] + [p for p in self._env.get("PYTHONPATH", "").split(os.pathsep) if p])
        self._pending: collections.deque[_Job] = collections.deque()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._ids = itertools.count()
        self._workers: list[_Worker] = []
        self._closed = False
        self.stats = collections.Counter()
        self._thread = threading.Thread(target=self._run, name="math-verify-pool", daemon=True)
        self._thread.start()

    # ---- public API
    def submit(self, gold: str, pred: str, timeout: float = DEFAULT_TIMEOUT) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("VerifyPool is closed")
            if not self._thread.is_alive():  # it died on an unexpected error (already logged)
                future.set_result(Verdict(False, "error", "math-verify pool stopped"))
                return future
            self._pending.append(_Job(next(self._ids), gold, pred, float(timeout), future))
        self._wake()
        return future

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:  # the pipe is full of wake-ups already
            pass

    def check_many(self, pairs, timeout: float = DEFAULT_TIMEOUT) -> list[Verdict]:
        futures = [self.submit(gold, pred, timeout) for gold, pred in pairs]
        return [f.result() for f in futures]

    async def check(self, gold: str, pred: str, timeout: float = DEFAULT_TIMEOUT) -> Verdict:
        return await asyncio.wrap_future(self.submit(gold, pred, timeout))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake()
        self._thread.join(timeout=10)
        for worker in self._workers:
            worker.kill()
        self._workers.clear()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)

    # ---- dispatcher thread
    def _inner_timeout(self, hard: float) -> int | None:
        # math-verify's alarms take whole seconds; leave room for 2 parses + 4 comparisons.
        return max(1, int(hard // 6)) if self.signal_timeouts else None

    def _finish(self, job: _Job, verdict: Verdict) -> None:
        self.stats[verdict.status] += 1
        if verdict.status in ("timeout", "error", "crash"):
            log.warning("math-verify %s on gold=%r pred=%r: %s", verdict.status,
                        job.gold[:80], job.pred[:80], verdict.message)
        try:
            job.future.set_result(verdict)
        except concurrent.futures.InvalidStateError:  # the caller cancelled (e.g. Ctrl-C)
            pass

    def _retire(self, worker: _Worker, status: str, message: str) -> None:
        job = worker.job
        worker.kill()
        self._workers.remove(worker)
        self.stats["workers_replaced"] += 1
        if job is not None:
            self._finish(job, Verdict(False, status, message, round(time.monotonic() - worker.sent_at, 3)))

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ, None)
        try:
            while True:
                with self._lock:
                    if self._closed:
                        break
                self._dispatch(selector)
                self._grow(selector)
                now = time.monotonic()
                deadlines = [w.deadline for w in self._workers if w.job is not None]
                deadlines += [w.started + WORKER_START_TIMEOUT for w in self._workers if not w.ready]
                wait = max(0.0, min(deadlines) - now) if deadlines else None
                for key, _ in selector.select(wait):
                    if key.data is None:
                        try:
                            os.read(self._wake_r, 4096)
                        except BlockingIOError:
                            pass
                        continue
                    self._on_output(key.data, selector)
                self._expire(selector)
        except Exception as exc:  # pragma: no cover - never leave callers waiting forever
            log.exception("math-verify pool stopped")
            self._fail_all(f"pool stopped: {exc}")
        finally:
            self._fail_all("pool closed")
            selector.close()

    def _grow(self, selector) -> None:
        """Start a worker when jobs wait that the starting workers will not absorb."""
        with self._lock:
            waiting = len(self._pending)
        starting = sum(1 for w in self._workers if not w.ready)
        if waiting > starting and len(self._workers) < self.size:
            worker = _Worker(self._env)
            self._workers.append(worker)
            selector.register(worker.fd, selectors.EVENT_READ, worker)

    def _dispatch(self, selector) -> None:
        for worker in list(self._workers):
            if worker.ready and worker.job is None:
                with self._lock:
                    if not self._pending:
                        return
                    job = self._pending.popleft()
                try:
                    worker.send(job, self._inner_timeout(job.timeout))
                except OSError as exc:  # the worker died between two items
                    selector.unregister(worker.fd)
                    self._retire(worker, "crash", f"worker pipe broken: {exc}")

    def _on_output(self, worker: _Worker, selector) -> None:
        lines, closed = worker.read_lines()
        for message in lines:
            if "ready" in message:
                if not message["ready"]:
                    self._fail_all(f"math-verify worker cannot start: {message.get('error')}")
                    return
                worker.ready = True
                continue
            job = worker.job
            worker.job = None
            if job is not None and job.id == message.get("id"):
                self._finish(job, Verdict(bool(message["correct"]), message["status"],
                                          message.get("message", ""), message.get("seconds", 0.0)))
        if closed:
            selector.unregister(worker.fd)
            started = worker.ready
            self._retire(worker, "crash", f"worker exited (code {worker.proc.poll()})")
            if not started:  # it would fail again: answer the waiting items instead of respawning
                self._fail_all(f"math-verify worker exited while starting (code {worker.proc.returncode})")

    def _expire(self, selector) -> None:
        now = time.monotonic()
        for worker in list(self._workers):
            late_job = worker.job is not None and now >= worker.deadline
            late_start = not worker.ready and now >= worker.started + WORKER_START_TIMEOUT
            if late_job or late_start:
                selector.unregister(worker.fd)
                limit = worker.job.timeout if worker.job else WORKER_START_TIMEOUT
                self._retire(worker, "timeout", f"no verdict within {limit:g}s; worker killed")
                if late_start:
                    self._fail_all(f"math-verify worker not ready within {WORKER_START_TIMEOUT:g}s")

    def _fail_all(self, message: str) -> None:
        with self._lock:
            jobs = list(self._pending)
            self._pending.clear()
        jobs += [w.job for w in self._workers if w.job is not None]
        for job in jobs:
            self._finish(job, Verdict(False, "error", message))


_shared: VerifyPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> VerifyPool:
    """The process-wide pool (started on first use, closed at exit)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = VerifyPool()
            atexit.register(_shared.close)
        return _shared



if __name__ == "__main__":
    _worker_main()
