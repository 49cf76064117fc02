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
