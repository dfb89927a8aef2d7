"""ArchSpec: a frozen, hashable, ordered, JSON-serialisable flat mapping."""

from __future__ import annotations

import json
import pickle
from collections.abc import Mapping

import pytest

from search_spaces import ArchSpec

ITEMS = {"kind": "mlp", "depth": 2, "lr": 0.003, "learn": True, "layer.0.width": 64}


def test_is_an_ordered_mapping() -> None:
    spec = ArchSpec(ITEMS)
    assert isinstance(spec, Mapping)
    assert list(spec) == list(ITEMS) and len(spec) == 5
    assert spec["layer.0.width"] == 64 and spec.get("missing") is None
    assert "kind" in spec and "nope" not in spec
    assert spec == ITEMS and spec.to_dict() == ITEMS


def test_json_round_trip_keeps_order_and_types() -> None:
    spec = ArchSpec(ITEMS)
    back = ArchSpec.from_json(spec.to_json())
    assert back == spec
    assert [(k, type(v)) for k, v in back.items()] == [(k, type(v)) for k, v in spec.items()]
    assert json.loads(spec.to_json(indent=2)) == ITEMS
    assert ArchSpec.from_dict(json.loads(spec.to_json())) == spec


def test_from_json_wants_an_object() -> None:
    with pytest.raises(TypeError, match="JSON object"):
        ArchSpec.from_json("[1, 2]")


def test_hashable_and_equal_regardless_of_order() -> None:
    a = ArchSpec(ITEMS)
    b = ArchSpec(reversed(list(ITEMS.items())))
    assert a == b and hash(a) == hash(b)
    assert len({a, b, ArchSpec({"kind": "cnn"})}) == 2
    assert a != ArchSpec({**ITEMS, "depth": 3})


def test_frozen() -> None:
    spec = ArchSpec(ITEMS)
    with pytest.raises(AttributeError, match="frozen"):
        spec.depth = 3
    with pytest.raises(TypeError):
        spec["depth"] = 3  # type: ignore[index]
    items = spec.to_dict()
    items["depth"] = 99
    assert spec["depth"] == 2


def test_repr_is_readable_and_evaluable() -> None:
    spec = ArchSpec({"kind": "mlp", "layer.0.width": 64})
    assert repr(spec) == "ArchSpec({'kind': 'mlp', 'layer.0.width': 64})"
    assert eval(repr(spec)) == spec


def test_pickles() -> None:
    spec = ArchSpec(ITEMS)
    assert pickle.loads(pickle.dumps(spec)) == spec


@pytest.mark.parametrize(
    ("items", "error", "match"),
    [
        ({1: "a"}, TypeError, "keys must be strings"),
        ({"a": [1]}, TypeError, "must be str, int, float or bool"),
        ({"a": None}, TypeError, "must be str, int, float or bool"),
        ({"a": float("nan")}, ValueError, "must be finite"),
        ([("a", 1), ("a", 2)], ValueError, "appears twice"),
    ],
)
def test_rejects_what_json_or_hashing_cannot_carry(items: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        ArchSpec(items)  # type: ignore[arg-type]
