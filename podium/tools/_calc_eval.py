"""The calculator's evaluator: a walk over an allow-list of `ast` nodes, never `eval`.

Numbers are `Fraction`s, so ``0.1 + 0.2`` is exactly ``3/10`` and big integers stay exact; a
function without an exact answer (``sqrt(2)``, ``sin``, ``log``), ``pi``, ``e`` or a fractional
power make the value a `float` from there on. Every intermediate result is bounded in digits and
every power is sized *before* it is computed, so ``9**9**9`` is refused at once instead of
running for hours. Unit names (when a resolver is given) become `pint` units: ``3 km`` is
``3 * km``.
"""

from __future__ import annotations

import ast
import io
import keyword
import math
import operator
import re
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from podium.exceptions import ToolError

Value = Any  # Fraction | float | a pint Quantity or Unit
UnitResolver = Callable[[str], Any]

LOG10_2 = math.log10(2)
MAX_UNIT_POWER = 64
KEYWORD_PREFIX = "__kw_"  # how a unit spelled like a Python keyword (``in``) reaches the parser

_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_EXPONENT = re.compile(r"[eE]([+-]?\d+)$")


class CalculationError(ToolError):
    """An expression the calculator refuses or cannot evaluate; the message says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CalcLimits:
    """Bounds against abuse: the expression's length and nesting, and the digits of any value."""

    max_chars: int = 1000
    max_depth: int = 60
    max_digits: int = 4000  # under Python's 4,300-digit limit for printing an int


def is_quantity(value: Value) -> bool:
    """A pint quantity or unit (anything with units), not a plain number."""
    return hasattr(value, "units") or hasattr(value, "dimensionality")


def prepare(expression: str, functions: frozenset[str]) -> str:
    """The expression in Python's syntax: ``^`` is a power, and a number or name followed by a
    name is multiplied (``3 km`` → ``(3 * km)``), binding tighter than ``/`` so that
    ``3 km / 200 m`` divides lengths; a name's own power stays with it (``2 m^2``)."""
    text = expression.replace("^", "**")
    try:
        tokens = [
            t
            for t in tokenize.generate_tokens(io.StringIO(text).readline)
            if t.type not in _SKIPPED
        ]
    except (tokenize.TokenError, SyntaxError) as exc:
        raise CalculationError(f"malformed expression: {exc}") from None
    out: list[str] = []
    grouped = False  # inside a "(3 * km" group that must be closed
    for i, tok in enumerate(tokens):
        string = tok.string
        if tok.type == tokenize.NAME and keyword.iskeyword(string):
            string = KEYWORD_PREFIX + string
        if i and _implicit_product(tokens[i - 1], tok, functions):
            left = tokens[i - 1].type in (tokenize.NUMBER, tokenize.NAME)
            if not grouped and left and tok.type == tokenize.NAME:
                out.insert(len(out) - 1, "(")
                grouped = True
            out.append("*")
        out.append(string)
        if grouped and not _continues_group(tokens, i, functions):
            out.append(")")
            grouped = False
    return " ".join(out)


_SKIPPED = (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT)


def _continues_group(tokens: list[tokenize.TokenInfo], i: int, functions: frozenset[str]) -> bool:
    """Whether the implicit product around token `i` goes on: another name follows, or the
    name's power (``m ** 2``, ``s ** -1``) is still to come."""
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if nxt is None:
        return False
    if nxt.string == "**" and tokens[i].type == tokenize.NAME:
        return True
    if tokens[i].string == "**" or (tokens[i].string == "-" and tokens[i - 1].string == "**"):
        return True
    return nxt.type == tokenize.NAME and _implicit_product(tokens[i], nxt, functions)


def _implicit_product(
    prev: tokenize.TokenInfo, tok: tokenize.TokenInfo, functions: frozenset[str]
) -> bool:
    left = prev.type == tokenize.NUMBER or prev.string == ")"
    left = left or (prev.type == tokenize.NAME and prev.string not in functions)
    right = tok.type == tokenize.NAME or tok.string == "("
    return left and right


class Evaluator:
    """Evaluates one parsed expression under `limits`; names not known as constants go to
    `units` (or are refused when it is None)."""

    def __init__(
        self,
        source: str,
        limits: CalcLimits,
        functions: dict[str, Callable[..., Value]],
        constants: dict[str, Value],
        units: UnitResolver | None,
    ) -> None:
        self.source = source
        self.limits = limits
        self.functions = functions
        self.constants = constants
        self.units = units
        self.max_bits = int(limits.max_digits / LOG10_2)

    def parse(self) -> ast.expr:
        """The expression's syntax tree, or a `CalculationError` for malformed input."""
        try:
            return ast.parse(self.source, mode="eval").body
        except SyntaxError as exc:
            raise CalculationError(f"malformed expression: {exc.msg}") from None
        except (RecursionError, MemoryError):
            raise CalculationError("the expression is nested too deeply") from None

    def eval(self, node: ast.expr, depth: int = 0) -> Value:
        """The value of `node`; raises `CalculationError` for anything off the allow-list."""
        if depth > self.limits.max_depth:
            raise CalculationError(f"the expression is nested deeper than {self.limits.max_depth}")
        if isinstance(node, ast.Constant):
            return self._number(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = self.eval(node.operand, depth + 1)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp):
            left = self.eval(node.left, depth + 1)
            right = self.eval(node.right, depth + 1)
            return self.binop(node.op, left, right)
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise CalculationError(f"{_describe(node)} is not allowed in a calculation")

    def binop(self, op: ast.operator, left: Value, right: Value) -> Value:
        """``left op right``, checked; ``**`` is sized before it runs."""
        if isinstance(op, ast.Pow):
            return self.check(self._power(left, right))
        function = _BINOPS.get(type(op))
        if function is None:
            raise CalculationError(f"the operator {_describe(op)} is not allowed")
        try:
            return self.check(function(left, right))
        except ZeroDivisionError:
            raise CalculationError("division by zero") from None

    def check(self, value: Value) -> Value:
        """`value` if it is a real number within the digit limit, else `CalculationError`."""
        magnitude = getattr(value, "magnitude", value)
        if isinstance(magnitude, int):
            magnitude = Fraction(magnitude)
        if isinstance(magnitude, Fraction):
            bits = max(magnitude.numerator.bit_length(), magnitude.denominator.bit_length())
            if bits > self.max_bits:
                raise CalculationError(
                    f"a result has more than {self.limits.max_digits} digits"
                    f" (about {int(bits * LOG10_2)})"
                )
        elif isinstance(magnitude, float):
            if not math.isfinite(magnitude):
                raise CalculationError("a result is too large (or not a number)")
        elif isinstance(magnitude, complex):
            raise CalculationError("the result is not a real number")
        return value

    def _number(self, node: ast.Constant) -> Value:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CalculationError(f"{value!r} is not a number")
        if isinstance(value, int):
            return self.check(Fraction(value))
        # the literal's own text, so 0.1 is exactly 1/10 and not the nearest binary float
        text = (ast.get_source_segment(self.source, node) or repr(value)).replace("_", "")
        exponent = _EXPONENT.search(text)
        if exponent is not None and abs(int(exponent.group(1))) > self.limits.max_digits:
            raise CalculationError(
                f"the number {text} has more than {self.limits.max_digits} digits"
            )
        return self.check(Fraction(text))

    def _name(self, name: str) -> Value:
        if name in self.constants:
            return self.constants[name]
        if name in self.functions:
            raise CalculationError(f"{name!r} is a function: call it, as in {name}(2)")
        if self.units is None:
            raise CalculationError(f"unknown name {name.removeprefix(KEYWORD_PREFIX)!r}")
        return self.units(name.removeprefix(KEYWORD_PREFIX))

    def _call(self, node: ast.Call, depth: int) -> Value:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name is None or name not in self.functions:
            known = ", ".join(sorted(self.functions))
            raise CalculationError(f"unknown function (the functions are: {known})")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise CalculationError(f"{name}() takes plain positional arguments")
        args = [self.eval(a, depth + 1) for a in node.args]
        try:
            return self.check(self.functions[name](*args))
        except TypeError as exc:
            raise CalculationError(f"{name}(): {exc}") from None
        except ZeroDivisionError:
            raise CalculationError(f"{name}(): division by zero") from None

    def _power(self, base: Value, exponent: Value) -> Value:
        if is_quantity(exponent):
            raise CalculationError("an exponent cannot have a unit")
        whole = isinstance(exponent, Fraction) and exponent.denominator == 1
        if is_quantity(base):
            if not whole or abs(exponent) > MAX_UNIT_POWER:
                raise CalculationError(
                    f"a value with a unit can only be raised to a whole power up to"
                    f" {MAX_UNIT_POWER}"
                )
            return base ** int(exponent)
        if whole:
            return self._exact_power(base, int(exponent))
        try:
            return float(base) ** float(exponent)
        except ZeroDivisionError:
            raise CalculationError("zero cannot be raised to a negative power") from None

    def _exact_power(self, base: Fraction | float, n: int) -> Value:
        if isinstance(base, Fraction) and abs(base) not in (0, 1):
            bits = max(base.numerator.bit_length(), base.denominator.bit_length())
            if (bits - 1) * abs(n) > self.max_bits:
                digits = (bits - 1) * abs(n) * LOG10_2
                raise CalculationError(
                    f"the power would have about {digits:.3g} digits, more than the limit of"
                    f" {self.limits.max_digits}"
                )
        try:
            return base**n
        except ZeroDivisionError:
            raise CalculationError("zero cannot be raised to a negative power") from None


def _describe(node: ast.AST) -> str:
    names = {
        "Compare": "a comparison",
        "Attribute": "an attribute",
        "Subscript": "indexing",
        "Lambda": "a lambda",
        "BitXor": "^ (xor)",
        "MatMult": "@",
    }
    kind = type(node).__name__
    return names.get(kind, kind)


__all__ = ["CalcLimits", "CalculationError", "Evaluator", "is_quantity", "prepare"]
