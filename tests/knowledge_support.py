"""Helpers for the knowledge benchmark tests: a real `evalpack mock` subprocess on a free
127.0.0.1 port with a responder from tests/responders/, and a real `evalpack eval` subprocess."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

RESPONDERS = Path(__file__).parent / "responders" / "knowledge.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def mock_server(func: str, env: dict | None = None):
    """Yields the base URL of a mock server answering with responders/knowledge.py:<func>."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalpack", "mock", "--port", str(port), "--model", "mock",
         "--responder", f"{RESPONDERS}:{func}"],
        env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(200):  # bounded wait for the port to answer
            if proc.poll() is not None:
                raise RuntimeError(f"mock server exited: {proc.stdout.read().decode(errors='replace')}")
            try:
                urllib.request.urlopen(url + "/models", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("mock server did not start within 10 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_eval(url: str, dataset: str, dataset_dir: Path, work_dir: Path, *extra: str) -> tuple[dict, Path]:
    """Runs `evalpack eval` and returns (the dataset's section of report.json, run dir)."""
    cmd = [sys.executable, "-m", "evalpack", "eval", "--model", "mock", "--api-url", url,
           "--datasets", dataset, "--dataset-dir", str(dataset_dir), "--work-dir", str(work_dir),
           "--quiet", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"eval failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("run directory: "), proc.stdout
    run_dir = Path(last[len("run directory: "):])
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    (section,) = [d for d in report["datasets"] if d["dataset"] == dataset]
    return section, run_dir


def samples(run_dir: Path, dataset: str) -> dict[str, dict]:
    lines = (run_dir / "samples" / f"{dataset}.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["sample_id"]: r for r in map(json.loads, lines)}


def pick(key: str, n: int, salt: str = "") -> int:
    """A stable pseudo-random choice in range(n) from a text key (shared by responders and tests)."""
    return int(hashlib.sha256((salt + key).encode("utf-8")).hexdigest()[:8], 16) % n
