"""MathAPI: stateless arithmetic helpers (BFCL multi-turn backend)."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation, localcontext

from evalpack.benchmarks.bfcl.backends.base import Backend

_TO_METERS = {"km": 1000, "m": 1, "cm": 0.01, "mm": 0.001, "um": 1e-6, "nm": 1e-9}
_IMPERIAL = {"cm_to_in": 0.393701, "in_to_cm": 2.54, "m_to_ft": 3.28084, "ft_to_m": 0.3048,
             "m_to_yd": 1.09361, "yd_to_m": 0.9144, "km_to_miles": 0.621371, "miles_to_km": 1.60934,
             "kg_to_lb": 2.20462, "lb_to_kg": 0.453592, "celsius_to_fahrenheit": 1.8,
             "fahrenheit_to_celsius": 5 / 9}


def _numbers_op(numbers, empty_error: str, op):
    if not numbers:
        return {"error": empty_error}
    try:
        return {"result": op(numbers)}
    except TypeError:
        return {"error": "All elements in the list must be numbers"}


class MathAPI(Backend):
    def load(self, config: dict, long_context: bool = False, noise: dict | None = None) -> None:
        self._noise = noise or {}
        pass  # stateless

    def logarithm(self, value: float, base: float, precision: int):
        # mpmath at `precision` significant digits, as BFCL computes it (its repr is what the
        # model sees and what the response check compares).
        import mpmath

        try:
            mpmath.mp.dps = precision
            return {"result": mpmath.log(value) / mpmath.log(base)}
        except Exception as e:  # noqa: BLE001 - reported to the model as the tool's error
            return {"error": str(e)}

    def mean(self, numbers: list):
        return _numbers_op(numbers, "Cannot calculate mean of an empty list", lambda n: sum(n) / len(n))

    def standard_deviation(self, numbers: list):
        def std(n):
            m = sum(n) / len(n)
            return math.sqrt(sum((x - m) ** 2 for x in n) / len(n))
        return _numbers_op(numbers, "Cannot calculate standard deviation of an empty list", std)

    def si_unit_conversion(self, value: float, unit_in: str, unit_out: str):
        if not isinstance(value, (int, float)):
            return {"error": "Value must be a number"}
        if unit_in not in _TO_METERS or unit_out not in _TO_METERS:
            return {"error": f"Conversion from '{unit_in}' to '{unit_out}' is not supported"}
        try:
            return {"result": value * _TO_METERS[unit_in] * (1 / _TO_METERS[unit_out])}
        except OverflowError:
            return {"error": "Conversion resulted in a value too large to represent"}

    def imperial_si_conversion(self, value: float, unit_in: str, unit_out: str):
        if not isinstance(value, (int, float)):
            return {"error": "Value must be a number"}
        if unit_in == unit_out:
            return {"result": value}
        key = f"{unit_in}_to_{unit_out}"
        if key not in _IMPERIAL:
            return {"error": f"Conversion from '{unit_in}' to '{unit_out}' is not supported"}
        try:
            if key == "celsius_to_fahrenheit":
                return {"result": value * _IMPERIAL[key] + 32}
            if key == "fahrenheit_to_celsius":
                return {"result": (value - 32) * _IMPERIAL[key]}
            return {"result": value * _IMPERIAL[key]}
        except OverflowError:
            return {"error": "Conversion resulted in a value too large to represent"}

    def add(self, a: float, b: float):
        try:
            return {"result": a + b}
        except TypeError:
            return {"error": "Both inputs must be numbers"}

    def subtract(self, a: float, b: float):
        try:
            return {"result": a - b}
        except TypeError:
            return {"error": "Both inputs must be numbers"}

    def multiply(self, a: float, b: float):
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            return {"error": "Both inputs must be numbers"}
        return {"result": a * b}

    def divide(self, a: float, b: float):
        try:
            if b == 0:
                return {"error": "Cannot divide by zero"}
            return {"result": a / b}
        except TypeError:
            return {"error": "Both inputs must be numbers"}

    def power(self, base: float, exponent: float):
        try:
            return {"result": base ** exponent}
        except TypeError:
            return {"error": "Both inputs must be numbers"}

    def square_root(self, number: float, precision: int):
        try:
            if number < 0:
                return {"error": "Cannot calculate square root of a negative number"}
            with localcontext() as ctx:
                ctx.prec = int(precision)
                return {"result": Decimal(number).sqrt()}
        except (TypeError, ValueError, InvalidOperation):
            return {"error": "Input must be a number or computation resulted in an invalid operation"}

    def absolute_value(self, number: float):
        try:
            return {"result": abs(number)}
        except TypeError:
            return {"error": "Input must be a number"}

    def round_number(self, number: float, decimal_places: int = 0):
        try:
            return {"result": round(number, decimal_places)}
        except TypeError:
            return {"error": "First input must be a number, second input must be an integer"}

    def percentage(self, part: float, whole: float):
        try:
            if whole == 0:
                return {"error": "Whole value cannot be zero"}
            return {"result": part / whole * 100}
        except TypeError:
            return {"error": "Both inputs must be numbers"}

    def min_value(self, numbers: list):
        return _numbers_op(numbers, "Cannot find minimum of an empty list", min)

    def max_value(self, numbers: list):
        return _numbers_op(numbers, "Cannot find maximum of an empty list", max)

    def sum_values(self, numbers: list):
        return _numbers_op(numbers, "Cannot calculate sum of an empty list", sum)
