"""evalpack's import graph: every module's floor, its layer, cycles and upward arrows.

Every `import evalpack...` counts, also those inside functions (a lazy import still ties two
modules together). A module's floor is 0 when it imports nothing of evalpack, else one more
than the highest floor among what it imports. LAYERS says which modules may import which:
a module may import its own layer and the ones below, never one above.

Usage: python scripts/import_graph.py [--src src]     (prints floors, layers, problems)
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import sys
from pathlib import Path

# bottom first; the first pattern a module matches decides its layer
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("records", ("evalpack", "evalpack.types", "evalpack.errors", "evalpack.scrub", "evalpack.paths")),
    ("infrastructure", ("evalpack.jsonl", "evalpack.config", "evalpack.store", "evalpack.progress",
                        "evalpack.metrics", "evalpack.stats", "evalpack.client", "evalpack.docker_engine",
                        "evalpack.openai_wire", "evalpack.perf", "evalpack.perf.stats", "evalpack.perf.output",
                        "evalpack.scoring", "evalpack.shard",
                        "evalpack.scoring.*")),
    ("data", ("evalpack.datasets", "evalpack.datasets.registry", "evalpack.datasets.download",
              "evalpack.datasets.verify", "evalpack.datasets.wheels", "evalpack.datasets.software_kit",
              "evalpack.datasets.pack", "evalpack.datasets.user_files", "evalpack.plugins",
              # plain data and its validator (imports only errors): plugin discovery checks declarations
              "evalpack.benchmarks.declaration")),
    ("benchmarks", ("evalpack.benchmarks", "evalpack.benchmarks.*")),
    ("run", ("evalpack.context", "evalpack.run_dir", "evalpack.plan", "evalpack.pool", "evalpack.ray_pool", "evalpack.runner",
             "evalpack.samples", "evalpack.run_meta", "evalpack.report", "evalpack.report_html")),
    ("commands", ("*",)),
]
# Known, and owned by another part (issue 15): `demo` prints its result with `cli.print_result`
# while `cli` starts the demo (moving print_result below both ends it).
ALLOWED_CYCLES = [{"evalpack.cli", "evalpack.demo"}]
# The package root re-exports the Python API (evalpack.evaluate, load_run) from the top layer;
# it loads it on first attribute access only, and nothing below imports those names from it.
ALLOWED_UPWARD = {("evalpack", "evalpack.api")}


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def graph(src: Path) -> dict[str, set[str]]:
    """module -> the evalpack modules it imports (anywhere in its file)."""
    modules = {module_name(p, src): p for p in (src / "evalpack").rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for t in targets:
                while t and t not in modules:  # `import evalpack.x.y` names a module or its package
                    t = t.rpartition(".")[0]
                if t.startswith("evalpack") and t != name and t != "evalpack":
                    edges[name].add(t)
    return edges


def layer_of(module: str) -> int:
    for i, (_, patterns) in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(module, p) for p in patterns):
            return i
    return len(LAYERS) - 1


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def floors(edges: dict[str, set[str]]) -> dict[str, int]:
    memo: dict[str, int] = {}

    def floor(m: str, seen: frozenset) -> int:
        if m in memo:
            return memo[m]
        below = [floor(d, seen | {m}) for d in edges[m] if d not in seen]
        memo[m] = 1 + max(below) if below else 0
        return memo[m]

    return {m: floor(m, frozenset()) for m in sorted(edges)}


def problems(edges: dict[str, set[str]]) -> list[str]:
    found = [f"cycle: {' <-> '.join(c)}" for c in cycles(edges) if set(c) not in ALLOWED_CYCLES]
    for m, deps in sorted(edges.items()):
        for d in sorted(deps):
            if layer_of(d) > layer_of(m) and (m, d) not in ALLOWED_UPWARD:
                found.append(f"upward: {m} ({LAYERS[layer_of(m)][0]}) imports {d} ({LAYERS[layer_of(d)][0]})")
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    ns = ap.parse_args()
    edges = graph(ns.src)
    fl = floors(edges)
    for m in sorted(edges, key=lambda m: (layer_of(m), fl[m], m)):
        print(f"{fl[m]:2d}  {LAYERS[layer_of(m)][0]:14} {m}")
    found = problems(edges)
    print("\n".join(found) if found else "no cycles (besides the allowed ones), no upward imports")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
