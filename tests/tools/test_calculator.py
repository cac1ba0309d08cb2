"""The calculator: exact arithmetic, units through pint, and an allow-list that holds against
hostile expressions."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import pytest

from podium import Orchestrator
from podium.events import ToolCalled
from podium.exceptions import ConfigError, ToolError
from podium.models import ModelRequest, ModelResponse, ToolCall, ToolResultMessage
from podium.plan import load_workflow_text
from podium.testing import FunctionModel
from podium.tools.calculator import (
    CalcLimits,
    Calculation,
    CalculationError,
    calculate,
    calculator_tool,
    exact_text,
    make,
)


def value(expression: str) -> tuple[str, bool, str | None]:
    result = calculate(expression)
    return result.value, result.exact, result.unit


def refused(expression: str, *, units: bool = True, limits: CalcLimits | None = None) -> str:
    with pytest.raises(CalculationError) as info:
        calculate(expression, units=units, limits=limits)
    return str(info.value)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0.1 + 0.2", "0.3"),
        ("1/3 + 1/6", "0.5"),
        ("1/3 + 1/3", "2/3"),
        ("1/3", "1/3"),
        ("2**200", str(2**200)),
        ("2^10", "1024"),
        ("-7 // 2", "-4"),
        ("7 % 3", "1"),
        ("2 ** -3", "0.125"),
        ("(1 + 2)(3 + 4)", "21"),
        ("1_000.5 * 2", "2001"),
        ("1e-3", "0.001"),
        ("sqrt(16/9)", "4/3"),
        ("round(2.5)", "3"),
        ("round(-2.675, 2)", "-2.68"),
        ("floor(-7/2) + ceil(7/2)", "0"),
        ("min(3, 1/2, 2) + max(1, 4) + abs(-1)", "5.5"),
    ],
)
def test_arithmetic_is_exact(expression: str, expected: str) -> None:
    assert value(expression) == (expected, True, None)


def test_inexact_functions_say_so_and_give_a_float() -> None:
    result = calculate("sqrt(2)")
    assert (result.exact, result.approx) == (False, 2**0.5)
    assert calculate("2 * pi").approx == pytest.approx(6.283185307179586)
    assert calculate("log(e)").approx == pytest.approx(1.0)
    assert calculate("log(8, 2)").approx == pytest.approx(3.0)
    # the logarithm of an integer far beyond a float's range
    assert calculate("log(10**1000)").approx == pytest.approx(1000 * 2.302585092994046)
    assert calculate("sin(30 degree)").approx == pytest.approx(0.5)
    assert calculate("cos(0) + tan(0) + exp(0)").value == "2.0"
    assert calculate("2 ** 0.5 ** 2").exact is False


def test_huge_exact_values_have_no_float_approximation() -> None:
    result = calculate("10 ** 400")
    assert (result.value, result.approx, result.exact) == ("1" + "0" * 400, None, True)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("3 km + 200 m in m", ("3200", True, "m")),
        ("60 mph to km/h", ("96.56064", True, "km / h")),
        ("20 degC to degF", ("68", True, "°F")),
        ("3 km / 200 m", ("15", True, None)),
        ("100 km / 2 h", ("50", True, "km / h")),
        ("2 m s^-1 to km/h", ("7.2", True, "km / h")),
        ("3 m^2 to cm^2", ("30000", True, "cm ** 2")),
        ("9.81 kg m / s^2 to N", ("9.81", True, "N")),
        ("5 in to cm", ("12.7", True, "cm")),
        ("3 in + 2 in", ("5", True, "in")),
        ("min(3 m, 20 cm)", ("20", True, "cm")),
        ("abs(-3 m)", ("3", True, "m")),
        ("round(1.25 m, 1)", ("1.3", True, "m")),
        ("floor(2.5 s) + ceil(0.5 s)", ("3", True, "s")),
        ("(2 m)^2", ("4", True, "m ** 2")),
        ("km/h", ("1", True, "km / h")),
    ],
)
def test_units(expression: str, expected: tuple[str, bool, str | None]) -> None:
    assert value(expression) == expected


def test_dimension_errors_name_both_dimensions() -> None:
    assert refused("3 km + 2 s") == (
        "cannot convert kilometer ([length]) to second ([time]): the dimensions differ"
    )
    assert "[length]" in refused("3 m to 1/s")
    assert refused("1/7 to km") == "a plain number has no unit to convert to kilometer"
    assert "cannot be combined" in refused("km + 3")
    assert refused("sqrt(4 m)") == "sqrt() needs a plain number, not a value in meter"
    assert refused("sqrt(m)") == "sqrt() needs a number, not the unit meter"
    assert refused("2 ** (3 m)") == "an exponent cannot have a unit"
    assert "whole power up to 64" in refused("m ** 1000")
    assert refused("3 parsecs_of_cheese") == "unknown name or unit 'parsecs_of_cheese'"


def test_abuse_is_refused_before_it_costs_anything() -> None:
    assert "about 3.5e+08 digits" in refused("9**9**9")
    assert "more than 4000 digits" in refused("10**4001")
    assert "more than 4000 digits" in refused("10**3999 * 100")
    assert "more than 4000 digits" in refused("1 / 10**4001")
    assert "has more than 4000 digits" in refused("1e5000")
    assert "longer than 1000 characters" in refused("1+" * 600 + "1")
    assert "nested deeper than 60" in refused("-" * 500 + "1")
    assert "malformed" in refused("(" * 300 + "1" + ")" * 300, limits=CalcLimits(max_chars=700))
    assert "too large for a floating-point number" in refused("exp(1000)")
    assert "too large" in refused("2.0 ** 0.5 * 10.0 ** 400 ** 0.5 ** 0.1 * 1e308 * 1e308 * 0.5")
    small = CalcLimits(max_digits=10)
    assert "more than 10 digits" in refused("99999 * 999999", limits=small)


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('echo hacked')",
        "().__class__.__bases__",
        "lambda: 1",
        "[1, 2]",
        "{'a': 1}",
        "'text'",
        "1 < 2",
        "True",
        "1 if 1 else 2",
        "x",
        "abs(x=1)",
        "abs(*[1])",
        "open('/etc/passwd')",
        "1j",
        "1 @ 2",
        "1 ^^ 2",
        "sqrt",
        "f'{1}'",
        "exec('1')",
        "",
        "   ",
        "1 2",
    ],
)
def test_anything_off_the_allow_list_is_refused(expression: str) -> None:
    refused(expression)


def test_arithmetic_errors() -> None:
    assert refused("1/0") == "division by zero"
    assert refused("7 // 0") == "division by zero"
    assert refused("0 ** -1") == "zero cannot be raised to a negative power"
    assert refused("(-8) ** (1/3)") == "the result is not a real number"
    assert refused("sqrt(-1)") == "sqrt() of a negative number"
    assert refused("log(0)") == "log() of a number that is not positive"
    assert refused("log(8, 1)") == "log() to base 1"
    assert "round(x, n)" in refused("round(2, 1000)")
    assert "min()" in refused("min()")


def test_without_units_names_are_unknown() -> None:
    assert refused("3 km", units=False) == "unknown name 'km'"
    assert calculate("2 pi", units=False).approx == pytest.approx(6.283185307179586)


def test_exact_text() -> None:
    assert exact_text(Fraction(1, 8)) == "0.125"
    assert exact_text(Fraction(-1, 40)) == "-0.025"
    assert exact_text(Fraction(2, 3)) == "2/3"
    assert exact_text(Fraction(1, 2**20), max_digits=10) == f"1/{2**20}"


def test_concurrent_first_use_of_units_shares_one_registry() -> None:
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(calculate, ["60 mph to km/h"] * 16))
    assert {r.value for r in results} == {"96.56064"}


def test_importing_the_calculator_does_not_import_pint() -> None:
    code = "import podium, podium.tools.calculator, sys; print('pint' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_tool_and_its_options() -> None:
    [tool] = make({})
    assert (tool.name, tool.effect) == ("calculator", "read")
    assert tool.parameters["required"] == ["expression"]
    assert "60 mph to km/h" in tool.description
    assert tool.function(expression="0.1 + 0.2") == Calculation(
        expression="0.1 + 0.2", value="0.3", approx=0.3, exact=True
    )
    [plain] = make({"units": False, "max_chars": 10})
    with pytest.raises(CalculationError, match="longer than 10"):
        plain.function(expression="1 + 2 + 3 + 4")
    assert isinstance(CalculationError("x"), ToolError)
    with pytest.raises(ConfigError, match="max_digits"):
        make({"max_digits": 5000})
    assert calculator_tool(name="calc").name == "calc"


def calculating_model() -> FunctionModel:
    def answer(request: ModelRequest) -> ModelResponse | str:
        results = [m for m in request.messages if isinstance(m, ToolResultMessage)]
        if not results:
            calls = (
                ToolCall(id="1", name="calc", arguments={"expression": "3 km + 200 m in m"}),
                ToolCall(id="2", name="calc", arguments={"expression": "9**9**9"}),
            )
            return ModelResponse(tool_calls=calls)
        return " | ".join(r.content for r in results)

    return FunctionModel(answer)


@pytest.mark.anyio
async def test_a_workflow_file_gives_an_agent_the_calculator() -> None:
    text = """\
name: sums
tools:
  calc: {use: calculator, with: {max_digits: 100}}
agents:
  clerk: {model: test, tools: [calc]}
tasks:
  - {id: add, agent: clerk, instruction: add the distances}
"""
    loaded = load_workflow_text(text, path="sums.yaml")
    agents = tuple(dataclasses.replace(a, model=calculating_model()) for a in loaded.agents)
    async with Orchestrator(store="memory://") as orch:
        result = await orch.run(dataclasses.replace(loaded, agents=agents))
        journal = await orch.events(result.run_id)
    assert result.status == "succeeded"
    calls = [e for e in journal if isinstance(e, ToolCalled)]
    assert [(c.tool, c.effect) for c in calls] == [("calc", "read"), ("calc", "read")]
    assert calls[0].result == {
        "expression": "3 km + 200 m in m",
        "value": "3200",
        "approx": 3200.0,
        "exact": True,
        "unit": "m",
    }
    assert calls[1].error is not None
    assert "more than the limit of 100" in calls[1].error
    assert '"value": "3200"' in result.output
    assert "more than the limit of 100" in result.output
