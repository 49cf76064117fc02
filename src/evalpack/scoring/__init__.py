"""Shared scoring machinery: answer extraction, math equivalence, sandboxed execution."""
