"""Real SWE-bench instances through evalpack, offline: pack -> (rmi) -> unpack -> eval (gold, empty).

Usage (a Docker engine running, clones of the upstream repositories at hand):
  python perf/swe_bench_real_instances.py --data ../shared/datasets/swe_bench_verified_mini \
      --repo django/django=PATH --repo sphinx-doc/sphinx=PATH \
      --instance-ids django__django-11790 sphinx-doc__sphinx-8721 --work /tmp/swe-demo
Prints the timings of each step and the resolved status per instance and answer.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(SRC))

from evalpack import docker_engine  # noqa: E402
from evalpack.benchmarks.swe_bench import kit  # noqa: E402


def run(cmd: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--repo", action="append", required=True)
    p.add_argument("--instance-ids", nargs="+", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--reload", action="store_true", help="docker rmi the instance images, then unpack")
    a = p.parse_args()
    work = Path(a.work)
    out = work / "kit" / "swe_bench_verified_mini"
    env = {"PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}

    t = time.monotonic()
    args = ["pack", "--data", a.data, "--out", str(out), "--instance-ids", *a.instance_ids]
    for r in a.repo:
        args += ["--repo", r]
    if not (out / "images" / "images.json").is_file() or a.reload:
        assert kit.main(args) == 0
        print(f"pack: {time.monotonic() - t:.0f}s", flush=True)
    manifest = json.loads((out / "images" / "images.json").read_text())
    if a.reload:
        for entry in manifest["archives"]:
            for tag in entry["tags"]:
                docker_engine.docker("rmi", tag, check=False)
        t = time.monotonic()
        kit.unpack_kit(out)
        print(f"unpack (docker load): {time.monotonic() - t:.0f}s", flush=True)

    for answer in ("gold", "noop", "empty"):
        port = 18000 + os.getpid() % 1000
        mock = subprocess.Popen([sys.executable, "-m", "evalpack", "mock", "--port", str(port), "--responder",
                                 f"{HERE / 'swe_bench_responders.py'}:{answer}"],
                                env={**os.environ, **env, "EVALPACK_SWE_JSONL": str(out / "test.jsonl")},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2)
        try:
            t = time.monotonic()
            # the repos come from the kit's bundles: no clone is used from here on
            proc = run([sys.executable, "-m", "evalpack", "eval", "--model", "mock", "--api-url",
                        f"http://127.0.0.1:{port}/v1", "--datasets", "swe_bench_verified_mini",
                        "--dataset-dir", str(out.parent), "--work-dir", str(work / "runs"), "--quiet", "--fresh",
                        "--dataset-args", json.dumps({"swe_bench_verified_mini": {
                            "extra_params": {"build_docker_images": False}}})], env=env)
            took = time.monotonic() - t
        finally:
            mock.terminate()
        if proc.returncode != 0:
            sys.exit(proc.stderr[-3000:])
        run_dir = Path([line for line in proc.stdout.splitlines()
                        if line.startswith("run directory: ")][-1].split(": ", 1)[1].strip())
        section = json.loads((run_dir / "report.json").read_text())["datasets"][0]
        print(f"eval {answer}: {took:.0f}s score={section['score']} statuses={section['statuses']}")
        for line in (run_dir / "samples" / "swe_bench_verified_mini.jsonl").read_text().splitlines():
            row = json.loads(line)
            d = row["detail"]
            print(f"  {row['sample_id']}: {d.get('status')} ({d.get('seconds', '-')}s in container) "
                  f"{d.get('reason', '')}")
        print(f"  images: {section['images']}  harness: {section['harness']}", flush=True)


if __name__ == "__main__":
    main()
