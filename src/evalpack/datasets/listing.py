"""`evalpack list`: benchmarks, their subsets and sizes, and the state of their data."""

from __future__ import annotations

from pathlib import Path

from evalpack.datasets.registry import find_manifest, manifests
from evalpack.datasets.verify import status


def human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def subset_records(manifest, split: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in manifest.files:
        if f.subset and f.split == split and f.records is not None:
            counts[f.subset] = counts.get(f.subset, 0) + f.records
    return counts


def print_list(data_dir: Path, names: list[str] | None = None) -> None:
    from evalpack.benchmarks import registry  # metadata only: no benchmark module is imported

    print(f"dataset dir: {data_dir}")
    print(f"{'benchmark':24} {'metric':12} {'subsets':>7} {'records':>8} {'size':>9}  data")
    used = set()
    for name in registry.names():
        info = registry.info(name)
        m = find_manifest(info.dirname)
        if m:
            used.add(m.name)
        records = (m.records.get(info.split) or (sum(m.records.values()) if len(m.records) == 1 else "")) if m else ""
        size = human(m.size) if m else ""
        state = status(data_dir, info.dirname)
        if m and not m.records:  # e.g. LongBench-v2: prompt templates only, questions not registered
            state += f"; registry has no questions: {m.source.get('note', '')}"
        if registry.plugin_of(name):
            state += f"; plugin from {registry.plugin_of(name)}"
        print(f"{name:24} {info.metric:12} {len(info.subsets):7d} {records:>8} {size:>9}  {state}")
        if names and name in names:
            per = subset_records(m, info.split) if m else {}
            for subset in info.subsets:
                print(f"    {subset:40} {per.get(subset, ''):>6}")
    rest = [m for m in manifests().values() if m.name not in used]
    if rest:
        print("\ndata in the registry, benchmark module not in this evalpack yet:")
        for m in rest:
            records = ", ".join(f"{k} {v}" for k, v in m.records.items()) or "-"
            print(f"  {'/'.join(m.benchmarks):24} dir {m.name:24} {human(m.size):>9}  {records:28} "
                  f"{status(data_dir, m.name)}")
