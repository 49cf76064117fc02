"""Subcommands that live beside their feature (pack, adapter, ...).

Each entry is "module:function"; the function receives argparse's subparsers
object, adds its parser and sets `func` (a function taking the parsed
namespace and returning an exit code). Keep those modules light to import:
`evalpack --help` imports every one of them.
"""

from __future__ import annotations

import importlib

ENTRIES: list[str] = [
    "evalpack.datasets.cli:register",
    "evalpack.adapter:add_adapter_parser",
    "evalpack.perf.cli:register",
    "evalpack.doctor:register",
]


def _registrar(entry: str):
    def register(subparsers) -> None:
        module, func = entry.split(":")
        getattr(importlib.import_module(module), func)(subparsers)

    return register


REGISTRARS = [_registrar(e) for e in ENTRIES]
