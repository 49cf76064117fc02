"""What every tau2 domain's tools share: how a tool is declared, called, answered and hashed.

tau2 calls a tool as a plain Python method, `toolkit.<name>(**arguments)`, with no
validation of the arguments beforehand, and turns any exception into the observation
`"Error: <exception text>"`. The agent reads that text, so the classes and methods here
carry upstream's names (`AirlineTools.book_reservation`, pydantic models named as upstream's):
then a wrong call raises the very same TypeError or ValidationError words.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict

READ, WRITE, THINK, GENERIC = "read", "write", "think", "generic"
_KIND = "__tau2_tool_kind__"


def tool(kind: str) -> Callable:
    """Mark a toolkit method as a tool the model may call (upstream's `@is_tool`)."""
    def mark(fn: Callable) -> Callable:
        setattr(fn, _KIND, kind)
        return fn
    return mark


class BaseModelNoExtra(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DB(BaseModelNoExtra):
    """A domain's database; unknown fields are refused, as upstream's."""


def dict_hash(data: Any) -> str:
    """sha256 of the canonical JSON that tau2 hashes (keys sorted, str() for the rest)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def merge_update(base: Any, update: Any) -> Any:
    """Deep merge of `update` into `base`: nested objects merge key by key, anything else
    is replaced (what upstream's addict-based `update_pydantic_model_with_dict` does)."""
    if isinstance(base, dict) and isinstance(update, dict):
        merged = dict(base)
        for key, value in update.items():
            merged[key] = merge_update(base[key], value) if key in base else value
        return merged
    return update


def update_model(model: BaseModel, update: dict | None) -> BaseModel:
    return type(model).model_validate(merge_update(model.model_dump(), update or {}))


class Toolkit:
    """One side's tools (agent or user) over one database."""

    def __init__(self, db: DB) -> None:
        self.db = db

    @classmethod
    def tool_names(cls) -> list[str]:
        """The declared tools, in declaration order."""
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            for name, member in vars(klass).items():
                if hasattr(member, _KIND) and name not in names:
                    names.append(name)
        return names

    @classmethod
    def tool_kind(cls, name: str) -> str:
        return getattr(getattr(cls, name), _KIND)

    def has_tool(self, name: str) -> bool:
        return name in self.tool_names()

    def use_tool(self, tool_name: str, **kwargs: Any) -> Any:
        if tool_name not in self.tool_names():
            raise ValueError(f"Tool '{tool_name}' not found.")
        return getattr(self, tool_name)(**kwargs)

    def update_db(self, update: dict | None) -> None:
        self.db = update_model(self.db, update)

    def db_hash(self) -> str:
        return dict_hash(self.db.model_dump())


def to_json_str(result: Any) -> str:
    """A tool's return value as the text the model reads (upstream `Environment.to_json_str`):
    strings as they are, everything else as JSON, with numbers and booleans inside turned into
    strings and models into their dicts."""

    def plain(value: Any) -> Any:
        if isinstance(value, BaseModel):
            return value.model_dump()
        if isinstance(value, str) or value is None:
            return value
        if isinstance(value, (int, float, bool)):
            return str(value)
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, tuple):
            return tuple(plain(v) for v in value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (datetime.datetime, datetime.date)):
            return value.isoformat()
        raise ValueError(f"Unsupported type: {type(value)}")

    if isinstance(result, str):
        return result
    return json.dumps(plain(result), default=str)


def calculate_expression(expression: str) -> str:
    """The `calculate` tool every domain has: + - * / ( ) . digits and spaces only."""
    if not all(char in "0123456789+-*/(). " for char in expression):
        raise ValueError("Invalid characters in expression")
    if "**" in expression:
        import ast

        from evalpack.benchmarks.tau_bench.toolbox import _small_powers
        try:
            tree = ast.parse(expression.strip(" "), mode="eval")
        except SyntaxError:
            tree = None  # eval below raises upstream's own words
        if tree is not None and not _small_powers(tree):
            # upstream would hang on 9**9**9; this is the one place we answer differently
            raise ValueError("exponent too large")
    # only digits, operators, dots and brackets reach eval, and no builtins
    return str(round(float(eval(expression, {"__builtins__": None}, {})), 2))  # noqa: S307
