"""The calculator tool: exact arithmetic and unit conversions through a parser, never `eval`.

``0.1 + 0.2`` is exactly ``0.3``, ``2**200`` is every digit of it, ``3 km + 200 m in m`` is
``3200 m`` and ``60 mph to km/h`` is ``96.56064 km / h``. What a model may write is an
allow-list: numbers, ``+ - * / // % **`` (``^`` too), parentheses, the functions in
`FUNCTIONS`, ``pi``, ``e`` and unit names. Every value is bounded in digits and every power
sized before it runs, so ``9**9**9`` is refused at once.

In a workflow file::

    tools:
      calc: {use: calculator}

In Python: `calculator_tool()`, or `calculate` to evaluate directly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pydantic

from podium.tools import _calc_units as units_
from podium.tools._calc_eval import (
    LOG10_2,
    CalcLimits,
    CalculationError,
    Evaluator,
    is_quantity,
    prepare,
)
from podium.tools._standard import options
from podium.tools._tool import Tool

Value = Any
_TARGET = re.compile(r"^(?P<body>.*\S)\s+(?:in|to)\s+(?P<target>[\w(][\w\s/*^().]*)$")
_TRIG = {"sin": math.sin, "cos": math.cos, "tan": math.tan}


@dataclass(frozen=True, slots=True, kw_only=True)
class Calculation:
    """A calculator's answer.

    Attributes:
        expression: what was asked.
        value: the value as text: exact (``"0.3"``, ``"1/3"``, every digit of a big integer)
            when `exact`, else the float's shortest text.
        approx: the nearest float (None when the value is beyond a float's range).
        exact: whether `value` is exact; ``sqrt(2)``, ``sin``, ``log``, ``pi`` and fractional
            powers are not.
        unit: the value's unit, abbreviated (``"km / h"``), or None for a plain number.
    """

    expression: str
    value: str
    approx: float | None
    exact: bool
    unit: str | None = None


def _on_magnitude(x: Value, function: Callable[[Any], Any]) -> Value:
    if is_quantity(x):
        q = units_.as_quantity(x)
        return units_.registry().Quantity(function(q.magnitude), q.units)
    return function(x)


def _sqrt(x: Value) -> Value:
    x = units_.plain(x, "sqrt")
    if x < 0:
        raise CalculationError("sqrt() of a negative number")
    if isinstance(x, Fraction):
        top, bottom = math.isqrt(x.numerator), math.isqrt(x.denominator)
        if top * top == x.numerator and bottom * bottom == x.denominator:
            return Fraction(top, bottom)  # a perfect square stays exact
    return math.sqrt(x)


def _ln(x: Value, function: str = "log") -> float:
    x = units_.plain(x, function)
    if x <= 0:
        raise CalculationError(f"{function}() of a number that is not positive")
    if isinstance(x, Fraction):  # of the integers, so it works far beyond a float's range
        return math.log(x.numerator) - math.log(x.denominator)
    return math.log(x)


def _log(x: Value, base: Value = None) -> float:
    if base is None:
        return _ln(x)
    divisor = _ln(base)
    if divisor == 0:
        raise CalculationError("log() to base 1")
    return _ln(x) / divisor


def _round(x: Value, digits: Value = Fraction(0)) -> Value:
    if not (isinstance(digits, Fraction) and digits.denominator == 1 and abs(digits) <= 100):
        raise CalculationError("round(x, n): n must be a whole number from -100 to 100")
    n = int(digits)

    def half_away_from_zero(m: Any) -> Any:
        if isinstance(m, float):
            return round(m, n)
        scaled = m * Fraction(10) ** n
        whole = math.floor(abs(scaled) + Fraction(1, 2))
        return Fraction(whole if scaled >= 0 else -whole) / Fraction(10) ** n

    return _on_magnitude(x, half_away_from_zero)


def _floor(x: Value) -> Value:
    return _on_magnitude(x, lambda m: Fraction(math.floor(m)))


def _ceil(x: Value) -> Value:
    return _on_magnitude(x, lambda m: Fraction(math.ceil(m)))


def _trig(name: str) -> Callable[[Value], float]:
    return lambda x: _TRIG[name](units_.plain(x, name))


FUNCTIONS: dict[str, Callable[..., Value]] = {
    "sqrt": _sqrt,
    "abs": abs,
    "round": _round,
    "min": min,
    "max": max,
    "floor": _floor,
    "ceil": _ceil,
    "log": _log,
    "exp": lambda x: math.exp(units_.plain(x, "exp")),
    "sin": _trig("sin"),
    "cos": _trig("cos"),
    "tan": _trig("tan"),
}
"""The functions a calculation may call. ``log(x)`` is natural, ``log(x, b)`` to base b;
``round`` rounds half away from zero; trigonometry takes radians (or an angle unit)."""

CONSTANTS: dict[str, Value] = {"pi": math.pi, "e": math.e}


def calculate(
    expression: str, *, limits: CalcLimits | None = None, units: bool = True
) -> Calculation:
    """Evaluate `expression` exactly; with `units`, unit names and a final ``in UNIT``/``to UNIT``.

    Raises:
        CalculationError: a malformed or disallowed expression, a limit passed, a division by
            zero, mixed dimensions; the message says which.
    """
    limits = limits or CalcLimits()
    if len(expression) > limits.max_chars:
        raise CalculationError(f"the expression is longer than {limits.max_chars} characters")
    if not expression.strip():
        raise CalculationError("the expression is empty")
    match = _TARGET.match(expression.strip()) if units else None
    body, target = (match["body"], match["target"]) if match else (expression, None)
    try:
        value = _evaluate(body, limits, units)
        if target is not None:
            value = units_.convert(value, _evaluate(target, limits, units))
        return _answer(expression, value, limits)
    except TypeError as exc:
        if units_.is_dimension_error(exc):
            raise CalculationError(units_.dimension_message(exc)) from None
        raise CalculationError(f"these values cannot be combined: {exc}") from None
    except OverflowError:
        raise CalculationError("a result is too large for a floating-point number") from None
    except (ValueError, ArithmeticError) as exc:
        raise CalculationError(f"cannot calculate this: {exc}") from None


def _evaluate(text: str, limits: CalcLimits, units: bool) -> Value:
    source = prepare(text, frozenset(FUNCTIONS))
    resolver = units_.unit if units else None
    evaluator = Evaluator(source, limits, FUNCTIONS, CONSTANTS, resolver)
    return evaluator.eval(evaluator.parse())


def _answer(expression: str, value: Value, limits: CalcLimits) -> Calculation:
    unit = None
    if is_quantity(value):
        value = units_.simplified(value)
    if is_quantity(value):
        unit = units_.unit_text(value)
        value = value.magnitude
    if isinstance(value, int):
        value = Fraction(value)
    if isinstance(value, Fraction):
        try:
            approx: float | None = float(value)
        except OverflowError:
            approx = None
        text = exact_text(value, limits.max_digits)
        return Calculation(expression=expression, value=text, approx=approx, exact=True, unit=unit)
    number = float(value)
    return Calculation(
        expression=expression, value=repr(number), approx=number, exact=False, unit=unit
    )


def exact_text(value: Fraction, max_digits: int = 4000) -> str:
    """A fraction as a decimal when it has a finite one of at most `max_digits` digits
    (``0.3``), else as ``numerator/denominator`` (``1/3``)."""
    if value.denominator == 1:
        return str(value.numerator)
    d = value.denominator
    twos = (d & -d).bit_length() - 1
    rest, fives = d >> twos, 0
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    places = max(twos, fives)
    size = places + value.numerator.bit_length() * LOG10_2
    if rest != 1 or size > max_digits:
        return f"{value.numerator}/{value.denominator}"
    digits = str(abs(value.numerator) * 10**places // d).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


class CalculatorOptions(pydantic.BaseModel):
    """The ``with:`` options of the ``calculator`` kind."""

    model_config = pydantic.ConfigDict(extra="forbid")
    max_chars: int = pydantic.Field(default=1000, ge=1, le=100_000)
    max_digits: int = pydantic.Field(default=4000, ge=1, le=4000)
    units: bool = True


def calculator_tool(
    *, max_chars: int = 1000, max_digits: int = 4000, units: bool = True, name: str = "calculator"
) -> Tool:
    """A read-only tool that evaluates arithmetic exactly, with units.

    Args:
        max_chars: the longest expression accepted.
        max_digits: the most digits any value may have (at most 4,000).
        units: whether unit names and ``in``/``to`` conversions are allowed (they need `pint`).
        name: the tool's name.
    """
    limits = CalcLimits(max_chars=max_chars, max_digits=min(max_digits, 4000))

    def calculator(expression: str) -> Calculation:
        """Evaluate arithmetic exactly, with units: + - * / // % ** (or ^), parentheses, sqrt,
        abs, round, min, max, floor, ceil, log, exp, sin, cos, tan, pi, e; units and a final
        conversion, e.g. "3 km + 200 m in m", "60 mph to km/h". Returns the exact value as
        text (value), a float (approx), whether it is exact, and its unit.
        """
        return calculate(expression, limits=limits, units=units)

    return Tool.from_function(calculator, name=name, effect="read")


def make(raw: Mapping[str, Any]) -> Sequence[Tool]:
    """The ``calculator`` standard tool kind."""
    o = options(CalculatorOptions, raw, "calculator")
    return [calculator_tool(max_chars=o.max_chars, max_digits=o.max_digits, units=o.units)]


__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "CalcLimits",
    "Calculation",
    "CalculationError",
    "CalculatorOptions",
    "calculate",
    "calculator_tool",
    "exact_text",
    "make",
]
