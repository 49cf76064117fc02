"""Rewrite README.md's benchmark table and docs/benchmarks.md from benchmarks/registry.py.

    python scripts/update_benchmark_docs.py

Both are the output of `evalpack list --markdown` / `--docs`; tests/test_listing.py fails when
either is stale. Run it after adding or changing a benchmark's declaration.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- benchmarks table:", "<!-- end of benchmarks table -->\n"


def generated(flag: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, "-m", "evalpack", "list", flag], capture_output=True, text=True,
                          env=env, check=True).stdout


def main() -> int:
    readme = REPO / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        print(f"README.md has no table markers ({BEGIN} ... {END.strip()})", file=sys.stderr)
        return 2
    readme.write_text(text[:start] + generated("--markdown") + text[end + len(END):], encoding="utf-8")
    (REPO / "docs" / "benchmarks.md").write_text(generated("--docs"), encoding="utf-8")
    print("README.md (benchmark table) and docs/benchmarks.md rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
