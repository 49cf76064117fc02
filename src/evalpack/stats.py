"""Error bars for eval scores (Miller 2024, "Adding Error Bars to Evals"; see docs/statistics.md).

Pure functions over plain numbers: no evalpack imports, no numpy. Every interval is
deterministic: resampling uses `random.Random(seed)`.

- `mean_interval`: the CLT standard error of a mean, clustered when a question was
  asked several times (repeats) or when scores share a cluster; 95% normal interval.
- `stratified_interval`: a weighted sum of independent subset means (macro averages,
  leaderboard weights): the exact variance of a linear combination.
- `bootstrap`: any other statistic (F-scores, non-linear aggregates): a seeded
  cluster bootstrap, stratified by subset, percentile interval.
- `paired_difference`, `mcnemar_exact`, `sign_flip_test`: two runs on the same questions.
"""

from __future__ import annotations

import math
import random
from typing import Callable, Hashable, Sequence

Z95 = 1.959963984540054  # the 97.5% quantile of the standard normal
BOOTSTRAP_SEED = 20241101  # fixed, so a rescore reproduces the report byte for byte


def _is_binary(values: Sequence[float]) -> bool:
    return all(v == 0.0 or v == 1.0 for v in values)


def clustered_se(values: Sequence[float], clusters: Sequence[Hashable] | None = None) -> float | None:
    """Miller's SE of the mean. Unclustered: sqrt(p(1-p)/n) for 0/1 scores (the binomial SE,
    Miller's Bernoulli case), else sample SD (divisor n-1) / sqrt(n). Clustered: the CLT term
    plus the within-cluster cross products, (1/n^2) sum_c sum_{i != j in c} (s_i - m)(s_j - m)."""
    n = len(values)
    if n == 0:
        return None
    mean = sum(values) / n
    if _is_binary(values):
        var_clt = mean * (1.0 - mean) / n
    elif n > 1:
        var_clt = sum((v - mean) ** 2 for v in values) / (n - 1) / n
    else:
        var_clt = 0.0
    cross = 0.0
    if clusters is not None:
        sums: dict[Hashable, float] = {}
        squares: dict[Hashable, float] = {}
        for v, c in zip(values, clusters):
            d = v - mean
            sums[c] = sums.get(c, 0.0) + d
            squares[c] = squares.get(c, 0.0) + d * d
        if len(sums) < n:
            cross = sum(sums[c] ** 2 - squares[c] for c in sums) / (n * n)
    return math.sqrt(max(var_clt + cross, 0.0))


def interval(value: float | None, se: float | None, method: str) -> dict:
    """The fields every score row carries: stderr, ci_low, ci_high (value +- 1.96 SE)."""
    if value is None or se is None:
        return {"stderr": None, "ci_low": None, "ci_high": None, "ci_method": method}
    return {"stderr": se, "ci_low": value - Z95 * se, "ci_high": value + Z95 * se, "ci_method": method}


def mean_interval(values: Sequence[float], clusters: Sequence[Hashable] | None = None) -> dict:
    clustered = clusters is not None and len(set(clusters)) < len(values)
    mean = sum(values) / len(values) if values else None
    binary = bool(values) and _is_binary(values)
    method = "clt-clustered" if clustered else ("binomial" if binary else "clt")
    out = interval(mean, clustered_se(values, clusters if clustered else None), method)
    if binary and not clustered:
        out["wilson_low"], out["wilson_high"] = wilson(sum(values), len(values))
    return out


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval: stays inside [0, 1] and covers well for small n or p near 0/1,
    where the normal interval does not (given beside it for 0/1 scores)."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def stratified_interval(parts: Sequence[tuple[float, float, float | None]]) -> dict:
    """value = sum w_i * mean_i over independent strata; parts = (weight, mean, se)."""
    if not parts or any(se is None for _, _, se in parts):
        return interval(None, None, "stratified")
    value = sum(w * m for w, m, _ in parts)
    return interval(value, math.sqrt(sum((w * se) ** 2 for w, _, se in parts)), "stratified")


def bootstrap(items: Sequence, statistic: Callable[[list], dict[str, float | None]], *,
              cluster: Callable[[object], Hashable], stratum: Callable[[object], Hashable],
              replicates: int = 1000, seed: int = BOOTSTRAP_SEED,
              relabel: Callable[[object, int], object] | None = None) -> dict[str, dict]:
    """Resample whole clusters (questions) with replacement within each stratum (subset) and
    recompute `statistic` (named numbers). Per name: SE = SD of the replicates, interval =
    their 2.5 and 97.5 percentiles. `relabel(item, j)` renames the j-th drawn copy, so a
    question drawn twice counts as two questions in statistics that group by question."""
    strata: dict[Hashable, dict[Hashable, list]] = {}
    for item in items:
        strata.setdefault(stratum(item), {}).setdefault(cluster(item), []).append(item)
    groups = [list(by_cluster.values()) for _, by_cluster in sorted(strata.items(), key=lambda kv: str(kv[0]))]
    rng = random.Random(seed)
    copies: dict[tuple[int, int, int], list] = {}  # (stratum, cluster, occurrence) -> relabelled items
    draws: dict[str, list[float]] = {}
    for _ in range(replicates):
        sample: list = []
        for g, clusters in enumerate(groups):
            seen: dict[int, int] = {}
            for c in rng.choices(range(len(clusters)), k=len(clusters)):
                occurrence = seen[c] = seen.get(c, -1) + 1
                if relabel is None or occurrence == 0:
                    sample.extend(clusters[c])
                    continue
                key = (g, c, occurrence)
                if key not in copies:
                    copies[key] = [relabel(x, occurrence) for x in clusters[c]]
                sample.extend(copies[key])
        for name, value in statistic(sample).items():
            if isinstance(value, (int, float)):
                draws.setdefault(name, []).append(float(value))
    out = {}
    for name, values in draws.items():
        if len(values) < 2:
            continue
        values.sort()
        mean = sum(values) / len(values)
        se = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        out[name] = {"stderr": se, "ci_low": quantile(values, 0.025), "ci_high": quantile(values, 0.975),
                     "ci_method": f"bootstrap-{len(values)}"}
    return out


def quantile(sorted_values: list[float], q: float) -> float:
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


# --- two runs on the same questions ---

def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: the discordant pairs as Binomial(b + c, 1/2)."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2.0 * tail)


def sign_flip_test(diffs: Sequence[float], replicates: int = 10000, seed: int = BOOTSTRAP_SEED) -> float:
    """Paired permutation test: under H0 each difference's sign is a coin flip. Exact
    enumeration up to 16 nonzero differences, else Monte Carlo with the +1 correction."""
    nonzero = [d for d in diffs if d != 0]
    if not nonzero:
        return 1.0
    observed = abs(sum(nonzero)) - 1e-12
    if len(nonzero) <= 16:
        hits = 0
        for mask in range(1 << len(nonzero)):
            s = sum(d if mask >> i & 1 else -d for i, d in enumerate(nonzero))
            hits += abs(s) >= observed
        return hits / (1 << len(nonzero))
    rng = random.Random(seed)
    hits = sum(abs(sum(d if rng.random() < 0.5 else -d for d in nonzero)) >= observed
               for _ in range(replicates))
    return (hits + 1) / (replicates + 1)


def paired_difference(a: Sequence[float], b: Sequence[float]) -> dict:
    """B - A over questions both runs scored (per-question means when repeated): the mean
    difference, its SE from the paired differences (Miller section 4), the interval and a
    paired test: McNemar exact when every score is 0/1, else the sign-flip permutation test."""
    n = len(a)
    diffs = [y - x for x, y in zip(a, b)]
    if n == 0:
        return {"n": 0, "difference": None, **interval(None, None, "paired"), "test": None, "p_value": None}
    mean = sum(diffs) / n
    se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1) / n) if n > 1 else 0.0
    out = {"n": n, "difference": mean, **interval(mean, se, "paired-clt")}
    if _is_binary(a) and _is_binary(b):
        only_a = sum(1 for x, y in zip(a, b) if x == 1.0 and y == 0.0)
        only_b = sum(1 for x, y in zip(a, b) if x == 0.0 and y == 1.0)
        out.update(test="mcnemar-exact", p_value=mcnemar_exact(only_a, only_b))
    else:
        out.update(test="sign-flip-permutation", p_value=sign_flip_test(diffs))
    return out
