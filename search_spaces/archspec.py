"""``ArchSpec``: one sampled architecture, as flat, frozen, JSON-serialisable data."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NoReturn

__all__ = ["ArchSpec", "Value"]

Value = str | int | float | bool
"""What a dimension takes and an ``ArchSpec`` holds: a JSON scalar (no null)."""


class ArchSpec(Mapping[str, Value]):
    """A flat, immutable mapping from sampled names to values: what a trial chose.

    Keys keep the order they were sampled in: fixed entries, top-level params, then
    ``layer.{i}.{name}`` for each layer. Values are str, int, float (finite) or bool, so a spec
    prints, hashes, compares and round-trips through JSON unchanged.

    Args:
        items: A mapping or an iterable of ``(key, value)`` pairs.

    Raises:
        TypeError: A key is not a string or a value is not a JSON scalar.
        ValueError: A key repeats or a float is not finite.

    Example:
        >>> spec = ArchSpec({"kind": "mlp", "depth": 1, "layer.0.width": 64})
        >>> spec["layer.0.width"]
        64
        >>> ArchSpec.from_json(spec.to_json()) == spec
        True
        >>> spec
        ArchSpec({'kind': 'mlp', 'depth': 1, 'layer.0.width': 64})
    """

    __slots__ = ("_hash", "_items")

    _items: dict[str, Value]
    _hash: int | None

    def __init__(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        checked: dict[str, Value] = {}
        for key, value in pairs:
            if not isinstance(key, str):
                raise TypeError(f"ArchSpec keys must be strings, got {type(key).__name__} {key!r}")
            if key in checked:
                raise ValueError(f"ArchSpec key {key!r} appears twice")
            if not isinstance(value, str | int | float):  # bool is an int
                raise TypeError(
                    f"ArchSpec value for {key!r} must be str, int, float or bool, "
                    f"got {type(value).__name__} {value!r}"
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"ArchSpec value for {key!r} must be finite, got {value!r}")
            checked[key] = value
        object.__setattr__(self, "_items", checked)
        object.__setattr__(self, "_hash", None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArchSpec:
        """Builds a spec from a plain mapping (e.g. ``json.load`` output or ``trial.params``)."""
        return cls(data)

    @classmethod
    def from_json(cls, text: str) -> ArchSpec:
        """Parses the output of :meth:`to_json`."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise TypeError(f"an ArchSpec is a JSON object, got {type(data).__name__}")
        return cls(data)

    def to_dict(self) -> dict[str, Value]:
        """A new plain ``dict`` with the same items, in order."""
        return dict(self._items)

    def to_json(self, *, indent: int | None = None) -> str:
        """The spec as a JSON object, keys in sampling order."""
        return json.dumps(self._items, indent=indent)

    def __getitem__(self, key: str) -> Value:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __hash__(self) -> int:
        if self._hash is None:
            object.__setattr__(self, "_hash", hash(frozenset(self._items.items())))
        assert self._hash is not None
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ArchSpec):
            return self._items == other._items
        return super().__eq__(other)

    def __repr__(self) -> str:
        return f"ArchSpec({self._items!r})"

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"ArchSpec is frozen; cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"ArchSpec is frozen; cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[ArchSpec], tuple[dict[str, Value]]]:
        return (ArchSpec, (dict(self._items),))
