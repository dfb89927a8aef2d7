"""The four kinds of dimension a space is made of, each validated when it is built.

* ``int``: ``low``, ``high`` (inclusive), ``step`` (default 1), ``log`` (default false; not with
  a step > 1). Sampled with ``suggest_int(name, low, high, step=step, log=log)``.
* ``float``: ``low``, ``high`` (inclusive), ``step`` or ``log`` (not both). Sampled with
  ``suggest_float(name, low, high, step=step, log=log)``.
* ``categorical``: ``choices``, a list of distinct str, int, float or bool. Sampled with
  ``suggest_categorical(name, choices)``.
* ``bool``: no keys of its own. Sampled with ``suggest_categorical(name, [False, True])``.

``high`` must lie on the step grid (``low + k*step``): Optuna would otherwise move it silently.

Every dimension also takes ``default`` (inside the dimension; if absent: the first choice, false,
or the midpoint — geometric for log ranges — snapped to the step grid), ``when`` (a mapping
``{param: value}`` or ``{param: [values]}``; several entries must all hold) and ``description``.

Units belong in names, not in comments: ``energy_budget_uj``, ``tau_ms``, ``lr``.

A bad entry raises :class:`~search_spaces.errors.SchemaProblem` whose path is relative to the
dimension (``("low",)``, ``("choices", 2)``, ``()`` for the dimension as a whole).
"""

from __future__ import annotations

import math
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from search_spaces.archspec import Value
from search_spaces.errors import KeyPath, SchemaProblem, did_you_mean, show_value

if TYPE_CHECKING:
    from search_spaces.suggesters import Suggester

__all__ = [
    "AUTO",
    "TYPES",
    "BoolDimension",
    "CategoricalDimension",
    "Condition",
    "Dimension",
    "FloatDimension",
    "IntDimension",
    "check_name",
    "check_scalar",
    "dimension_from_mapping",
    "same_value",
    "show",
]


class _Auto:
    def __repr__(self) -> str:
        return "AUTO"


AUTO: Any = _Auto()
"""The ``default`` of a dimension built without one: it is computed (first choice, midpoint...)."""


def show(value: object) -> str:
    """A value as YAML would spell it: ``'lif'``, ``true``, ``0.5``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def same_value(a: object, b: object) -> bool:
    """Equality that keeps bools apart from numbers (``True`` is not ``1`` here)."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def check_name(path: KeyPath, name: object) -> str:
    """Checks a dimension name or fixed key: an identifier, so never containing a '.'.

    Raises:
        SchemaProblem: At ``path``, naming what is wrong.
    """
    if not isinstance(name, str):
        raise SchemaProblem(path, f"names must be text, got {show_value(name)}", "quote it")
    if "." in name:
        raise SchemaProblem(
            path,
            f"name {name!r} contains '.'",
            "sampled names are dotted, e.g. layer.0.width; use '_' instead",
        )
    if not name.isidentifier():
        raise SchemaProblem(
            path,
            f"name {name!r} is not valid",
            "use letters, digits and '_', not starting with a digit",
        )
    return name


def check_scalar(path: KeyPath, value: object) -> Value:
    """Checks a value a dimension can take: str, int, float (finite) or bool.

    Raises:
        SchemaProblem: At ``path``.
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaProblem(path, f"{show(value)} is not a finite number", "use a finite value")
    if isinstance(value, str | int | float):
        return value
    hint = (
        "quote it if you mean the text" if value is None else "values are str, int, float or bool"
    )
    raise SchemaProblem(path, f"expected a string, number or bool, got {show_value(value)}", hint)


@dataclass(frozen=True)
class Condition:
    """The dimension exists only if ``param`` took one of ``values``.

    Attributes:
        param: A top-level param, a fixed key, or (for a layer param) a sibling in the same layer.
        values: The values that switch the dimension on.
    """

    param: str
    values: tuple[Value, ...]

    def holds(self, taken: Mapping[str, Value]) -> bool:
        """Whether ``taken`` (the values sampled so far) switches the dimension on."""
        return self.param in taken and any(same_value(taken[self.param], v) for v in self.values)

    def __str__(self) -> str:
        if len(self.values) == 1:
            return f"{self.param}={_plain(self.values[0])}"
        return f"{self.param} in {{{', '.join(_plain(v) for v in self.values)}}}"


def _plain(value: Value) -> str:
    return value if isinstance(value, str) else show(value)


@dataclass(frozen=True, kw_only=True)
class Dimension(ABC):
    """One named choice of the space. Subclasses say what values it has and how to sample it.

    Attributes:
        name: The param name (a Python identifier); layer params are sampled as
            ``layer.{i}.{name}``.
        default: The value :meth:`SearchSpace.default` uses; ``AUTO`` computes it.
        when: Conditions that must all hold for the dimension to exist.
        description: One line for ``describe()``.
    """

    type_name: ClassVar[str]
    keys: ClassVar[tuple[str, ...]]
    """YAML keys of this type besides ``type``, ``default``, ``when`` and ``description``."""
    required: ClassVar[tuple[str, ...]]

    name: str
    default: Value = AUTO
    when: tuple[Condition, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        check_name((), self.name)
        if not isinstance(self.description, str):
            raise SchemaProblem(
                ("description",), f"expected text, got {show_value(self.description)}", "quote it"
            )
        object.__setattr__(self, "when", tuple(self.when))
        self._validate()
        if self.default is AUTO:
            object.__setattr__(self, "default", self._auto_default())
        else:
            object.__setattr__(self, "default", self._check_default(self.default))

    @abstractmethod
    def _validate(self) -> None:
        """Checks (and normalises) the type-specific fields."""

    @abstractmethod
    def _auto_default(self) -> Value:
        """The default when none is given."""

    @abstractmethod
    def _check_default(self, value: object) -> Value:
        """Returns ``value`` normalised, or raises :class:`SchemaProblem` at ``("default",)``."""

    @abstractmethod
    def contains(self, value: object) -> bool:
        """Whether ``value`` is one this dimension can take (type, bounds and step grid)."""

    @abstractmethod
    def suggest(self, suggester: Suggester, name: str) -> Value:
        """Asks ``suggester`` for a value under the sampled ``name``."""

    @abstractmethod
    def range_text(self) -> str:
        """The values, briefly: ``32..256 step 32``, ``if | lif | bif``."""


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


def _need_bool(path: KeyPath, value: object) -> None:
    if not isinstance(value, bool):
        raise SchemaProblem(
            path, f"expected true or false, got {show_value(value)}", "write true or false"
        )


def _outside(value: Value, dim: Dimension) -> SchemaProblem:
    return SchemaProblem(
        ("default",),
        f"default {show(value)} is outside {dim.range_text()}",
        "pick a value in the dimension, or drop default to use the midpoint",
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


@dataclass(frozen=True, kw_only=True)
class CategoricalDimension(Dimension):
    """One of a list of choices (str, int, float or bool), each once.

    Example:
        >>> CategoricalDimension(name="neuron", choices=("if", "lif", "bif")).default
        'if'
    """

    type_name: ClassVar[str] = "categorical"
    keys: ClassVar[tuple[str, ...]] = ("choices",)
    required: ClassVar[tuple[str, ...]] = ("choices",)

    choices: tuple[Value, ...]

    def _validate(self) -> None:
        if not isinstance(self.choices, Sequence) or isinstance(self.choices, str):
            raise SchemaProblem(
                ("choices",),
                f"expected a list of choices, got {show_value(self.choices)}",
                "write choices: [a, b]",
            )
        if not self.choices:
            raise SchemaProblem(("choices",), "choices is empty", "list at least one value")
        first: dict[Value, int] = {}  # equal values hash alike (1 == 1.0 == True)
        for i, choice in enumerate(self.choices):
            check_scalar(("choices", i), choice)
            j = first.setdefault(choice, i)
            if j != i:
                earlier = self.choices[j]
                equals = (
                    f"already choices[{j}]"
                    if same_value(earlier, choice)
                    else f"equals choices[{j}] = {show(earlier)}"
                )
                raise SchemaProblem(
                    ("choices", i),
                    f"duplicate choice {show(choice)}",
                    f"{equals}; Optuna cannot tell equal choices apart",
                )
        object.__setattr__(self, "choices", tuple(self.choices))

    def _auto_default(self) -> Value:
        return self.choices[0]

    def _check_default(self, value: object) -> Value:
        if not self.contains(value):
            raise SchemaProblem(
                ("default",),
                f"default {show(value)} is not one of the choices",
                f"choices: {', '.join(_plain(c) for c in self.choices)}",
            )
        assert isinstance(value, str | int | float)
        return value

    def contains(self, value: object) -> bool:
        return any(type(value) is type(c) and value == c for c in self.choices)

    def suggest(self, suggester: Suggester, name: str) -> Value:
        value: Value = suggester.suggest_categorical(name, list(self.choices))
        return value

    def range_text(self) -> str:
        return " | ".join(_plain(c) for c in self.choices)


@dataclass(frozen=True, kw_only=True)
class BoolDimension(Dimension):
    """``false`` or ``true``, sampled as a categorical ``[False, True]``."""

    type_name: ClassVar[str] = "bool"
    keys: ClassVar[tuple[str, ...]] = ()
    required: ClassVar[tuple[str, ...]] = ()

    def _validate(self) -> None:
        pass

    def _auto_default(self) -> Value:
        return False

    def _check_default(self, value: object) -> Value:
        _need_bool(("default",), value)
        assert isinstance(value, bool)
        return value

    def contains(self, value: object) -> bool:
        return isinstance(value, bool)

    def suggest(self, suggester: Suggester, name: str) -> Value:
        value: Value = suggester.suggest_categorical(name, [False, True])
        return value

    def range_text(self) -> str:
        return "false | true"


TYPES: dict[str, type[Dimension]] = {
    "int": IntDimension,
    "float": FloatDimension,
    "categorical": CategoricalDimension,
    "bool": BoolDimension,
}
"""The ``type:`` names and the class each builds (one line here per new kind)."""

_COMMON_KEYS = ("default", "when", "description")


def dimension_from_mapping(name: str, raw: object) -> Dimension:
    """Builds a dimension from its YAML mapping (``{type: int, low: 1, high: 3}``).

    Args:
        name: The param name.
        raw: The parsed mapping.

    Returns:
        The validated dimension.

    Raises:
        SchemaProblem: With a path relative to the dimension.
    """
    if not isinstance(raw, Mapping):
        raise SchemaProblem(
            (),
            f"expected a mapping with a 'type' key, got {show_value(raw)}",
            "to pin one value for every sample, put it under 'fixed:'",
        )
    if "type" not in raw:
        for key in raw:
            if key not in _COMMON_KEYS and not any(key in cls.keys for cls in TYPES.values()):
                raise _unknown_key(key, ("type", *_all_keys()))
        raise SchemaProblem(("type",), "missing required key 'type'", f"one of: {', '.join(TYPES)}")
    type_name = raw["type"]
    if not isinstance(type_name, str) or type_name not in TYPES:
        shown = type_name if isinstance(type_name, str) else show_value(type_name)
        hint = did_you_mean(shown, tuple(TYPES))
        raise SchemaProblem(
            ("type",),
            f"unknown type {shown!r}" if isinstance(type_name, str) else f"unknown type {shown}",
            f"{hint + ' ' if hint else ''}types: {', '.join(TYPES)}",
        )
    cls = TYPES[type_name]
    allowed = ("type", *cls.keys, *_COMMON_KEYS)
    for key in raw:
        if key not in allowed:
            raise _unknown_key(key, allowed, type_name)
    for key in cls.required:
        if key not in raw:
            raise SchemaProblem(
                (key,),
                f"missing required key {key!r}",
                f"{_article(type_name)} {type_name} dimension needs {' and '.join(cls.required)}",
            )
    kwargs: dict[str, Any] = {key: raw[key] for key in (*cls.keys, "default") if key in raw}
    if "when" in raw:
        kwargs["when"] = parse_when(raw["when"])
    if "description" in raw:
        kwargs["description"] = raw["description"]
    return cls(name=name, **kwargs)


def _all_keys() -> tuple[str, ...]:
    keys = [k for cls in TYPES.values() for k in cls.keys]
    return tuple(dict.fromkeys([*keys, *_COMMON_KEYS]))


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _unknown_key(key: object, allowed: tuple[str, ...], type_name: str = "") -> SchemaProblem:
    shown = str(key)
    hint = did_you_mean(shown, allowed)
    if not hint:
        owners = [n for n, cls in TYPES.items() if shown in cls.keys]
        takes = f"{type_name} takes: {', '.join(allowed)}" if type_name else ""
        hint = f"{shown!r} belongs to type: {owners[0]}; {takes}" if owners else takes
    what = f" for {_article(type_name)} {type_name} dimension" if type_name else ""
    return SchemaProblem((shown,), f"unknown key {shown!r}{what}", hint)


def parse_when(raw: object) -> tuple[Condition, ...]:
    """Parses ``when: {param: value}`` / ``{param: [v1, v2]}`` (entries must all hold).

    Raises:
        SchemaProblem: At ``("when", ...)``.
    """
    example = "e.g. when: {neuron: lif} or when: {neuron: [lif, bif]}"
    if not isinstance(raw, Mapping):
        raise SchemaProblem(
            ("when",), f"expected a mapping {{param: value}}, got {show_value(raw)}", example
        )
    if not raw:
        raise SchemaProblem(("when",), "'when' is empty", f"name a param and its values, {example}")
    conditions = []
    for param, wanted in raw.items():
        if not isinstance(param, str):
            raise SchemaProblem(
                ("when",), f"param names must be text, got {show_value(param)}", "quote it"
            )
        values = wanted if isinstance(wanted, list | tuple) else [wanted]
        if not values:
            raise SchemaProblem(("when", param), "empty list of values", "list at least one value")
        checked = tuple(
            check_scalar(("when", param) if values is not wanted else ("when", param, i), v)
            for i, v in enumerate(values)
        )
        conditions.append(Condition(param, checked))
    return tuple(conditions)
