"""Offline datasets: the registry (manifests/), checks, and pack/unpack for air-gapped machines.

Nothing in this package is imported at eval time except `registry` and `verify`,
which only read local files; `download` (the only network code) is `pack`'s.
"""
