"""What a run will do, decided before any directory or socket is made.

`make_plans` resolves each selected benchmark's --dataset-args (one validator: every mistake
is a UsageError), checks every file each one needs (sized and hashed), then loads the samples
and applies --limit. A missing file or a bad argument stops the run here, with no traffic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from evalpack.benchmarks import registry
from evalpack.benchmarks.base import Benchmark, subset_limit
from evalpack.config import RunConfig
from evalpack.errors import EvalpackError, UsageError
from evalpack.run_dir import settings_hash
from evalpack.scoring.judge import STRATEGIES, uses_judge
from evalpack.types import Sample

log = logging.getLogger("evalpack")


@dataclass
class Plan:
    bench: Benchmark
    args: dict  # resolved dataset-args
    samples: list[Sample]
    settings_hash: str  # keys this benchmark's results in the store (see run_dir.py)
    unsharded_total: int | None = None  # with --shard: the whole run's (sample, repeat) pairs
    root: Path | None = None  # the benchmark's data folder, which solve may read (SolveContext.root)
    judge: dict | None = None  # the judge's identity when this benchmark asks one (scoring/judge.py)

    @property
    def repeats(self) -> int:
        return int(self.args.get("repeats") or 1)

    @property
    def total(self) -> int:
        """(sample, repeat) pairs to score."""
        return len(self.samples) * self.repeats


def make_plans(config: RunConfig) -> list[Plan]:
    from evalpack.datasets.verify import check_before_run

    selected = {registry.canonical(name) for name in config.datasets}
    stray = [k for k in config.dataset_args if registry.ALIASES.get(k, k) not in selected]
    if stray:
        raise UsageError(f"--dataset-args has arguments for {', '.join(map(repr, stray))}, which "
                         f"--datasets does not select ({', '.join(config.datasets)}); add it to "
                         f"--datasets or drop its arguments")
    resolved = []
    for name in dict.fromkeys(config.datasets):
        bench = registry.get(name)
        args = bench.resolve_args(config.dataset_args.get(name) or config.dataset_args.get(bench.name))
        for key, setting in bench.run_defaults().items():  # e.g. seed <- --seed
            if key in args and args[key] is None:
                args[key] = getattr(config, setting)
        # a benchmark that needs a judge and has none stops here, before any request
        judged = uses_judge(bench.name, getattr(bench, "judge_policy", None), config.judge,
                            getattr(bench, "judge_strategies", STRATEGIES), getattr(bench, "judge_strategy_note", ""))
        if not judged and config.judge.strategy in ("llm", "llm_recall") and not getattr(bench, "judge_policy", None):
            log.warning("%s has no judged scoring; --judge-strategy %s does not apply to it",
                        bench.name, config.judge.strategy)
        resolved.append((bench, args, config.judge.identity(getattr(bench, "judge_prompt_version", "")) if judged else None))
    # every needed file of every dataset, sized and hashed, before anything is loaded or sent
    check_before_run([(bench, args) for bench, args, _ in resolved], config.dataset_dir)
    return [plan(bench, args, config, judge) for bench, args, judge in resolved]


def plan(bench: Benchmark, args: dict, config: RunConfig, judge: dict | None = None) -> Plan:
    samples = subset_limit(_load(bench, config, args), config.limit)
    check = getattr(bench, "check_samples", None)  # Benchmark's hook; a plugin class may lack it
    if check:
        check(samples, args, judged=judge is not None)
    keyed = dict(args)
    user_files = getattr(bench, "user_files", None)
    if user_files:  # a user's edited file is a new question set: its answers are not resumed
        keyed["user_files"] = sorted(f.sha256 for f in user_files)
    made = Plan(bench, args, samples, settings_hash(bench.name, keyed, config, judge),
                root=bench.root(config.dataset_dir, args), judge=judge)
    if config.shard:  # after --limit: the shards of a limited run are a partition of it
        made.unsharded_total = made.total
        made.samples = [s for s in samples if config.shard.holds(bench.name, s.subset, s.id)]
    return made


def _load(bench: Benchmark, config: RunConfig, args: dict) -> list[Sample]:
    """The benchmark's samples; a plugin's failure is its package's (one sentence, exit 2), not evalpack's."""
    try:
        return bench.load(config.dataset_dir, args)
    except EvalpackError:
        raise
    except Exception as e:
        package = registry.plugin_of(bench.name)
        if package is None:
            raise
        raise UsageError(f"plugin benchmark {bench.name!r} of package {package} failed reading its data "
                         f"({type(e).__name__}: {e}); the fault is in the plugin: fix or uninstall it") from None
