"""From YAML to a dimension: the ``type:`` registry, the key checks and ``when`` conditions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from search_spaces.dimensions.base import Condition, Dimension, check_scalar
from search_spaces.dimensions.choice import BoolDimension, CategoricalDimension
from search_spaces.dimensions.numeric import FloatDimension, IntDimension
from search_spaces.errors import SchemaProblem, did_you_mean, show_value

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


__all__ = ["TYPES", "dimension_from_mapping", "parse_when"]
