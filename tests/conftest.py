"""Shared test fixtures.

Tests run against the real datasets in ../shared/datasets (beside the repo
checkout) and real HTTP servers on 127.0.0.1. Subprocesses import evalpack from
this checkout's src/ (PYTHONPATH), so a test never depends on which copy is installed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
SHARED = Path(os.environ.get("EVALPACK_SHARED", REPO.parent / "shared")).resolve()
DATASETS = SHARED / "datasets"

os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(SRC)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    if not DATASETS.is_dir():
        pytest.fail(f"shared datasets not found at {DATASETS} (set EVALPACK_SHARED)")
    return DATASETS


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MockProcess:
    """`evalpack mock` in a subprocess on a free 127.0.0.1 port."""

    def __init__(self, *args: str, model: str = "mock") -> None:
        import subprocess
        import time
        import urllib.request

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evalpack", "mock", "--port", str(self.port), "--model", model, *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mock exited: {self.proc.stderr.read().decode()}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/mock/stats", timeout=1).read()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mock server did not start")

    def stats(self) -> dict:
        import json
        import urllib.request

        return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/mock/stats", timeout=5).read())

    def reset(self) -> None:
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{self.port}/mock/reset", method="POST"), timeout=5).read()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except Exception:
            self.proc.kill()


@pytest.fixture
def mock_server():
    """Factory: mock_server("--answer", "ANSWER: C") -> a running MockProcess (stopped after the test)."""
    started: list[MockProcess] = []

    def start(*args: str, model: str = "mock") -> MockProcess:
        m = MockProcess(*args, model=model)
        started.append(m)
        return m

    yield start
    for m in started:
        m.stop()


def gate_responder(directory: Path, after: int, answer: str = "ANSWER: A") -> str:
    """A --responder spec that answers `after` requests, then holds every later one open.

    Tests that stop a run mid-way wait until the server has seen `after + concurrency` requests:
    by then the first `after` replies were received (a worker sends its next request only once its
    reply is stored), and the run cannot finish on its own, however fast or loaded the machine.
    """
    path = directory / f"gate_{after}.py"
    path.write_text(
        "import asyncio\n"
        "seen = 0\n"
        "async def respond(body):\n"
        "    global seen\n"
        "    seen += 1\n"
        f"    if seen > {after}:\n"
        "        await asyncio.Event().wait()  # held until the client goes away\n"
        f"    return {answer!r}\n", encoding="utf-8")
    return f"{path}:respond"


def wait_until(condition, what: str, timeout: float = 120.0) -> None:
    """Poll `condition` (an observable event, e.g. a server's request count) until it holds."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def run_evalpack(*args: str, timeout: float = 600, env: dict | None = None):
    """Run the real CLI in a subprocess; returns CompletedProcess (text)."""
    import subprocess

    return subprocess.run([sys.executable, "-m", "evalpack", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def run_dir_of(proc) -> Path:
    """The run directory an `evalpack eval` printed on its last line."""
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("run directory: "):
            return Path(line.split(": ", 1)[1].strip())
    raise AssertionError(f"no run directory in output:\n{proc.stdout}\n{proc.stderr}")


@pytest.fixture(scope="session")
def real_model_url():
    """A real llama.cpp server with SmolLM2-135M (../shared/tools/real-model/serve.sh).

    Uses $EVALPACK_REAL_MODEL_URL when set; otherwise starts serve.sh on a free port
    (the first start on a machine builds llama.cpp, about 4-7 minutes) and stops it after.
    """
    import subprocess

    url = os.environ.get("EVALPACK_REAL_MODEL_URL")
    if url:
        yield url
        return
    serve = SHARED / "tools" / "real-model" / "serve.sh"
    if not serve.is_file():
        pytest.fail(f"{serve} not found (set EVALPACK_SHARED or EVALPACK_REAL_MODEL_URL)")
    port = free_port()
    proc = subprocess.run(["bash", str(serve)], capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "PORT": str(port)})
    if proc.returncode != 0:
        pytest.fail(f"serve.sh failed:\n{proc.stderr[-3000:]}")
    pid = int(proc.stdout.strip().splitlines()[-1])
    yield f"http://127.0.0.1:{port}/v1"
    os.kill(pid, 15)

# The synthetic SWE-bench repo's own tests run inside a container, never in this session.
collect_ignore = ["fixtures/swe_synthetic/repo"]
