"""Helpers for the knowledge benchmark tests (C-Eval, GPQA-Diamond, LongBench-v2), on top of
conftest's MockProcess and run_evalpack: a real `evalpack mock` subprocess answering with a
responder from tests/responders/knowledge.py, and a real `evalpack eval` subprocess."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

from conftest import MockProcess, run_dir_of, run_evalpack

RESPONDERS = Path(__file__).parent / "responders" / "knowledge.py"


@contextlib.contextmanager
def mock_server(func: str):
    """A MockProcess answering with responders/knowledge.py:<func> (for module-scoped fixtures)."""
    server = MockProcess("--responder", f"{RESPONDERS}:{func}")
    try:
        yield server
    finally:
        server.stop()


def run_eval(url: str, dataset: str, dataset_dir: Path, work_dir: Path, *extra: str) -> tuple[dict, Path]:
    """Runs `evalpack eval` and returns (the dataset's section of report.json, run dir)."""
    proc = run_evalpack("eval", "--model", "mock", "--api-url", url, "--datasets", dataset,
                        "--dataset-dir", str(dataset_dir), "--work-dir", str(work_dir), "--quiet", *extra)
    assert proc.returncode == 0, f"eval failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    run_dir = run_dir_of(proc)
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    (section,) = [d for d in report["datasets"] if d["dataset"] == dataset]
    return section, run_dir


def samples(run_dir: Path, dataset: str) -> dict[str, dict]:
    lines = (run_dir / "samples" / f"{dataset}.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["sample_id"]: r for r in map(json.loads, lines)}


def pick(key: str, n: int, salt: str = "") -> int:
    """A stable pseudo-random choice in range(n) from a text key (shared by responders and tests)."""
    return int(hashlib.sha256((salt + key).encode("utf-8")).hexdigest()[:8], 16) % n
