"""Run every instance's gold patch offline (`--network none`) and record the outcome.

This is how `harness.NEEDS_NETWORK` is found and how a spec's lock is validated:
a gold patch must resolve its instance. Output: one JSON line per instance.

  python perf/swe_bench_validate_gold.py --data ../shared/datasets/swe_bench_verified_mini \
      --repo django/django=PATH --repo sphinx-doc/sphinx=PATH --out gold.jsonl [--instance-ids ...]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from evalpack.benchmarks.swe_bench import harness, images  # noqa: E402
from evalpack.benchmarks.swe_bench.specs import spec_for  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--repo", action="append", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--instance-ids", nargs="*")
    p.add_argument("--timeout", type=int, default=1800)
    a = p.parse_args()
    rows = [json.loads(line) for line in open(Path(a.data) / "test.jsonl", encoding="utf-8")]
    if a.instance_ids:
        rows = [r for r in rows if r["instance_id"] in set(a.instance_ids)]
    git_dirs = {k: images.open_repo(Path(v)) for k, v in (r.split("=", 1) for r in a.repo)}
    arch = images.resolve_arch(None)
    done = set()
    if Path(a.out).exists():
        done = {json.loads(line)["instance_id"] for line in open(a.out)}
    for inst in rows:
        if inst["instance_id"] in done:
            continue
        spec = spec_for(inst["repo"], inst["version"])
        t = time.monotonic()
        try:
            tag = images.build_instance(inst, spec, arch, git_dirs[inst["repo"]])
        except Exception as exc:  # record and go on: one broken build must not hide the others
            rec = {"instance_id": inst["instance_id"], "status": "build_failed", "reason": str(exc)[-1500:]}
        else:
            build = time.monotonic() - t
            res = harness.evaluate(inst, inst["patch"], spec, tag, arch=arch, timeout=a.timeout)
            rep = res.get("report", {})
            rec = {"instance_id": inst["instance_id"], "version": inst["version"], "status": res["status"],
                   "build_seconds": round(build, 1), "test_seconds": res["seconds"],
                   "f2p_failed": rep.get("FAIL_TO_PASS", {}).get("failure"),
                   "p2p_failed": rep.get("PASS_TO_PASS", {}).get("failure"), "reason": res.get("reason")}
            if res["status"] not in ("resolved",):
                rec["log_tail"] = res.get("log_tail", "")[-1500:]
        print(json.dumps({k: v for k, v in rec.items() if k != "log_tail"}), flush=True)
        with open(a.out, "a") as fh:
            fh.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
