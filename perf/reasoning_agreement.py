"""Agreement of evalpack's mmlu_pro and bbh answer reading with the reference implementations.

MMLU-Pro: evalpack's cascade against TIGER-Lab's own `extract_answer` (level "l2", the one
evaluate_from_api.py uses), loaded from a checkout of TIGER-AI-Lab/MMLU-Pro (never copied here),
on three replies per test question drawn from the test responder's styles plus seven more.
BBH: verdicts against lm-eval's bbh_cot_fewshot filter (regex `(?<=the answer is )(.*)(?=.)`,
first match, strip, exact match), on right and wrong replies for all 6,511 examples, in the
official form ("So the answer is X.") and in the test responder's varied styles.

Usage: python perf/reasoning_agreement.py --tiger-compute /path/to/MMLU-Pro/compute_accuracy.py
(EVALPACK_SHARED points at the shared folder holding datasets/, as for the tests)
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import random
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from evalpack.benchmarks.bbh import MULTIPLE_CHOICE  # noqa: E402
from evalpack.benchmarks.bbh import extract_answer as bbh_answer  # noqa: E402
from evalpack.benchmarks.mmlu_pro import extract_answer as mmlu_pro_answer  # noqa: E402
from evalpack.scoring.math_equiv import strip_thinking  # noqa: E402
from responders import reasoning  # noqa: E402

MORE_STYLES = [lambda x, d: f"ANSWER: {x}", lambda x, d: f"I think {d} is tempting, but {x} is right.",
               lambda x, d: f"Answer: ({x})", lambda x, d: f"The correct answer is {x}) because",
               lambda x, d: "No idea.", lambda x, d: f"Final Answer: {x}\n\nAnswer: {d}",
               lambda x, d: f"the answer is {x} and not {d}"]
LM_EVAL_BBH = re.compile(r"(?<=the answer is )(.*)(?=.)")


def mmlu_pro(tiger_compute: Path) -> None:
    sys.argv = [sys.argv[0], "/nonexistent"]  # the module globs sys.argv[1] at import; nothing matches
    spec = importlib.util.spec_from_file_location("tiger_compute_accuracy", tiger_compute)
    tiger = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiger)
    rnd = random.Random(0)
    styles = reasoning.MMLU_PRO_STYLES + MORE_STYLES
    n = same = 0
    for row in reasoning.mmlu_pro_rows():
        for style in rnd.sample(styles, 3):
            reply = style(row["answer"], reasoning.wrong_letter(row))
            # their caller drops "**"; a <think> block is evalpack's addition, removed for both
            theirs = tiger.extract_answer(strip_thinking(reply).replace("**", ""), "l2")
            n += 1
            same += theirs == mmlu_pro_answer(reply)[0]
    print(f"mmlu_pro: {same}/{n} replies read as the same letter as TIGER-Lab's extract_answer")


def bbh() -> None:
    official = [lambda t, w: f"Let's think step by step.\nStep one. So the answer is {t}."]
    for name, styles in (("official form", official), ("varied styles", reasoning.BBH_STYLES)):
        n = same = 0
        lm_eval_only = collections.Counter()
        for task, _, _, target in reasoning.bbh_examples():
            wrong = reasoning.wrong_bbh(target)
            for style in styles:
                for said, other in ((target, wrong), (wrong, target)):
                    reply = style(said, other)
                    found = LM_EVAL_BBH.findall(reply)
                    theirs = (found[0].strip() if found else "[invalid]") == target
                    ours = bbh_answer(reply, task in MULTIPLE_CHOICE)[0] == target
                    n += 1
                    same += theirs == ours
                    if theirs and not ours:
                        lm_eval_only[task] += 1
        print(f"bbh, {name}: {same}/{n} verdicts agree with lm-eval's filter; right for lm-eval only: "
              f"{dict(lm_eval_only) or 0}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiger-compute", type=Path, required=True,
                    help="compute_accuracy.py of a TIGER-AI-Lab/MMLU-Pro checkout")
    mmlu_pro(ap.parse_args().tiger_compute)
    bbh()
