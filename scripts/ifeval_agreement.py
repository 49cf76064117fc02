"""Agreement of evalpack's IFEval verdicts with lm-evaluation-harness's ifeval task.

Builds varied replies to the 541 real prompts (tests/responders/ifeval.py: three variants
per prompt, meeting or just missing each instruction, plus edge cases), judges every
instruction strictly and loosely with evalpack and with lm-eval's `process_results` (run by
the Python of a separate venv that has `lm-eval`, `langdetect`, `immutabledict` and nltk),
and prints the agreement per instruction type and overall. Both sides read NLTK's punkt_tab
from the dataset dir and seed langdetect with 0 (lm-eval leaves it unseeded, so an
ambiguous text could otherwise flip between its runs).

  python scripts/ifeval_agreement.py --lmeval-python VENV/bin/python [--datasets-dir DIR]
      [--samples RUN/samples/ifeval.jsonl]   # also a real model's replies from an evalpack run
      [--write-fixture]   # also refresh tests/fixtures/ifeval/upstream_verdicts.json

Nothing here is a test dependency: the fixture keeps lm-eval's verdicts for the tests.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))
FIXTURE = REPO / "tests" / "fixtures" / "ifeval" / "upstream_verdicts.json"

LMEVAL_SIDE = r"""
import json, sys
from langdetect import DetectorFactory
DetectorFactory.seed = 0
from lm_eval.tasks.ifeval.utils import process_results
out = []
for line in open(sys.argv[1], encoding="utf-8"):
    case = json.loads(line)
    res = process_results(case, [case["response"]])
    out.append({"strict": res["inst_level_strict_acc"], "loose": res["inst_level_loose_acc"]})
json.dump(out, open(sys.argv[2], "w"))
"""


def lmeval_departs(instruction_id: str, kwargs: dict) -> str | None:
    """Where lm-eval's copy of the rules differs from google-research's on purpose: it swaps a
    letter_frequency letter outside a-z ('#', '!': keys 1122 and 1129) for a random one."""
    letter = kwargs.get("letter") or ""
    if instruction_id == "keywords:letter_frequency" and not ("a" <= letter.lower() <= "z"):
        return f"lm-eval replaces the letter {letter!r} by a random a-z letter; upstream counts {letter!r}"
    return None


def encode(verdicts: list[bool], departs: list) -> str:
    """T/F per instruction; '?' where lm-eval does not apply upstream's rule (see lmeval_departs)."""
    return "".join("?" if d else "T" if v else "F" for v, d in zip(verdicts, departs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lmeval-python", required=True, help="python of the venv with lm-eval installed")
    ap.add_argument("--datasets-dir", type=Path, default=REPO.parent / "shared" / "datasets")
    ap.add_argument("--samples", type=Path, action="append", default=[],
                    help="an evalpack run's samples/ifeval.jsonl: its replies are judged too")
    ap.add_argument("--write-fixture", action="store_true")
    args = ap.parse_args()

    import os
    os.environ["EVALPACK_SHARED"] = str(args.datasets_dir.parent)
    from responders import ifeval as gen
    from evalpack.scoring import ifeval as rules

    nltk_dir = args.datasets_dir / "ifeval" / "nltk_data"
    rules.use_nltk_data(nltk_dir)
    records = gen.records()
    cases = []
    for variant in gen.VARIANTS:
        for r in records:
            cases.append({**r, "variant": variant, "response": gen.response(r, variant)})
    by_key = {str(r["key"]): r for r in records}
    from evalpack.benchmarks.ifeval import graded_text
    for path in args.samples:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("output") and row["sample_id"] in by_key:
                cases.append({**by_key[row["sample_id"]], "variant": "run",
                              "response": graded_text(row["output"].get("content") or "")})
    for i, text in enumerate(gen.EDGE_CASES):
        for r in records[i::len(gen.EDGE_CASES)][:5]:
            cases.append({**r, "variant": "edge", "response": text})

    started = time.perf_counter()
    ours = [dict(zip(("strict", "loose"), rules.judge(c["response"], c["instruction_id_list"], c["kwargs"])))
            for c in cases]
    ours_seconds = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "cases.jsonl", Path(tmp) / "verdicts.json"
        src.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
        started = time.perf_counter()
        subprocess.run([args.lmeval_python, "-c", LMEVAL_SIDE, str(src), str(dst)], check=True,
                       env={**os.environ, "NLTK_DATA": str(nltk_dir)})
        theirs_seconds = time.perf_counter() - started
        theirs = json.loads(dst.read_text())

    per_type = defaultdict(lambda: {"n": 0, "strict": 0, "loose": 0, "followed_strict": 0, "followed_loose": 0})
    prompt_agree = {"strict": 0, "loose": 0}
    disagreements = []
    departures: dict[str, int] = defaultdict(int)
    for case, a, b in zip(cases, ours, theirs):
        departs = [lmeval_departs(i, kw) for i, kw in zip(case["instruction_id_list"], case["kwargs"])]
        case["departs"] = departs
        for mode in ("strict", "loose"):
            prompt_agree[mode] += any(departs) or all(a[mode]) == all(b[mode])
        for i, iid in enumerate(case["instruction_id_list"]):
            if departs[i]:
                departures[departs[i]] += 1
                continue
            row = per_type[iid]
            row["n"] += 1
            for mode in ("strict", "loose"):
                row[mode] += a[mode][i] == b[mode][i]
                row["followed_" + mode] += b[mode][i]
                if a[mode][i] != b[mode][i]:
                    disagreements.append((case["key"], case["variant"], iid, mode, a[mode][i], b[mode][i]))

    total = sum(r["n"] for r in per_type.values())
    print(f"{len(cases)} responses, {total} compared instruction verdicts per mode "
          f"(evalpack {ours_seconds:.1f} s, lm-eval {theirs_seconds:.1f} s incl. start-up)\n")
    print(f"{'instruction type':48} {'n':>5} {'upstream followed s/l':>22} {'agree strict':>13} {'agree loose':>12}")
    for iid in sorted(per_type):
        r = per_type[iid]
        print(f"{iid:48} {r['n']:5d} {r['followed_strict']:>10d} /{r['followed_loose']:>5d}     "
              f"{r['strict'] / r['n']:12.4f} {r['loose'] / r['n']:12.4f}")
    for mode in ("strict", "loose"):
        agree = sum(r[mode] for r in per_type.values())
        print(f"overall {mode}: instruction-level {agree}/{total} = {agree / total:.4f}, "
              f"prompt-level {prompt_agree[mode]}/{len(cases)} = {prompt_agree[mode] / len(cases):.4f} "
              f"(prompts with a verdict not compared count as agreeing)")
    for reason, n in departures.items():
        print(f"not compared ({n} verdicts per mode): {reason}")
    for d in disagreements[:30]:
        print("DISAGREE key=%s variant=%s %s %s evalpack=%s lm-eval=%s" % d)

    if args.write_fixture:
        fixture = {v: {} for v in gen.VARIANTS}
        for case, b in zip(cases, theirs):
            if case["variant"] in fixture:
                fixture[case["variant"]][str(case["key"])] = [encode(b["strict"], case["departs"]),
                                                              encode(b["loose"], case["departs"])]
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(json.dumps({"source": "lm-eval ifeval process_results, langdetect seed 0",
                                       "verdicts": fixture}, separators=(",", ":")) + "\n", encoding="utf-8")
        print(f"wrote {FIXTURE.relative_to(REPO)}")


if __name__ == "__main__":
    main()
