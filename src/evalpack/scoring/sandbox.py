"""Run untrusted (model-written) programs, contained. Reusable by every benchmark that executes code.

    result = await run_program(code, timeout=4.0)          # -> ExecResult
    result.status  # "passed" | "failed" | "timed_out" | "sandbox_error"

Each program runs in its own process tree under a supervisor (`sandbox_supervisor.py`), with
a fresh empty working directory, setrlimit limits, a wall-clock deadline, no network, a
dedicated unprivileged uid when evalpack runs as root, a scrubbed environment, stdin from
/dev/null and size-capped output. Where the OS allows it, the program gets its own network,
pid and mount namespaces (read-only file system, private tmpfs); otherwise socket() is
refused by a seccomp filter and leftovers are found through a subreaper and the uid. Each
result says which isolation it got.

Concurrency is bounded by a worker pool sized to the cores, so callers may start as many
`run` calls as they like. `engine="docker"` runs each program in a throw-away container
instead (`--sandbox docker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import marshal
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from evalpack.errors import UsageError

log = logging.getLogger(__name__)

PASSED, FAILED, TIMED_OUT, SANDBOX_ERROR = "passed", "failed", "timed_out", "sandbox_error"
STATUSES = (PASSED, FAILED, TIMED_OUT, SANDBOX_ERROR)
ENGINES = ("local", "docker")
MODES = ("namespaces", "fallback")

SUPERVISOR = Path(__file__).with_name("sandbox_supervisor.py")
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
# Dedicated uids for sandboxed programs (root only): one per concurrently running program,
# so RLIMIT_NPROC (counted per uid) and the fallback's "kill every process of the uid" see
# exactly one program. High and unnamed on purpose: no real account or service owns them.
UID_BASE = int(os.environ.get("EVALPACK_SANDBOX_UID_BASE", "1940000000"))
UID_COUNT = 256
SUPERVISOR_GRACE_S = 15.0  # beyond the program's own deadline, before the supervisor is killed
DOCKER_IMAGE = "python:3.11-slim"
SUPERVISOR_ENV = {"PATH": SAFE_PATH, "LANG": "C.UTF-8"}  # no secrets reach the sandbox


@dataclass(frozen=True)
class Limits:
    cpu_seconds: float = 10.0
    memory_bytes: int = 2 << 30  # address space per process
    total_memory_bytes: int = 4 << 30  # resident memory of all its processes together
    file_size_bytes: int = 64 << 20  # largest file the program may write
    disk_bytes: int = 256 << 20  # size of each private tmpfs (namespaces mode)
    max_processes: int = 64
    open_files: int = 256
    output_bytes: int = 4 << 20  # stdout + stderr; beyond this the program is killed
    tail_bytes: int = 4096  # how much of the end of stdout/stderr is kept


@dataclass
class ExecResult:
    status: str
    detail: str = ""  # why, in a few words (empty when passed)
    exit_code: int | None = None
    signal: int | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    duration_s: float = 0.0
    cpu_s: float = 0.0
    survivors_killed: int = 0  # processes still alive when the program ended (all killed)
    engine: str = "local"
    isolation: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_outcome(cls, outcome: dict, engine: str) -> "ExecResult":
        known = {k: v for k, v in outcome.items() if k in cls.__dataclass_fields__}
        known.setdefault("status", SANDBOX_ERROR)
        return cls(**{**known, "engine": engine})


# --- the local engine -----------------------------------------------------------------


def _world_executable(path: str) -> bool:
    """Can a user that owns nothing (only the 'other' permission bits) execute `path`?"""
    real = Path(os.path.realpath(path))
    try:
        if not real.stat().st_mode & stat.S_IXOTH:
            return False
        return all(p.stat().st_mode & stat.S_IXOTH for p in real.parents)
    except OSError:
        return False


def find_program_python(drops_privileges: bool) -> str:
    explicit = os.environ.get("EVALPACK_SANDBOX_PYTHON")
    if explicit:
        return explicit
    if not drops_privileges:
        return sys.executable
    candidates = [sys.executable, "/usr/bin/python3", "/usr/local/bin/python3", shutil.which("python3")]
    for cand in candidates:
        if cand and _world_executable(cand):
            return cand
    raise UsageError(
        f"the sandbox runs programs as an unprivileged user, who cannot execute {sys.executable} "
        "(it sits in a private directory) and no other python3 was found; "
        "set EVALPACK_SANDBOX_PYTHON to an interpreter every user can run, e.g. /usr/bin/python3.")


def _state_dir(name: str) -> Path:
    """A directory only we can list (0711 as root so nobody can find the work dirs in it)."""
    path = Path(tempfile.gettempdir()) / f"evalpack-{name}-{os.geteuid()}"
    path.mkdir(mode=0o711, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise UsageError(f"{path} is not a directory owned by this user; remove it and retry.")
    os.chmod(path, 0o711 if os.geteuid() == 0 else 0o700)
    return path


class _UidLease:
    """Exclusive use of one sandbox uid, across threads and processes (flock)."""

    def __init__(self) -> None:
        self.uid: int | None = None
        self._fd: int | None = None

    def __enter__(self) -> int:
        lock_dir = _state_dir("sandbox-uids")
        for uid in range(UID_BASE, UID_BASE + UID_COUNT):
            fd = os.open(lock_dir / str(uid), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.uid, self._fd = uid, fd
            return uid
        raise RuntimeError(f"all {UID_COUNT} sandbox uids are in use")

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock


def _remove_tree(path: Path) -> None:
    def make_writable_and_retry(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=make_writable_and_retry)


async def _supervise(request: dict, grace: float) -> dict:
    """Start the supervisor, hand it the request, return its outcome (or a sandbox_error)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-S", str(SUPERVISOR),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=SUPERVISOR_ENV, start_new_session=True)
    try:
        out, err = await asyncio.wait_for(
            proc.communicate(marshal.dumps(request)), request["timeout"] + grace)
    except asyncio.TimeoutError:
        return {"status": SANDBOX_ERROR, "detail": "the sandbox supervisor did not finish in time"}
    finally:
        if proc.returncode is None:
            # The program has PDEATHSIG set and its namespace dies with the supervisor's child.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await proc.wait()
    return _outcome(out, err, proc.returncode)


def _outcome(out: bytes, err: bytes, returncode: int | None) -> dict:
    try:
        outcome = marshal.loads(out)  # our own supervisor's bytes; the program cannot write here
        if isinstance(outcome, dict):
            return outcome
    except (ValueError, EOFError, TypeError):
        pass
    tail = err.decode("utf-8", "replace")[-2000:]
    return {"status": SANDBOX_ERROR,
            "detail": f"the sandbox supervisor failed (exit {returncode}): {tail}"}


class LocalEngine:
    name = "local"

    def __init__(self, mode: str | None = None, python: str | None = None,
                 block_sockets: bool = True) -> None:
        # block_sockets=False leaves only the network namespace between a program and the
        # network (tests use it to check the namespace on its own); the fallback always blocks.
        self.block_sockets = block_sockets
        self.drops_privileges = os.geteuid() == 0
        self.python = python or find_program_python(self.drops_privileges)
        mode = mode or os.environ.get("EVALPACK_SANDBOX_MODE") or None
        if mode is not None and mode not in MODES:
            raise UsageError(f"sandbox mode {mode!r} is unknown; use one of {', '.join(MODES)}.")
        self.mode = mode or self._detect_mode()

    def _detect_mode(self) -> str:
        """Try namespaces with a trivial program; fall back when the OS refuses them."""
        probe = self._run_sync("pass", "namespaces")
        if probe.status == PASSED:
            return "namespaces"
        log.warning("sandbox: no namespaces here (%s); network is blocked by a seccomp socket "
                    "filter instead", probe.detail)
        fallback = self._run_sync("pass", "fallback")
        if fallback.status != PASSED:
            raise UsageError(
                "the code sandbox cannot isolate programs on this machine "
                f"({fallback.detail}); run evalpack on Linux as root or with user namespaces "
                "enabled, or use --sandbox docker.")
        return "fallback"

    def _run_sync(self, code: str, mode: str) -> ExecResult:
        with self._prepared(code, 10.0, Limits(), mode) as request:
            try:
                done = subprocess.run([sys.executable, "-I", "-S", str(SUPERVISOR)],
                                      input=marshal.dumps(request), capture_output=True,
                                      env=SUPERVISOR_ENV, timeout=10.0 + SUPERVISOR_GRACE_S,
                                      start_new_session=True)
            except subprocess.TimeoutExpired:
                return ExecResult(SANDBOX_ERROR, "the sandbox supervisor did not finish in time")
        return ExecResult.from_outcome(_outcome(done.stdout, done.stderr, done.returncode), self.name)

    async def run(self, code: str, timeout: float, limits: Limits) -> ExecResult:
        with self._prepared(code, timeout, limits, self.mode) as request:
            outcome = await _supervise(request, SUPERVISOR_GRACE_S)
        return ExecResult.from_outcome(outcome, self.name)

    @contextlib.contextmanager
    def _prepared(self, code: str, timeout: float, limits: Limits, mode: str):
        """The supervisor's request, with a leased uid and (fallback) a fresh work dir."""
        lease = _UidLease()
        workdir = None
        try:
            uid = lease.__enter__() if self.drops_privileges else None
            if mode == "fallback":
                workdir = Path(tempfile.mkdtemp(prefix="run-", dir=_state_dir("sandbox-work")))
            yield {
                "mode": mode, "code": code, "python": self.python, "timeout": float(timeout),
                "uid": uid, "gid": uid, "block_sockets": self.block_sockets or mode == "fallback",
                "workdir": str(workdir) if workdir else None,
                "tail_bytes": limits.tail_bytes, "limits": asdict(limits),
            }
        finally:
            lease.__exit__(None, None, None)
            if workdir is not None:
                _remove_tree(workdir)


# --- the docker engine ----------------------------------------------------------------


class _CappedTail:
    def __init__(self, keep: int) -> None:
        self.keep, self.buf, self.total = keep, bytearray(), 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        self.buf = (self.buf + data)[-self.keep:] if self.keep else bytearray()

    def text(self) -> str:
        return bytes(self.buf).decode("utf-8", "replace")


class DockerEngine:
    """One throw-away container per program: no network, read-only root, pids/memory caps."""

    name = "docker"

    def __init__(self, image: str | None = None) -> None:
        self.image = image or os.environ.get("EVALPACK_SANDBOX_IMAGE", DOCKER_IMAGE)
        from evalpack import docker_engine

        try:
            self.docker = docker_engine.docker_cli("--sandbox docker")
            docker_engine.engine_info("--sandbox docker")
        except docker_engine.DockerUnavailable as exc:
            raise UsageError(f"--sandbox docker: {exc} Or use the default local sandbox (--sandbox local).") from None

    def command(self, name: str, limits: Limits) -> list[str]:
        cpu, fsize, nofile = int(limits.cpu_seconds), limits.file_size_bytes, limits.open_files
        return [
            self.docker, "run", "--rm", "-i", "--name", name, "--pull", "never",
            "--network", "none", "--read-only", "--user", "65534:65534", "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges", "--pids-limit", str(limits.max_processes),
            "--memory", str(limits.total_memory_bytes), "--memory-swap", str(limits.total_memory_bytes),
            "--tmpfs", f"/tmp:rw,nosuid,nodev,size={limits.disk_bytes},mode=1777",
            "--workdir", "/tmp", "--ulimit", f"cpu={cpu}:{cpu + 1}",
            "--ulimit", f"fsize={fsize}:{fsize}", "--ulimit", f"nofile={nofile}:{nofile}",
            "--env", "PYTHONDONTWRITEBYTECODE=1", "--log-driver", "none",
            self.image, "python3", "-I", "-",  # the program arrives on stdin, which then is at EOF
        ]

    async def run(self, code: str, timeout: float, limits: Limits) -> ExecResult:
        name = f"evalpack-sbx-{uuid.uuid4().hex[:12]}"
        loop = asyncio.get_running_loop()
        started = loop.time()
        proc = await asyncio.create_subprocess_exec(
            *self.command(name, limits), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env={"PATH": SAFE_PATH, **_docker_env()})
        tails = [_CappedTail(limits.tail_bytes), _CappedTail(limits.tail_bytes)]
        over = asyncio.Event()

        async def pump(stream, tail):
            while True:
                data = await stream.read(1 << 16)
                if not data:
                    return
                tail.add(data)
                if tails[0].total + tails[1].total > limits.output_bytes:
                    over.set()

        proc.stdin.write(code.encode())
        proc.stdin.close()
        pumps = asyncio.gather(pump(proc.stdout, tails[0]), pump(proc.stderr, tails[1]))
        waiter = asyncio.ensure_future(over.wait())
        try:
            done, _ = await asyncio.wait({pumps, waiter}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            reason = None if pumps in done else ("output" if waiter in done else "timeout")
            if reason:
                await _quiet([self.docker, "kill", name])
            await pumps
            code_ = await proc.wait()
        finally:
            waiter.cancel()
            if proc.returncode is None:  # cancelled: the container must not outlive the run
                await asyncio.shield(_quiet([self.docker, "kill", name]))
        result = ExecResult(status=PASSED if code_ == 0 else FAILED, exit_code=code_,
                            stdout_tail=tails[0].text(), stderr_tail=tails[1].text(),
                            stdout_bytes=tails[0].total, stderr_bytes=tails[1].total,
                            duration_s=round(loop.time() - started, 4), engine=self.name,
                            isolation={"container": self.image, "network": "none"})
        if reason == "timeout":
            result.status, result.detail = TIMED_OUT, f"wall-clock timeout after {timeout:g} s"
        elif reason == "output":
            result.status, result.detail = FAILED, f"output limit of {limits.output_bytes} bytes exceeded"
        elif code_ == 125:  # docker itself failed (image missing, bad option)
            result.status, result.detail = SANDBOX_ERROR, "docker run failed: " + result.stderr_tail[-500:]
        elif code_ != 0:
            result.detail = f"exit code {code_}"
        return result


def _docker_env() -> dict:
    # Only what the docker client needs to find its daemon; nothing else leaves this process.
    return {k: v for k, v in os.environ.items() if k in ("DOCKER_HOST", "DOCKER_CONFIG",
                                                        "DOCKER_CONTEXT", "HOME")}


async def _quiet(cmd: list[str]) -> None:
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL)
    await proc.wait()


# --- the pool -------------------------------------------------------------------------


def default_workers() -> int:
    """One program per core; EVALPACK_SANDBOX_WORKERS overrides (programs that mostly wait,
    or a machine shared with other work)."""
    explicit = os.environ.get("EVALPACK_SANDBOX_WORKERS")
    if explicit:
        if not explicit.isdigit() or int(explicit) < 1:
            raise UsageError(f"EVALPACK_SANDBOX_WORKERS={explicit!r} must be a positive integer.")
        return int(explicit)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class SandboxPool:
    """An engine plus a bounded worker pool. Safe to share across tasks of one event loop."""

    def __init__(self, engine: str = "local", workers: int | None = None,
                 limits: Limits | None = None, **engine_options) -> None:
        if engine not in ENGINES:
            raise UsageError(f"--sandbox {engine!r} is unknown; use one of {', '.join(ENGINES)}.")
        self.engine = LocalEngine(**engine_options) if engine == "local" else DockerEngine(**engine_options)
        self.workers = workers or default_workers()
        self.limits = limits or Limits()
        # asyncio primitives belong to one event loop; tests and rescore may start several
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore | None = None

    def _slot(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._semaphore is None:
            self._loop, self._semaphore = loop, asyncio.Semaphore(self.workers)
        return self._semaphore

    async def run(self, code: str, timeout: float = 10.0, limits: Limits | None = None,
                  **limit_overrides) -> ExecResult:
        limits = replace(limits or self.limits, **limit_overrides)
        async with self._slot():
            try:
                return await self.engine.run(code, timeout, limits)
            except Exception as exc:  # the sample is scored as a sandbox error; the run goes on
                log.exception("sandbox failure")
                return ExecResult(status=SANDBOX_ERROR, detail=f"{type(exc).__name__}: {exc}",
                                  engine=self.engine.name)


_shared: dict[str, SandboxPool] = {}


def get_sandbox(engine: str = "local") -> SandboxPool:
    """The process-wide sandbox of an engine (one pool shared by all benchmarks)."""
    if engine not in _shared:
        _shared[engine] = SandboxPool(engine)
    return _shared[engine]


async def run_program(code: str, timeout: float = 10.0, limits: Limits | None = None,
                      engine: str = "local", **limit_overrides) -> ExecResult:
    return await get_sandbox(engine).run(code, timeout=timeout, limits=limits, **limit_overrides)
