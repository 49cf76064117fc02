"""The subcommands whose parser and code live beside their feature (pack, adapter, perf, ...).

Maps each command name to the "module:function" that adds its parser: the function receives
argparse's subparsers object, adds its parser(s) and sets `func` (a function taking the parsed
namespace and returning an exit code). `evalpack NAME ...` imports only NAME's module;
`evalpack --help` imports every one, so keep them light to import.
"""

from __future__ import annotations

import importlib

# command -> registrar; a registrar that adds several commands is listed under each
REGISTRARS: dict[str, str] = {
    "pack": "evalpack.datasets.cli:register",
    "unpack": "evalpack.datasets.cli:register",
    "verify": "evalpack.datasets.cli:register",
    "adapter": "evalpack.adapter:add_adapter_parser",
    "perf": "evalpack.perf.cli:register",
    "doctor": "evalpack.doctor:register",
    "merge": "evalpack.merge:register",
}


def register(subparsers, command: str | None = None) -> None:
    """Add the parser of `command` (None: of every command here), each registrar once."""
    entries = [REGISTRARS[command]] if command in REGISTRARS else (
        [] if command else list(dict.fromkeys(REGISTRARS.values())))
    for entry in entries:
        module, func = entry.split(":")
        getattr(importlib.import_module(module), func)(subparsers)
