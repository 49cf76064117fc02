"""A user's own question files (general_mcq, general_qa): read strictly, hashed as read.

The kit's files are checked against the registry's hashes; a user's files have no registry, so
they are checked row by row instead, as strictly: the first bad row stops the run (exit 2,
before any request) with one sentence naming the file, the line and the field. The bytes that
are parsed are the bytes that are hashed, so the sha256 a report records is that of what was
evaluated.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalpack.errors import DataMissingError
from evalpack.jsonl import BadLine, numbered_records

FORMATS = (".jsonl", ".csv")  # EvalScope's local loader tries them in this order


class UserDataError(DataMissingError):
    """A user's file is unusable: exit 2, naming the file, the line and the field."""


@dataclass
class Row:
    line: int  # 1-based line of the file where the record starts
    fields: dict[str, Any]


@dataclass
class UserFile:
    path: Path
    sha256: str
    size: int
    rows: list[Row]

    def fail(self, row: Row | None, field: str | None, problem: str) -> UserDataError:
        where = f"{self.path}" + (f" line {row.line}" if row else "") + (f", field {field!r}" if field else "")
        return UserDataError(f"{where}: {problem}")

    def describe(self) -> dict:
        """What the run metadata records about the file."""
        return {"path": str(self.path.resolve()), "sha256": self.sha256, "size": self.size, "records": len(self.rows)}


def read_table(path: Path) -> UserFile:
    """The records of a .jsonl or .csv file; UserDataError for an unreadable, empty or malformed one."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserDataError(f"{path}: cannot be read ({e.strerror or e})") from None
    file = UserFile(path, hashlib.sha256(data).hexdigest(), len(data), [])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise UserDataError(f"{path} line {line}: is not UTF-8 text (byte 0x{data[e.start]:02x}); "
                            f"save the file as UTF-8 (EvalScope reads it as UTF-8 too)") from None
    file.rows = _jsonl_rows(file, text) if path.suffix == ".jsonl" else _csv_rows(file, text)
    if not file.rows:
        raise file.fail(None, None, "holds no records; it is empty (or only a header)")
    return file


def _jsonl_rows(file: UserFile, text: str) -> list[Row]:
    rows = []
    try:
        for number, record in numbered_records(text.splitlines()):
            if not isinstance(record, dict):
                raise UserDataError(f"{file.path} line {number}: is a JSON {type(record).__name__}, "
                                    f"not an object {{...}}")
            rows.append(Row(number, record))
    except BadLine as bad:
        raise UserDataError(f"{file.path} line {bad.number}: is not valid JSON ({bad.error.msg} at column "
                            f"{bad.error.colno}); each line must be one JSON object") from None
    return rows


def _csv_rows(file: UserFile, text: str) -> list[Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return []
        header = [h.strip() for h in header]
        seen = set()
        for h in header:
            if h in seen:
                raise UserDataError(f"{file.path} line 1, field {h!r}: the header names this column twice")
            seen.add(h)
        rows, start = [], reader.line_num + 1
        for record in reader:
            if not any(cell.strip() for cell in record):  # a blank line
                start = reader.line_num + 1
                continue
            if len(record) != len(header):
                raise UserDataError(f"{file.path} line {start}: has {len(record)} fields, the header has "
                                    f"{len(header)} ({', '.join(header)}); quote a value holding a comma")
            rows.append(Row(start, {h: cell.replace("\r\n", "\n") for h, cell in zip(header, record)}))
            start = reader.line_num + 1
        return rows
    except csv.Error as e:
        raise UserDataError(f"{file.path} line {reader.line_num}: is not valid CSV ({e})") from None


def text_field(file: UserFile, row: Row, name: str, required: bool = True) -> str | None:
    """A field as text (numbers become text); None when absent or blank and not required."""
    value = row.fields.get(name)
    if type(value) is str and value.strip():  # the usual case, first
        return value
    if isinstance(value, bool) or not (value is None or isinstance(value, (str, int, float))):
        raise file.fail(row, name, f"must be text, got {type(value).__name__} {_short(value)}")
    text = "" if value is None else str(value)
    if not text.strip():
        if required:
            raise file.fail(row, name, "is missing" if value is None else "is empty")
        return None
    return text


def find_file(root: Path, stem: str) -> Path | None:
    """<root>/<stem>.jsonl, else <stem>.csv (EvalScope's order)."""
    for ext in FORMATS:
        if (root / f"{stem}{ext}").is_file():
            return root / f"{stem}{ext}"
    return None


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."
