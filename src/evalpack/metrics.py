"""Turning per-sample results into the numbers a report shows."""

from __future__ import annotations

from collections import defaultdict
from math import comb
from typing import Callable, Iterable

from evalpack.types import Result


def _table(groups: dict[str, list[float]]) -> list[dict]:
    return [{"name": name, "score": sum(v) / len(v), "num": len(v)}
            for name, v in sorted(groups.items()) if v]


def accuracy_report(results: Iterable[Result], metric: str = "accuracy",
                    groups: dict[str, Callable[[Result], str | None]] | None = None) -> dict:
    """Mean score overall (micro over samples) and per subset, plus macro over subsets
    and any extra groupings (e.g. category). Errored samples are not scored here;
    the runner reports them apart."""
    scored = [r for r in results if r.score is not None]
    by_subset: dict[str, list[float]] = defaultdict(list)
    extra: dict[str, dict[str, list[float]]] = {g: defaultdict(list) for g in (groups or {})}
    for r in scored:
        by_subset[r.subset].append(r.score)
        for gname, key in (groups or {}).items():
            k = key(r)
            if k is not None:
                extra[gname][k].append(r.score)
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
