"""Units for the calculator, with `pint` (the ``tools`` extra), imported only when a calculation
names a unit. One registry per process: building it reads pint's definitions (about half a
second), so it is made once, under a lock, and shared."""

from __future__ import annotations

import sys
import threading
from fractions import Fraction
from typing import Any

from podium.tools._calc_eval import CalculationError

_lock = threading.Lock()
_made: dict[str, Any] = {}


def registry() -> Any:
    """The shared `pint.UnitRegistry`, with exact (`Fraction`) conversion factors."""
    with _lock:
        if "registry" not in _made:
            try:
                import pint
            except ImportError:
                raise CalculationError(
                    "units need the 'pint' library (pip install 'podium[tools]')"
                ) from None
            # offset units (degC) multiply as themselves: 20 degC converts to 68 degF
            _made["registry"] = pint.UnitRegistry(
                non_int_type=Fraction, autoconvert_offset_to_baseunit=True
            )
        return _made["registry"]


def unit(name: str) -> Any:
    """The unit called `name` (``km``, ``mph``, ``degC``), or a `CalculationError`."""
    import pint

    ureg = registry()
    try:
        return ureg.Unit(name)
    except (pint.UndefinedUnitError, AttributeError, ValueError):
        raise CalculationError(f"unknown name or unit {name!r}") from None


def as_quantity(value: Any) -> Any:
    """A bare unit (``km``) as the quantity ``1 km``; anything else as it is."""
    if hasattr(value, "dimensionality") and not hasattr(value, "magnitude"):
        return registry().Quantity(Fraction(1), value)
    return value


def convert(value: Any, target: Any) -> Any:
    """`value` expressed in `target`'s units; a `CalculationError` that names both dimensions
    when they differ."""
    import pint

    value = as_quantity(value)
    target_units = getattr(target, "units", target)
    if not hasattr(value, "units"):
        if not hasattr(target_units, "dimensionality") or target_units.dimensionless:
            return registry().Quantity(value, "dimensionless").to(target_units)
        raise CalculationError(f"a plain number has no unit to convert to {target_units}")
    try:
        return value.to(target_units)
    except pint.DimensionalityError as exc:
        raise CalculationError(dimension_message(exc)) from None


def simplified(value: Any) -> Any:
    """A dimensionless quantity (``3 km / 200 m``) as a plain number; anything else as is."""
    value = as_quantity(value)
    if hasattr(value, "units") and value.dimensionless:
        return value.to("dimensionless").magnitude
    return value


def plain(value: Any, function: str) -> Any:
    """`value` as a plain number for `function` (``30 degree`` → radians), or an error."""
    if not hasattr(value, "magnitude"):
        if hasattr(value, "dimensionality"):
            raise CalculationError(f"{function}() needs a number, not the unit {value}")
        return value
    if value.dimensionless:
        return value.to("radian" if function in {"sin", "cos", "tan"} else "").magnitude
    raise CalculationError(f"{function}() needs a plain number, not a value in {value.units}")


def unit_text(quantity: Any) -> str:
    """A quantity's unit abbreviated: ``km / h``, ``kg * m / s ** 2``."""
    ureg = registry()
    above: list[str] = []
    below: list[str] = []
    for name, raw in quantity.unit_items():
        power = Fraction(raw)
        exponent = str(abs(power)) if abs(power) != 1 else ""
        term = ureg.get_symbol(name) + (f" ** {exponent}" if exponent else "")
        (above if power > 0 else below).append(term)
    text = " * ".join(above) or "1"
    return text + "".join(f" / {term}" for term in below)


def is_dimension_error(exc: Exception) -> bool:
    """Whether `exc` is pint's error for mixing dimensions (``3 km + 2 s``)."""
    pint = sys.modules.get("pint")  # not imported: the error cannot be pint's
    return pint is not None and isinstance(
        exc, pint.DimensionalityError | pint.OffsetUnitCalculusError
    )


def dimension_message(exc: Exception) -> str:
    """A clear message for a pint dimension error."""
    import pint

    if isinstance(exc, pint.DimensionalityError):
        return (
            f"cannot convert {exc.units1!s} ({exc.dim1}) to {exc.units2!s} ({exc.dim2}):"
            " the dimensions differ"
        )
    return str(exc)


__all__ = [
    "as_quantity",
    "convert",
    "dimension_message",
    "is_dimension_error",
    "plain",
    "registry",
    "simplified",
    "unit",
    "unit_text",
]
