"""Numeric dimensions: whole numbers (:class:`IntDimension`) and reals (:class:`FloatDimension`).

Both take ``low``, ``high`` (inclusive), ``step`` and ``log``; see :mod:`search_spaces.dimensions`.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

from search_spaces.archspec import Value
from search_spaces.dimensions.base import Dimension, _need_bool, _outside, show
from search_spaces.errors import KeyPath, SchemaProblem, show_value

if TYPE_CHECKING:
    from search_spaces.suggesters import Suggester


def _need_number(path: KeyPath, value: object, *, whole: bool) -> None:
    ok = isinstance(value, int) if whole else isinstance(value, int | float)
    if ok and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise SchemaProblem(path, f"{show(value)} is not a finite number", "use a finite bound")
        if not whole and isinstance(value, int) and abs(value) > sys.float_info.max:
            raise SchemaProblem(
                path, f"{path[-1]} has {len(str(abs(value)))} digits", "it must fit in a float"
            )
        return
    want = "a whole number" if whole else "a number"
    if isinstance(value, float):
        hint = "int dimensions take whole numbers; use type: float for real values"
    elif isinstance(value, str) and "e" in value.lower() and _parses_as_float(value):
        mantissa, _, exponent = value.lower().partition("e")
        sign = "" if exponent.startswith(("+", "-")) else "+"
        fixed = (mantissa if "." in mantissa else f"{mantissa}.0") + f"e{sign}{exponent}"
        hint = f"YAML 1.1 reads {value} as text; write {fixed}"
    elif isinstance(value, str) and _parses_as_float(value):
        hint = "remove the quotes"
    else:
        hint = f"write {want} without quotes"
    raise SchemaProblem(path, f"expected {want}, got {show_value(value)}", hint)


def _parses_as_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


#: Int bounds and steps lie within ±2**53: Optuna's samplers work in floats, which hold every
#: whole number only up to there (and a larger bound is no sensible search dimension anyway).
MAX_INT = 2**53


def _need_ordinary_int(path: KeyPath, value: int) -> None:
    if abs(value) > MAX_INT:
        digits = len(str(abs(value)))
        raise SchemaProblem(
            path,
            f"{path[-1]} has {digits} digits, beyond ±2**53",
            f"int dimensions take whole numbers within ±{MAX_INT:,}",
        )


@dataclass(frozen=True, kw_only=True)
class IntDimension(Dimension):
    """Whole numbers ``low, low + step, ..., high`` (inclusive); ``log`` samples log-uniformly.

    Example:
        >>> IntDimension(name="width", low=32, high=256, step=32).default
        160
    """

    type_name: ClassVar[str] = "int"
    keys: ClassVar[tuple[str, ...]] = ("low", "high", "step", "log")
    required: ClassVar[tuple[str, ...]] = ("low", "high")

    low: int
    high: int
    step: int = 1
    log: bool = False

    def _validate(self) -> None:
        _need_number(("low",), self.low, whole=True)
        _need_number(("high",), self.high, whole=True)
        if not isinstance(self.step, int) or isinstance(self.step, bool):
            _need_number(("step",), self.step, whole=True)
        _need_bool(("log",), self.log)
        for key in ("low", "high", "step"):
            _need_ordinary_int((key,), getattr(self, key))
        _check_bounds(self, self.low, self.high, None if self.step == 1 else self.step)
        if (self.high - self.low) % self.step:
            below = self.low + (self.high - self.low) // self.step * self.step
            raise SchemaProblem(
                ("high",),
                f"high {self.high} is not on the step grid {self.low}, {self.low + self.step}, ...",
                f"use {below} or {below + self.step}",
            )

    def _auto_default(self) -> Value:
        if self.log:
            return min(max(round(math.sqrt(self.low * self.high)), self.low), self.high)
        k = math.floor((self.high - self.low) / self.step / 2 + 0.5)
        return self.low + k * self.step

    def _check_default(self, value: object) -> Value:
        _need_number(("default",), value, whole=True)
        assert isinstance(value, int)
        if not self.low <= value <= self.high:
            raise _outside(value, self)
        if (value - self.low) % self.step:
            below = value - (value - self.low) % self.step
            raise SchemaProblem(
                ("default",),
                f"default {value} is not on the step grid {self.low}, {self.low + self.step}, ...",
                f"use {below} or {below + self.step}",
            )
        return value

    def contains(self, value: object) -> bool:
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and self.low <= value <= self.high
            and (value - self.low) % self.step == 0
        )

    def suggest(self, suggester: Suggester, name: str) -> Value:
        return suggester.suggest_int(name, self.low, self.high, step=self.step, log=self.log)

    def range_text(self) -> str:
        text = f"{self.low}..{self.high}"
        if self.step != 1:
            text += f" step {self.step}"
        return text + (" log" if self.log else "")


@dataclass(frozen=True, kw_only=True)
class FloatDimension(Dimension):
    """Real numbers in ``[low, high]``; with ``step`` only ``low + k*step``; ``log`` log-uniform.

    Example:
        >>> FloatDimension(name="lr", low=1e-3, high=1e-1, log=True).default
        0.01
    """

    type_name: ClassVar[str] = "float"
    keys: ClassVar[tuple[str, ...]] = ("low", "high", "step", "log")
    required: ClassVar[tuple[str, ...]] = ("low", "high")

    low: float
    high: float
    step: float | None = None
    log: bool = False

    def _validate(self) -> None:
        _need_number(("low",), self.low, whole=False)
        _need_number(("high",), self.high, whole=False)
        if self.step is not None:
            _need_number(("step",), self.step, whole=False)
        _need_bool(("log",), self.log)
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        if self.step is not None:
            object.__setattr__(self, "step", float(self.step))
        _check_bounds(self, self.low, self.high, self.step)
        if not math.isfinite(self.high - self.low):
            raise SchemaProblem(
                ("high",),
                f"the range {show(self.low)}..{show(self.high)} is wider than a float holds",
                "narrow the bounds",
            )
        if self.step is not None and not (self.high - self.low) / self.step <= MAX_INT:
            raise SchemaProblem(
                ("step",),
                f"step {show(self.step)} cuts {show(self.low)}..{show(self.high)} into more "
                "than 2**53 points",
                "use a larger step, or drop it for a continuous range",
            )
        if self.step is not None and (_decimal(self.high) - _decimal(self.low)) % _decimal(
            self.step
        ):
            below = self._snap(self.high, down=True)
            raise SchemaProblem(
                ("high",),
                f"high {show(self.high)} is not on the step grid "
                f"{show(self.low)} + k*{show(self.step)}",
                f"use {show(below)} or {show(self._grid(self._k(below) + 1))}",
            )

    def _k(self, value: float) -> int:
        assert self.step is not None
        return round((value - self.low) / self.step)

    def _grid(self, k: int) -> float:
        assert self.step is not None
        return float(_decimal(self.low) + k * _decimal(self.step))

    def _snap(self, value: float, *, down: bool = False) -> float:
        assert self.step is not None
        k = (value - self.low) / self.step
        return self._grid(math.floor(k) if down else math.floor(k + 0.5))

    def _auto_default(self) -> Value:
        middle = math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2
        if self.step is not None:
            middle = self._snap(middle)
        return min(max(middle, self.low), self.high)

    def _check_default(self, value: object) -> Value:
        _need_number(("default",), value, whole=False)
        assert isinstance(value, int | float)
        value = float(value)
        if not self.low <= value <= self.high:
            raise _outside(value, self)
        if self.step is not None and not self._on_grid(value):
            below = self._snap(value, down=True)
            raise SchemaProblem(
                ("default",),
                f"default {show(value)} is not on the step grid {show(self.low)} + k*{show(self.step)}",
                f"use {show(below)} or {show(self._grid(self._k(below) + 1))}",
            )
        return value

    def _on_grid(self, value: float) -> bool:
        nearest = self._grid(self._k(value))
        scale = max(1.0, abs(value), abs(self.low), abs(self.high))
        return abs(value - nearest) <= 1e-9 * scale

    def contains(self, value: object) -> bool:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        if not (math.isfinite(value) and self.low <= value <= self.high):
            return False
        return self.step is None or self._on_grid(float(value))

    def suggest(self, suggester: Suggester, name: str) -> Value:
        return suggester.suggest_float(name, self.low, self.high, step=self.step, log=self.log)

    def range_text(self) -> str:
        text = f"{show(self.low)}..{show(self.high)}"
        if self.step is not None:
            text += f" step {show(self.step)}"
        return text + (" log" if self.log else "")


def _decimal(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def _check_bounds(dim: Dimension, low: float, high: float, step: float | None) -> None:
    if low > high:
        raise SchemaProblem(
            ("low",),
            f"low {show(low)} is above high {show(high)}",
            "bounds are inclusive; swap them",
        )
    log = getattr(dim, "log", False)
    if step is not None and step <= 0:
        raise SchemaProblem(
            ("step",),
            f"step must be positive, got {show(step)}",
            "the grid is low, low + step, ..., high",
        )
    if step is not None and log:
        raise SchemaProblem(
            ("log",),
            "step and log cannot be used together",
            "Optuna samples a log range without a grid; drop one",
        )
    if log and low <= 0:
        raise SchemaProblem(
            ("low",), f"log scale needs low > 0, got {show(low)}", "raise low, or drop log: true"
        )


__all__ = ["MAX_INT", "FloatDimension", "IntDimension"]
