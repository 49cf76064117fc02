"""The one JSON Lines reader: records of a dataset file, or a sentence naming what is wrong."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from evalpack.errors import DataMissingError


def read_jsonl(path: Path) -> list[dict]:
    """Every record of `path` (gzip when it ends in .gz), skipping blank lines."""
    path = Path(path)
    if not path.is_file():
        raise DataMissingError(f"{path} is missing; put the upstream file there (see `evalpack list`) "
                               f"or pass --dataset-dir.")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return parse_jsonl(f, path)


def parse_jsonl(lines, source: Path | str) -> list[dict]:
    """Records of JSON Lines text (an iterable of lines); `source` names it in errors."""
    try:
        return [record for _, record in numbered_records(lines)]
    except BadLine as bad:
        raise DataMissingError(f"{source} line {bad.number} is not JSON ({bad.error.msg}); the file is corrupt, "
                               f"restore the upstream copy") from None


class BadLine(ValueError):
    """Line `number` is not JSON: `error` says why; the caller words it for its reader."""

    def __init__(self, number: int, error: json.JSONDecodeError) -> None:
        super().__init__(f"line {number}: {error}")
        self.number, self.error = number, error


def numbered_records(lines):
    """(line number, decoded value) of each non-blank line; a line that is not JSON raises BadLine."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as e:
            raise BadLine(number, e) from None
