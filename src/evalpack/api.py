"""The Python API: `evaluate`, `evaluate_async` and `load_run`, over the CLI's own pipeline.

Arguments are EvalScope's config keys (the YAML's), checked by the same build_config as
`evalpack eval`, so a bad one raises the CLI's typed error (UsageError, DataMissingError,
ServerError...) with the CLI's sentence. The run directory, resume and report are the CLI's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator


@dataclass(frozen=True)
class SubsetScore:
    name: str
    score: float | None
    num: int
    ci_low: float | None = None
    ci_high: float | None = None
    stderr: float | None = None


@dataclass(frozen=True)
class DatasetScore:
    name: str
    metric: str | None
    score: float | None
    ci_low: float | None  # the interval report.json carries (stats module), None where it has none
    ci_high: float | None
    stderr: float | None
    num_samples: int
    num_errors: int
    num_unparsed: int
    metrics: dict = field(default_factory=dict)
    subsets: dict[str, SubsetScore] = field(default_factory=dict)
    judge: dict = field(default_factory=dict)  # a judged dataset's judge: model, usage, num_errors, error_ids


@dataclass(frozen=True)
class EvalResult:
    model: str | None
    run_dir: Path
    datasets: dict[str, DatasetScore]
    report: dict = field(compare=False, repr=False)  # report.json as written

    def __getitem__(self, dataset: str) -> DatasetScore:
        return self.datasets[dataset]

    def samples(self, dataset: str) -> Iterator[dict]:
        """The dataset's samples (samples/<dataset>.jsonl): prompt, output, extracted answer, score."""
        from evalpack.errors import UsageError

        if dataset not in self.datasets:
            raise UsageError(f"no dataset {dataset!r} in this run; it has {', '.join(self.datasets) or 'none'}")
        with open(self.run_dir / "samples" / f"{dataset}.jsonl", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)


def _result(report: dict, run_dir: Path) -> EvalResult:
    datasets = {}
    for s in report.get("datasets") or []:
        subsets = {sub["name"]: SubsetScore(name=sub["name"], score=sub.get("score"), num=sub.get("num", 0),
                                            ci_low=sub.get("ci_low"), ci_high=sub.get("ci_high"),
                                            stderr=sub.get("stderr"))
                   for sub in s.get("subsets") or [] if isinstance(sub, dict) and "name" in sub}
        datasets[s["dataset"]] = DatasetScore(
            name=s["dataset"], metric=s.get("metric"), score=s.get("score"), ci_low=s.get("ci_low"),
            ci_high=s.get("ci_high"), stderr=s.get("stderr"), num_samples=s.get("num_samples", 0),
            num_errors=s.get("num_errors", 0), num_unparsed=s.get("num_unparsed", 0),
            metrics=dict(s.get("metrics") or {}), subsets=subsets, judge=dict(s.get("judge") or {}))
    return EvalResult(model=report.get("model"), run_dir=Path(run_dir).resolve(), datasets=datasets,
                      report=report)


def _config(model: str | None, api_url: str | list[str] | None, datasets: str | list[str] | None,
            options: dict[str, Any]):
    from evalpack.config import CONFIG_KEYS, build_config
    from evalpack.errors import UsageError

    unknown = sorted(set(options) - CONFIG_KEYS)
    if unknown:
        raise UsageError(f"evaluate(): unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(CONFIG_KEYS))}")
    flags = {"model": model, "api_url": api_url, "datasets": datasets, "quiet": True, **options}
    for key in ("work_dir", "dataset_dir", "use_cache"):  # Path objects are welcome here
        if isinstance(flags.get(key), Path):
            flags[key] = str(flags[key])
    return build_config(flags)


def evaluate(model: str | None = None, api_url: str | list[str] | None = None,
             datasets: str | list[str] | None = None, **options: Any) -> EvalResult:
    """Run (or resume) an evaluation, as `evalpack eval` with the same keys; returns its scores.

    Samples that ended in an error do not raise: they are counted in `num_errors`; evaluating
    again retries them."""
    from evalpack import runner

    config = _config(model, api_url, datasets, options)
    out = runner.evaluate(config)
    return _result(out["report"], out["run_dir"])


async def evaluate_async(model: str | None = None, api_url: str | list[str] | None = None,
                         datasets: str | list[str] | None = None, **options: Any) -> EvalResult:
    """`evaluate` for callers that run their own event loop."""
    from evalpack import runner

    config = _config(model, api_url, datasets, options)
    out = await runner.evaluate_async(config)
    return _result(out["report"], out["run_dir"])


def load_run(path: str | Path) -> EvalResult:
    """An existing run directory's result (report.json), as `evaluate` returned it."""
    from evalpack.errors import DataMissingError
    from evalpack.run_dir import RunDir

    run_dir = RunDir.existing(Path(path))
    try:
        report = json.loads((run_dir.path / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataMissingError(f"{run_dir.path}/report.json cannot be read ({e}); "
                               f"run `evalpack rescore {run_dir.path}` to write it again") from None
    return _result(report, run_dir.path)
