"""Dimensions that pick from a list: :class:`CategoricalDimension` and :class:`BoolDimension`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from search_spaces.archspec import Value
from search_spaces.dimensions.base import (
    Dimension,
    _need_bool,
    _plain,
    check_scalar,
    same_value,
    show,
)
from search_spaces.errors import SchemaProblem, show_value

if TYPE_CHECKING:
    from search_spaces.suggesters import Suggester


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


__all__ = ["BoolDimension", "CategoricalDimension"]
