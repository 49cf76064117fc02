"""`evalpack eval` (a subprocess) against `evalpack mock` answering with a responder from
tests/responders/reasoning.py, for the AIME/HMMT, MMLU-Pro and BBH tests."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import MockProcess, run_dir_of, run_evalpack

RESPONDERS = Path(__file__).parent / "responders" / "reasoning.py"


def run_eval(responder: str, datasets: list[str], datasets_dir: Path, work_dir: Path, *extra: str) -> dict:
    """The report's section of each dataset, by name."""
    server = MockProcess("--responder", f"{RESPONDERS}:{responder}")
    try:
        proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", *datasets,
                            "--dataset-dir", str(datasets_dir), "--work-dir", str(work_dir), "--quiet", *extra)
    finally:
        server.stop()
    assert proc.returncode == 0, f"eval failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}"
    report = json.loads((run_dir_of(proc) / "report.json").read_text(encoding="utf-8"))
    return {d["dataset"]: d for d in report["datasets"]}
