"""Serve a non-OpenAI text-generation backend behind an OpenAI-compatible /v1 API.

The main CLI registers the command with `add_adapter_parser(subparsers)`; nothing
heavy is imported until `run_adapter` runs.
"""

from evalpack.adapter.cli import add_adapter_parser, run_adapter

__all__ = ["add_adapter_parser", "run_adapter"]
