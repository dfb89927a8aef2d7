"""What every dimension shares: the :class:`Dimension` base, :class:`Condition` and value checks.

The YAML keys each kind takes are described in :mod:`search_spaces.dimensions`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from search_spaces.archspec import Value
from search_spaces.errors import KeyPath, SchemaProblem, show_value

if TYPE_CHECKING:
    from search_spaces.suggesters import Suggester


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


__all__ = [
    "AUTO",
    "Condition",
    "Dimension",
    "check_name",
    "check_scalar",
    "same_value",
    "show",
]
