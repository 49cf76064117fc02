"""Turning per-sample results into the numbers a report shows."""

from __future__ import annotations

import contextvars
import dataclasses
import re
from collections import defaultdict
from math import comb
from typing import Callable, Iterable

from evalpack import stats
from evalpack.benchmarks.base import Result


def _table(groups: dict[str, list]) -> list[dict]:
    """One row per group: mean score, count, and its interval. Items are scores, or
    (sample id, score) pairs, which cluster the interval by question (repeats)."""
    rows = []
    for name, items in sorted(groups.items()):
        if items:
            paired = isinstance(items[0], tuple)
            values = [float(v) for _, v in items] if paired else [float(v) for v in items]
            row = {"name": name, "score": sum(values) / len(values), "num": len(values)}
            if not _QUICK.get():
                row.update(stats.mean_interval(values, [sid for sid, _ in items] if paired else None))
            rows.append(row)
    return rows


def accuracy_report(results: Iterable[Result], metric: str = "accuracy",
                    groups: dict[str, Callable[[Result], str | None]] | None = None) -> dict:
    """Mean score overall (micro over samples) and per subset, plus macro over subsets
    and any extra groupings (e.g. category). Errored samples are not scored here;
    the runner reports them apart."""
    scored = [r for r in results if r.score is not None]
    by_subset: dict[str, list[tuple[str, float]]] = defaultdict(list)
    extra: dict[str, dict[str, list[tuple[str, float]]]] = {g: defaultdict(list) for g in (groups or {})}
    for r in scored:
        by_subset[r.subset].append((r.sample_id, r.score))
        for gname, key in (groups or {}).items():
            k = key(r)
            if k is not None:
                extra[gname][k].append((r.sample_id, r.score))
    subsets = _table(by_subset)
    overall = sum(r.score for r in scored) / len(scored) if scored else None
    macro = sum(s["score"] for s in subsets) / len(subsets) if subsets else None
    report = {
        "metric": metric,
        "score": overall,
        "num_scored": len(scored),
        "metrics": {metric: overall, f"{metric}_macro": macro},
        "subsets": subsets,
        "groups": {g: _table(v) for g, v in extra.items()},
    }
    return report


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k estimator (Chen et al., 2021): 1 - C(n-c, k) / C(n, k)."""
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k (tau-bench): the chance that k trials drawn from n all succeed, C(c, k) / C(n, k)."""
    if k > n:
        return 0.0
    return comb(c, k) / comb(n, k)


# --- intervals for every number of a section (docs/statistics.md) ---

BOOTSTRAP_WORK = 500_000  # replicates x samples: 1000 replicates up to 500 samples, 200 from 2,500
_QUICK = contextvars.ContextVar("evalpack_metrics_quick", default=False)  # inside a bootstrap


def in_bootstrap() -> bool:
    """True while an aggregate runs for a bootstrap replicate: only its metrics are read."""
    return _QUICK.get()
_PASS_AT = re.compile(r"pass@(\d+)$")
_PASS_HAT = re.compile(r"pass\^(\d+)(?: (.+))?$")


def add_intervals(section: dict, results: list[Result], aggregate: Callable[[list[Result]], dict]) -> None:
    """Give the main score, every numeric metric and every subset/group row a stderr and a
    95% interval. Means get Miller's clustered CLT SE, macro averages the exact stratified one,
    pass@k / pass^k the CLT over per-task values; anything else (weighted leaderboard
    aggregates, F-scores) a seeded cluster bootstrap of `aggregate` itself."""
    scored = [r for r in results if r.score is not None]
    intervals: dict[str, dict] = {}
    boot: dict[str, Callable[[dict], float | None]] = {}
    values = [r.score for r in scored]
    mean = sum(values) / len(values) if values else None
    by_task: dict[str, list[float]] = defaultdict(list)
    for r in scored:
        by_task[r.sample_id].append(r.score)
    for key, value in (section.get("metrics") or {}).items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        exact = _exact_interval(key, value, section, scored, by_task, mean)
        if exact is not None:
            intervals[key] = exact
        else:
            boot[f"metric:{key}"] = lambda rep, k=key: (rep.get("metrics") or {}).get(k)
    for kind, rows in [("subsets", section.get("subsets") or [])] + [
            (f"groups:{g}", rows) for g, rows in (section.get("groups") or {}).items()]:
        for row in rows:
            if row.get("stderr") is None and isinstance(row.get("score"), (int, float)):
                boot[f"{kind}:{row['name']}"] = lambda rep, k=kind, n=row["name"]: _row_score(rep, k, n)
    if boot and scored:
        found = _bootstrap(scored, aggregate, boot)
        for name, iv in found.items():
            kind, _, key = name.partition(":")
            if kind == "metric":
                intervals[key] = {**iv, "n": len(by_task)}
            else:
                for row in _rows_of(section, kind if kind == "subsets" else name.rsplit(":", 1)[0]):
                    if row["name"] == key:
                        row.update(iv)
    score = section.get("score")
    main = next((iv for k, iv in intervals.items() if k == section.get("metric") and _same(section["metrics"][k], score)),
                None) or next((iv for k, iv in intervals.items() if _same(section["metrics"][k], score)), None)
    if main is None and score is not None and mean is not None and _same(score, mean):
        main = {**stats.mean_interval(values, [r.sample_id for r in scored]), "n": len(values)}
    section.update({k: (main or {}).get(k) for k in ("stderr", "ci_low", "ci_high", "ci_method")})
    if main and "wilson_low" in main:
        section.update(wilson_low=main["wilson_low"], wilson_high=main["wilson_high"])
    section["intervals"] = intervals
    section["num_questions"] = len(by_task)


def _same(a, b) -> bool:
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= 1e-9


def _rows_of(section: dict, kind: str) -> list[dict]:
    if kind == "subsets":
        return section.get("subsets") or []
    return (section.get("groups") or {}).get(kind.split(":", 1)[1], [])


def _row_score(rep: dict, kind: str, name: str) -> float | None:
    for row in _rows_of(rep, kind):
        if row["name"] == name:
            return row.get("score")
    return None


def _exact_interval(key, value, section, scored, by_task, mean) -> dict | None:
    """The interval of a metric whose estimator is known, or None (then: bootstrap)."""
    if key == section.get("metric") and mean is not None and _same(value, mean):
        return {**stats.mean_interval([r.score for r in scored], [r.sample_id for r in scored]),
                "n": len(scored)}
    subsets = section.get("subsets") or []
    if key.endswith("_macro") and subsets and _same(value, sum(s["score"] for s in subsets) / len(subsets)):
        iv = stats.stratified_interval([(1 / len(subsets), s["score"], s.get("stderr")) for s in subsets])
        return {**iv, "n": sum(s["num"] for s in subsets)}
    m = _PASS_AT.match(key)
    if m:
        k = int(m.group(1))
        per_task = [pass_at_k(len(v), sum(1 for x in v if x >= 1.0), k) for v in by_task.values() if len(v) >= k]
        if per_task and _same(value, sum(per_task) / len(per_task)):
            return {**stats.mean_interval(per_task), "n": len(per_task), "ci_method": "clt-over-tasks"}
    m = _PASS_HAT.match(key)
    if m:
        k, domain = int(m.group(1)), m.group(2)
        trials = int(section.get("trials") or max((len(v) for v in by_task.values()), default=1))
        subset_of = {r.sample_id: r.subset for r in scored}
        per_task = [pass_hat_k(trials, sum(1 for x in v if abs(x - 1.0) <= 1e-6), k)
                    for sid, v in by_task.items() if domain is None or subset_of[sid] == domain]
        if per_task and _same(value, sum(per_task) / len(per_task)):
            return {**stats.mean_interval(per_task), "n": len(per_task), "ci_method": "clt-over-tasks"}
    return None


def _bootstrap(scored: list[Result], aggregate, wanted: dict[str, Callable[[dict], float | None]]) -> dict:
    """One seeded cluster bootstrap for all the numbers no formula covers."""
    replicates = max(200, min(1000, BOOTSTRAP_WORK // max(len(scored), 1)))

    def statistic(sample: list[Result]) -> dict:
        token = _QUICK.set(True)  # the replicates' own intervals are never read
        try:
            rep = aggregate(sample)
        finally:
            _QUICK.reset(token)
        return {k: get(rep) for k, get in wanted.items()}

    def relabel(r: Result, j: int) -> Result:
        return dataclasses.replace(r, sample_id=f"{r.sample_id}\x00{j}")

    return stats.bootstrap(scored, statistic, cluster=lambda r: r.sample_id, stratum=lambda r: r.subset,
                           replicates=replicates, relabel=relabel)
