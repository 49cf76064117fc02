"""Agreement of evalpack's humaneval_plus / mbpp_plus verdicts with the `evalplus` package's.

The same solutions go to both: per task its canonical solution, a copy that remembers the
base inputs (right on base, None elsewhere: passes base, fails plus), a wrong one, and up to
two mutants of the canonical solution (one comparison, arithmetic operator or integer
constant changed). evalpack scores them with its own sandbox and rules; evalplus's
`evaluate` (installed from PyPI in a separate venv, never a test dependency) scores them in
its own processes. The report is per (task, solution): base verdict and plus verdict
(base and plus tests pass) of each, and where they differ.

    python -m venv /path/to/venv && /path/to/venv/bin/pip install evalplus
    python scripts/evalplus_agreement.py --evalplus-python /path/to/venv/bin/python \\
        --datasets-dir ../shared/datasets --out agreement.json [--tasks 20]

evalplus runs with min_time_limit=4 (its current default; PyPI 0.3.1 has 1) so both apply
the same time limits. --evalplus-pythonpath DIR puts DIR first on evalplus's path, e.g. a copy of
the installed package whose eval/__init__.py is evalplus HEAD's (0.3.1 fails every HumanEval/32
`find_zero` solution: its oracle branch never marks the input passed; HEAD fixed that).
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from evalpack.benchmarks import registry  # noqa: E402
from evalpack.scoring.sandbox import PASSED  # noqa: E402

DATASETS = {"humaneval_plus": ("humaneval", "humanevalplus/HumanEvalPlus.jsonl.gz", "HUMANEVAL_OVERRIDE_PATH"),
            "mbpp_plus": ("mbpp", "mbppplus/MbppPlus.jsonl.gz", "MBPP_OVERRIDE_PATH")}
SWAP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
        ast.NotEq: ast.Eq, ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.FloorDiv: ast.Mod}


def mutation_sites(tree: ast.AST) -> list[ast.AST]:
    sites = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and type(node.ops[0]) in SWAP:
            sites.append(node)
        elif isinstance(node, ast.BinOp) and type(node.op) in SWAP:
            sites.append(node)
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            sites.append(node)
    return sites


def mutant(code: str, which: int) -> str | None:
    tree = ast.parse(code)
    sites = mutation_sites(tree)
    if not sites:
        return None
    node = sites[which % len(sites)]
    if isinstance(node, ast.Compare):
        node.ops[0] = SWAP[type(node.ops[0])]()
    elif isinstance(node, ast.BinOp):
        node.op = SWAP[type(node.op)]()
    else:
        node.value += 1
    return ast.unparse(tree) + "\n"


def base_only(task: dict) -> str:
    name = task["entry_point"]
    return (task["prompt"] + task["canonical_solution"] + "\n\n"
            f"_BASE = {json.dumps(task['base_input'])!r}\n_right = {name}\n\n"
            f"def {name}(*args):\n    import json\n"
            "    def plain(x):\n        return [plain(i) for i in x] if isinstance(x, (list, tuple)) else x\n"
            "    return _right(*args) if plain(list(args)) in json.loads(_BASE) else None\n")


def solutions(task: dict) -> dict[str, str]:
    canonical = task["prompt"] + task["canonical_solution"]
    out = {"canonical": canonical, "base_only": base_only(task),
           "wrong": f"def {task['entry_point']}(*args):\n    return None\n"}
    sites = len(mutation_sites(ast.parse(canonical)))
    for k, which in enumerate(sorted({sites // 3, (2 * sites) // 3}) if sites else []):
        code = mutant(canonical, which)
        if code:
            out[f"mutant{k}"] = code
    return out


async def evalpack_verdicts(name: str, datasets_dir: Path, work: dict) -> dict:
    bench = registry.get(name)
    args = bench.resolve_args({})
    samples = {s.id: s for s in bench.load(datasets_dir, args)}

    async def one(key):
        task_id, label = key
        sc = await bench.score(samples[task_id], {"content": f"```python\n{work[key]}\n```"}, args)
        return key, {"base": sc.detail.get("base_status") == PASSED, "plus": sc.value == 1.0,
                     "status": sc.detail.get("status"), "reason": sc.detail.get("reason", "")[:300]}

    return dict(await asyncio.gather(*(one(k) for k in work)))


def evalplus_verdicts(python: str, dataset: str, data_file: Path, override_env: str, work: dict,
                      tmp: Path, parallel: int, pythonpath: str = "") -> dict:
    """Run evalplus's evaluator on the same programs (prompt + solution, as evalpack runs them)."""
    samples = tmp / f"{dataset}_samples.jsonl"
    order = list(work)
    with samples.open("w") as f:
        for task_id, label in order:
            prompt = PROMPTS[task_id]
            f.write(json.dumps({"task_id": task_id, "solution": prompt + "\n" + work[(task_id, label)]}) + "\n")
    plain = tmp / f"{dataset}.jsonl"
    plain.write_bytes(gzip.decompress(data_file.read_bytes()))
    env = {**os.environ, override_env: str(plain), "XDG_CACHE_HOME": str(tmp / "cache"), "PYTHONPATH": pythonpath}
    cmd = [python, "-m", "evalplus.evaluate", "--dataset", dataset, "--samples", str(samples),
           "--parallel", str(parallel), "--min_time_limit", "4", "--i_just_wanna_run"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp)
    if done.returncode != 0:
        sys.exit(f"evalplus failed:\n{done.stderr[-3000:]}")
    results = json.loads((tmp / f"{dataset}_samples_eval_results.json").read_text())
    verdicts = {}
    for task_id, rows in results["eval"].items():
        labels = [label for t, label in order if t == task_id]
        for label, row in zip(labels, rows):  # evalplus keeps each task's samples in input order
            verdicts[(task_id, label)] = {"base": row["base_status"] == "pass",
                                          "plus": row["base_status"] == row["plus_status"] == "pass",
                                          "status": f"{row['base_status']}/{row['plus_status']}"}
    return verdicts


PROMPTS: dict[str, str] = {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evalplus-python", required=True, help="python of a venv with `evalplus` installed")
    ap.add_argument("--datasets-dir", type=Path, default=REPO.parent / "shared" / "datasets")
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--tasks", type=int, default=None, help="only the first N tasks of each dataset")
    ap.add_argument("--only", nargs="+", default=None, help="only these task ids")
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--evalplus-pythonpath", default="", help="prepended to evalplus's import path")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    report = {}
    for name in args.datasets:
        dataset, rel, override_env = DATASETS[name]
        data_file = args.datasets_dir / rel
        with gzip.open(data_file, "rt") as f:
            tasks = [json.loads(line) for line in f if line.strip()]
        tasks = tasks[: args.tasks] if args.tasks else tasks
        tasks = [t for t in tasks if t["task_id"] in args.only] if args.only else tasks
        if not tasks:
            continue
        work = {(t["task_id"], label): code for t in tasks for label, code in solutions(t).items()}
        PROMPTS.update({t["task_id"]: t["prompt"] for t in tasks})
        with tempfile.TemporaryDirectory(prefix="evalplus-agreement-") as tmp:
            if args.tasks or args.only:  # evalplus insists on samples for every task: a reduced file
                data_file = Path(tmp) / "reduced.jsonl.gz"
                data_file.write_bytes(gzip.compress("".join(json.dumps(t) + "\n" for t in tasks).encode()))
            started = time.monotonic()
            ours = asyncio.run(evalpack_verdicts(name, args.datasets_dir, work))
            ours_s = time.monotonic() - started
            started = time.monotonic()
            theirs = evalplus_verdicts(args.evalplus_python, dataset, data_file, override_env, work,
                                       Path(tmp), args.parallel, args.evalplus_pythonpath)
            theirs_s = time.monotonic() - started
        rows, differ = [], []
        for key in work:
            a, b = ours[key], theirs.get(key)
            row = {"task_id": key[0], "solution": key[1], "evalpack": a, "evalplus": b}
            rows.append(row)
            if b is None or a["base"] != b["base"] or a["plus"] != b["plus"]:
                differ.append(row)
        agree = Counter()
        for row in rows:
            b = row["evalplus"]
            if b:
                agree["base"] += row["evalpack"]["base"] == b["base"]
                agree["plus"] += row["evalpack"]["plus"] == b["plus"]
        by_label = Counter(r["solution"].rstrip("01") for r in rows)
        tasks_all_agree = len({r["task_id"] for r in rows} - {r["task_id"] for r in differ})
        summary = {"solutions": len(rows), "by_kind": dict(by_label), "tasks": len(tasks),
                   "base_agree": agree["base"], "plus_agree": agree["plus"],
                   "tasks_all_agree": tasks_all_agree,
                   "evalpack_pass": {"base": sum(r["evalpack"]["base"] for r in rows),
                                     "plus": sum(r["evalpack"]["plus"] for r in rows)},
                   "evalplus_pass": {"base": sum(bool(r["evalplus"] and r["evalplus"]["base"]) for r in rows),
                                     "plus": sum(bool(r["evalplus"] and r["evalplus"]["plus"]) for r in rows)},
                   "seconds": {"evalpack": round(ours_s, 1), "evalplus": round(theirs_s, 1)},
                   "differ": differ}
        report[name] = summary
        print(f"{name}: {len(rows)} solutions over {len(tasks)} tasks; base verdicts agree "
              f"{agree['base']}/{len(rows)}, plus verdicts agree {agree['plus']}/{len(rows)}; "
              f"{tasks_all_agree}/{len(tasks)} tasks agree on every solution "
              f"(evalpack {ours_s:.0f} s, evalplus {theirs_s:.0f} s)")
        for row in differ:
            print(f"  differ {row['task_id']} {row['solution']}: evalpack {row['evalpack']} "
                  f"evalplus {row['evalplus']}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
