"""How big is the offline kit, and what does the eval-time data check cost?

Packs the datasets of the issue (mmlu ceval gpqa humaneval gsm8k math500 minerva_math
bfcl_v4 tau_bench) plus a wheelhouse for an aarch64 server with Python 3.10, through the
real download code against tests/hub_server.py (the hubs' URL schemes on 127.0.0.1;
derived files from the shared dir as --mirror). The wheel step asks the package index.

    python perf/kit_size.py [--datasets-dir ../shared/datasets] [--platform P] [--python-version V]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

DATASETS = ["mmlu", "ceval", "gpqa_diamond", "humaneval", "gsm8k", "math_500", "minerva_math", "bfcl_v4", "tau_bench"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets-dir", type=Path, default=REPO.parent / "shared" / "datasets")
    ap.add_argument("--platform", default="manylinux2014_aarch64")
    ap.add_argument("--python-version", default="3.10")
    args = ap.parse_args()

    from hub_server import HubServer

    from evalpack.benchmarks import registry
    from evalpack.datasets.registry import manifests
    from evalpack.datasets.verify import check_files, needed_files

    hub = HubServer(args.datasets_dir)
    with tempfile.TemporaryDirectory() as tmp:
        kit = Path(tmp) / "evalpack-kit.tar"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "evalpack", "pack", "--datasets", *DATASETS, "--hub-base", hub.url,
                        "--mirror", str(args.datasets_dir), "--wheels", "--platform", args.platform,
                        "--python-version", args.python_version, "--out", str(kit)],
                       check=True, env={**__import__("os").environ, "PYTHONPATH": str(REPO / "src")})
        took = time.perf_counter() - started
        hub.stop()
        with tarfile.open(kit) as tar:
            members = tar.getmembers()
        data = sum(m.size for m in members if m.name.startswith("datasets/"))
        wheels = sum(m.size for m in members if m.name.startswith("wheels/"))
        with open(kit, "rb") as f, gzip.open(Path(tmp) / "kit.tar.gz", "wb", compresslevel=6) as g:
            shutil.copyfileobj(f, g)
        gz = (Path(tmp) / "kit.tar.gz").stat().st_size
        print(f"\nkit for {' '.join(DATASETS)} + wheels ({args.platform}, Python {args.python_version}):")
        print(f"  datasets {data:,} bytes in {sum(m.name.startswith('datasets/') for m in members)} files")
        print(f"  wheels   {wheels:,} bytes in {sum(m.name.startswith('wheels/') for m in members)} wheels")
        print(f"  tar      {kit.stat().st_size:,} bytes; gzip -6 {gz:,} bytes; pack took {took:.1f} s")
        evalscope = (6.2 + 0.7) * 1e9
        print(f"  vs EvalScope image 6.2 GB + dataset cache 0.7 GB: {kit.stat().st_size / evalscope:.2%} (tar), "
              f"{gz / evalscope:.2%} (gzip)")

    # eval-time check: size + sha256 of every file a run needs, no cache (warm page cache)
    print("\neval-time data check (size + sha256, warm page cache):")
    mmlu = registry.get("mmlu")
    files = needed_files(mmlu, mmlu.resolve_args({}))
    for label, root, fs in [("mmlu, all 57 subjects (114 files)", args.datasets_dir / "mmlu", files)] + [
            (f"{m.name} ({len(m.files)} files, {m.size / 1e6:.1f} MB)", args.datasets_dir / m.name, m.files)
            for m in manifests().values() if m.size > 3e6]:
        best = min(timed(check_files, root, fs) for _ in range(5))
        print(f"  {label:40} {best * 1000:7.1f} ms")
    allfiles = sum(m.size for m in manifests().values())
    best = min(timed(lambda: [check_files(args.datasets_dir / m.name, m.files) for m in manifests().values()])
               for _ in range(3))
    print(f"  {'every registered file (%.1f MB)' % (allfiles / 1e6):40} {best * 1000:7.1f} ms")


def timed(fn, *a) -> float:
    t = time.perf_counter()
    fn(*a)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
