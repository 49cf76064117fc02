"""No import cycle and no lower layer importing a higher one (scripts/import_graph.py holds the
layers); the checker itself is shown to catch both on a made-up graph."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("import_graph", REPO / "scripts" / "import_graph.py")
import_graph = importlib.util.module_from_spec(spec)
spec.loader.exec_module(import_graph)


def test_evalpack_has_no_cycle_and_no_upward_import():
    edges = import_graph.graph(REPO / "src")
    assert "evalpack.benchmarks.base" in edges and "evalpack.types" in edges["evalpack.benchmarks.base"]
    assert import_graph.problems(edges) == []
    assert edges["evalpack.types"] == set() and edges["evalpack.errors"] == set()


def test_the_checker_sees_cycles_and_upward_imports():
    edges = {"evalpack.types": {"evalpack.metrics"}, "evalpack.metrics": {"evalpack.types"},
             "evalpack.datasets.pack": {"evalpack.benchmarks.swe_bench.kit"},
             "evalpack.benchmarks.swe_bench.kit": set()}
    found = import_graph.problems(edges)
    assert "cycle: evalpack.metrics <-> evalpack.types" in found
    assert any(p.startswith("upward: evalpack.datasets.pack (data) imports evalpack.benchmarks") for p in found)
    assert any(p.startswith("upward: evalpack.types (records) imports evalpack.metrics") for p in found)
    assert import_graph.floors({"a": {"b"}, "b": {"c"}, "c": set()}) == {"a": 2, "b": 1, "c": 0}
