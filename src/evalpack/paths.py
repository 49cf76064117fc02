"""Where evalpack looks by default: the dataset dir. Its own module so that `evalpack list`
finds it without loading the run configuration."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "EVALPACK_DATA"


def default_dataset_dir() -> Path:
    """--dataset-dir when not given: $EVALPACK_DATA, else ~/.cache/evalpack/datasets."""
    return Path(os.environ.get(DATA_ENV) or Path.home() / ".cache" / "evalpack" / "datasets")
