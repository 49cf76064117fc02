"""evalplus's verdict rules (evalplus/eval/__init__.py, v0.1.10 / v0.2.0 data), carried over.

For each input, in order, the solution's output is compared with the canonical solution's:
  * exact `out == exp` first;
  * task-specific oracles (find_zero: |poly(xs, out)| <= atol; the MBPP+ ones below);
  * otherwise, when the task's atol is 0 and the expected output is a float or a non-empty
    list/tuple of floats, atol becomes 1e-6, and it stays so for the remaining inputs of that
    run (evalplus updates its loop variable); with a non-zero atol a non-exact output passes
    when it has the expected type (and length, for a list/tuple) and
    numpy.allclose(out, exp, rtol=1e-7, atol=atol) holds;
  * the first failing input ends the run (evalplus's default fast_check).
Time limits: each input may take max(min_time_limit, gt_time_limit_factor x the canonical
solution's time on it) (defaults 4 s and 4), and a whole run min(60, sum of the limits) + 1 s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_MIN_TIME_LIMIT = 4.0
DEFAULT_GT_TIME_LIMIT_FACTOR = 4.0
DEFAULT_TIMEOUT_PER_TASK = 60.0

# MBPP+ tasks whose outputs are compared as sets, and those that only say "not None"
MBPP_OUTPUT_SET_EQ = {"similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
                      "larg_nnum", "intersection_array", "find_dissimilar", "Diff"}
MBPP_OUTPUT_NOT_NONE = {"check_str", "text_match_three", "text_starta_endb"}


def time_limits(ref_times: list[float], min_time_limit: float = DEFAULT_MIN_TIME_LIMIT,
                factor: float = DEFAULT_GT_TIME_LIMIT_FACTOR) -> list[float]:
    return [max(min_time_limit, factor * t) for t in ref_times]


def phase_budget(limits: list[float], per_task: float = DEFAULT_TIMEOUT_PER_TASK) -> float:
    return min(per_task, sum(limits)) + 1


# --- numpy.allclose, for the values a Python function returns -------------------------


def _shape(x):
    """numpy's shape of a nested list/tuple of numbers; None when ragged or not numeric."""
    if isinstance(x, (list, tuple)):
        shapes = {_shape(i) for i in x}
        if len(shapes) > 1 or None in shapes:
            return None
        return (len(x),) + (shapes.pop() if shapes else ())
    if isinstance(x, (bool, int, float, complex)):
        return ()
    return None


def _flat(x):
    if isinstance(x, (list, tuple)):
        for i in x:
            yield from _flat(i)
    else:
        yield x


def _isclose(a, b, rtol: float, atol: float) -> bool:
    if isinstance(a, complex) or isinstance(b, complex):
        if any(math.isinf(v) for v in (a.real, a.imag, b.real, b.imag)):
            return a == b
        return abs(a - b) <= atol + rtol * abs(b)
    a, b = float(a), float(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * abs(b)  # nan: False, as numpy's equal_nan=False


def allclose(out, exp, rtol: float, atol: float) -> bool:
    """numpy.allclose for same-shaped (or scalar-broadcast) numeric values; anything numpy
    would refuse (strings, None, ragged lists) is not close."""
    so, se = _shape(out), _shape(exp)
    if so is None or se is None:
        return False
    if so == se:
        return all(_isclose(a, b, rtol, atol) for a, b in zip(_flat(out), _flat(exp)))
    if so == ():
        return all(_isclose(out, b, rtol, atol) for b in _flat(exp))
    if se == ():
        return all(_isclose(a, exp, rtol, atol) for a in _flat(out))
    return False  # numpy would broadcast some other shapes; no evalplus task returns such


def is_floats(x) -> bool:
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return False


# --- the oracles evalplus special-cases -----------------------------------------------


def _poly(xs, x):
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def _surface_area(base_edge, height):
    slant = math.sqrt((base_edge / 2) ** 2 + height ** 2)
    return round(base_edge ** 2 + 4 * (base_edge * slant) / 2)


def _digit_distance_nums(num1, num2):
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width)))


@dataclass
class Verdict:
    passed: bool
    failed_at: int | None = None  # index of the first failing input
    reason: str = ""


def check_phase(dataset: str, entry_point: str, inputs: list, outputs: list, expected: list,
                atol: float, stopped: dict | None = None) -> Verdict:
    """Compare `outputs` (what the solution returned for inputs[0..]) with `expected`.
    `stopped`: the harness's note when the run ended early ({"failed_at", "error"})."""
    for i, exp in enumerate(expected):
        if i >= len(outputs):
            if stopped:
                return Verdict(False, i, stopped.get("error") or "stopped")
            return Verdict(False, i, f"input {i}: no output reported")
        out, inp = outputs[i], inputs[i]
        try:
            ok, atol = _matches(dataset, entry_point, inp, out, exp, atol)
        except Exception as exc:  # comparing the values failed: evalplus counts that as a failure
            ok = False
            detail = f"{type(exc).__name__}"
        else:
            detail = ""
        if not ok:
            return Verdict(False, i, f"input {i}: wrong output{' (' + detail + ')' if detail else ''}: "
                                     f"got {_short(out)}, expected {_short(exp)}")
    return Verdict(True)


def _matches(dataset, entry_point, inp, out, exp, atol):
    """One input: (passed, the atol for the following inputs)."""
    exact = out == exp
    if dataset == "mbpp":
        if entry_point == "are_equivalent":  # Mbpp/164
            exact = True
        elif entry_point == "sum_div":  # Mbpp/295
            exact = exact or out == 0
        elif entry_point == "surface_Area":  # Mbpp/581
            exact = exact or abs(out - _surface_area(*inp)) <= atol
        elif entry_point == "digit_distance_nums":  # Mbpp/558
            exact = exact or out == _digit_distance_nums(*inp)
        elif entry_point in MBPP_OUTPUT_SET_EQ:
            exact = set(out) == set(exp)
        elif entry_point in MBPP_OUTPUT_NOT_NONE:
            exact = out == exp if isinstance(out, bool) else exp == (out is not None)
    if dataset == "humaneval" and entry_point == "find_zero":
        return abs(_poly(*inp, out)) <= atol, atol
    if atol == 0 and is_floats(exp):
        atol = 1e-6
    if not exact and atol != 0:
        if type(out) is not type(exp):
            return False, atol
        if isinstance(exp, (list, tuple)) and len(out) != len(exp):
            return False, atol
        return allclose(out, exp, rtol=1e-07, atol=atol), atol
    return bool(exact), atol


def _short(value, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
