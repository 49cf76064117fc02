"""The one place where benchmarks are declared.

Entries are import paths, so listing names never imports a benchmark module
(`evalpack --help` and `evalpack list` stay fast).
"""

from __future__ import annotations

import difflib
import importlib

from evalpack.errors import UsageError

# name -> "module:Class"
BENCHMARKS: dict[str, str] = {
    "mmlu": "evalpack.benchmarks.mmlu:MMLU",
    "bfcl_v4": "evalpack.benchmarks.bfcl.benchmark:BFCLv4",
    "ceval": "evalpack.benchmarks.ceval:CEval",
    "gpqa_diamond": "evalpack.benchmarks.gpqa:GPQADiamond",
    "longbench_v2": "evalpack.benchmarks.longbench_v2:LongBenchV2",
    "tau_bench": "evalpack.benchmarks.tau_bench:TauBench",
    "tau2_bench": "evalpack.benchmarks.tau2_bench:Tau2Bench",
    "humaneval": "evalpack.benchmarks.humaneval:HumanEval",
    "humaneval_plus": "evalpack.benchmarks.evalplus:HumanEvalPlus",
    "mbpp_plus": "evalpack.benchmarks.evalplus:MbppPlus",
    "mbpp": "evalpack.benchmarks.mbpp:MBPP",
    "minerva_math": "evalpack.benchmarks.math_bench:MinervaMath",
    "gsm8k": "evalpack.benchmarks.math_bench:GSM8K",
    "math_500": "evalpack.benchmarks.math_bench:Math500",
    "swe_bench_verified_mini": "evalpack.benchmarks.swe_bench.benchmark:SWEBenchVerifiedMini",
    "ifeval": "evalpack.benchmarks.ifeval:IFEval",
    "truthful_qa": "evalpack.benchmarks.truthfulqa:TruthfulQA",
    "aime24": "evalpack.benchmarks.competition_math:AIME24",
    "aime25": "evalpack.benchmarks.competition_math:AIME25",
    "hmmt25": "evalpack.benchmarks.competition_math:HMMT25",
    "mmlu_pro": "evalpack.benchmarks.mmlu_pro:MMLUPro",
    "bbh": "evalpack.benchmarks.bbh:BBH",
}

# Names EvalScope users may type that mean the same benchmark.
ALIASES: dict[str, str] = {"hmmt": "hmmt25", "hmmt_feb_2025": "hmmt25"}


def names() -> list[str]:
    return sorted(BENCHMARKS)


def get(name: str):
    key = ALIASES.get(name, name)
    if key not in BENCHMARKS:
        close = difflib.get_close_matches(name, list(BENCHMARKS) + list(ALIASES), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UsageError(
            f"unknown dataset {name!r}.{hint} Supported: {', '.join(names())} "
            f"(`evalpack list` shows them).")
    module_name, cls_name = BENCHMARKS[key].split(":")
    return getattr(importlib.import_module(module_name), cls_name)()
