"""Dimensions: defaults, membership, sampling calls; SearchSpace built in Python."""

from __future__ import annotations

from typing import Any

import pytest

from search_spaces import ArchSpec, RandomSuggester, SearchSpace, parse_space
from search_spaces.dimensions import (
    BoolDimension,
    CategoricalDimension,
    Condition,
    FloatDimension,
    IntDimension,
)
from search_spaces.errors import SchemaProblem


@pytest.mark.parametrize(
    ("dim", "default"),
    [
        (IntDimension(name="a", low=1, high=3), 2),
        (IntDimension(name="a", low=1, high=4), 3),  # midpoint 2.5 rounds half up
        (IntDimension(name="a", low=32, high=256, step=32), 160),
        (IntDimension(name="a", low=1, high=64, log=True), 8),
        (FloatDimension(name="a", low=0.5, high=1.5), 1.0),
        (FloatDimension(name="a", low=1e-4, high=1e-2, log=True), 1e-3),
        (FloatDimension(name="a", low=0.1, high=0.9, step=0.2), 0.5),
        (FloatDimension(name="a", low=0, high=0.9, step=0.3), 0.6),  # 0.45 snapped up
        (CategoricalDimension(name="a", choices=("x", "y")), "x"),
        (BoolDimension(name="a"), False),
        (IntDimension(name="a", low=1, high=3, default=3), 3),
        (FloatDimension(name="a", low=0, high=2, default=1), 1.0),
    ],
)
def test_defaults(dim: Any, default: object) -> None:
    assert dim.default == pytest.approx(default)
    assert type(dim.default) is type(default)
    assert dim.contains(dim.default)


def test_float_bounds_become_floats() -> None:
    dim = FloatDimension(name="a", low=0, high=2, step=1)
    assert (dim.low, dim.high, dim.step) == (0.0, 2.0, 1.0)
    assert all(isinstance(x, float) for x in (dim.low, dim.high, dim.step))


@pytest.mark.parametrize(
    ("dim", "inside", "outside"),
    [
        (
            IntDimension(name="a", low=32, high=256, step=32),
            [32, 64, 256],
            [0, 48, 288, 64.0, True],
        ),
        (FloatDimension(name="a", low=0.5, high=1.5), [0.5, 1, 1.5], [0.49, 1.51, "1", False]),
        (
            FloatDimension(name="a", low=0.1, high=0.9, step=0.1),
            [0.1, 0.30000000000000004, 0.9],
            [0.15, 1.0, float("nan")],
        ),
        (CategoricalDimension(name="a", choices=("x", 1, 2.5)), ["x", 1, 2.5], ["y", True, 1.0]),
        (BoolDimension(name="a"), [True, False], [0, 1, "true"]),
    ],
)
def test_contains(dim: Any, inside: list[object], outside: list[object]) -> None:
    assert all(dim.contains(v) for v in inside)
    assert not any(dim.contains(v) for v in outside)


class _Recorder:
    """Records the calls a dimension makes (what an Optuna trial would receive)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        self.calls.append(("int", name, low, high, step, log))
        return low

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        self.calls.append(("float", name, low, high, step, log))
        return low

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        self.calls.append(("categorical", name, list(choices)))
        return choices[0]


def test_sampling_calls_use_optunas_signatures() -> None:
    space = parse_space(
        """
name: calls
params:
  a: {type: int, low: 1, high: 9, step: 2}
  b: {type: float, low: 1.0e-3, high: 1.0, log: true}
  c: {type: bool}
  d: {type: categorical, choices: [x, 2]}
"""
    )
    recorder = _Recorder()
    spec = space.sample(recorder)
    assert recorder.calls == [
        ("int", "a", 1, 9, 2, False),
        ("float", "b", 1e-3, 1.0, None, True),
        ("categorical", "c", [False, True]),
        ("categorical", "d", ["x", 2]),
    ]
    assert spec == {"a": 1, "b": 1e-3, "c": False, "d": "x"}


CONDITIONAL = """
name: cond
params:
  kind: {type: categorical, choices: [mlp, cnn]}
  depth: {type: int, low: 0, high: 2}
  gate: {type: bool, when: {kind: cnn}}
layers:
  repeat: depth
  params:
    neuron: {type: categorical, choices: [if, lif, bif], default: bif}
    decay: {type: float, low: 0.3, high: 0.9, when: {neuron: [lif, bif], kind: cnn}}
fixed:
  encoder: direct
"""


def test_fixed_entries_come_first_and_conditions_combine() -> None:
    space = parse_space(CONDITIONAL)
    assert space.default() == {
        "encoder": "direct",
        "kind": "mlp",
        "depth": 1,
        "layer.0.neuron": "bif",
    }
    assert next(iter(space.default())) == "encoder"
    suggester = RandomSuggester(seed=0)
    for _ in range(100):
        spec = space.sample(suggester)
        assert spec["encoder"] == "direct"
        assert ("gate" in spec) == (spec["kind"] == "cnn")
        for i in range(int(spec["depth"])):
            wanted = spec["kind"] == "cnn" and spec[f"layer.{i}.neuron"] in ("lif", "bif")
            assert (f"layer.{i}.decay" in spec) == wanted


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"encoder": "rate"}, "fixed value differs"),
        ({"encoder": None}, "fixed key missing"),
        ({"depth": 2}, "layer 1 missing"),
        ({"depth": True}, "bool is not an int"),
        ({"gate": True}, "gate exists only for cnn"),
        ({"layer.0.neuron": "lif", "layer.0.decay": 0.5}, "decay exists only for cnn"),
        ({"layer.0.neuron": "gru"}, "not a choice"),
        ({"extra": 1}, "unknown key"),
        ({"kind": None}, "top-level key missing"),
    ],
)
def test_contains_rejects(change: dict[str, Any], reason: str) -> None:
    space = parse_space(CONDITIONAL)
    spec = space.default().to_dict()
    assert space.contains(spec)
    for key, value in change.items():
        if value is None:
            del spec[key]
        else:
            spec[key] = value
    assert not space.contains(spec), reason


def test_contains_ignores_key_order() -> None:
    space = parse_space(CONDITIONAL)
    spec = space.default()
    assert space.contains(ArchSpec(reversed(list(spec.items()))))


def test_literal_and_fixed_repeat() -> None:
    literal = parse_space(CONDITIONAL.replace("repeat: depth", "repeat: 3"))
    assert [k for k in literal.default() if k.endswith(".neuron")] == [
        "layer.0.neuron",
        "layer.1.neuron",
        "layer.2.neuron",
    ]
    fixed = parse_space(
        "name: f\nlayers:\n  repeat: n\n  params:\n    w: {type: int, low: 1, high: 4}\n"
        "fixed: {n: 2}\n"
    )
    assert fixed.default() == {"n": 2, "layer.0.w": 3, "layer.1.w": 3}


def test_dimensions_and_dimension_for() -> None:
    space = parse_space(CONDITIONAL)
    assert list(space.dimensions) == ["kind", "depth", "gate", "layer.*.neuron", "layer.*.decay"]
    assert space.dimension_for("layer.7.decay") is space.dimensions["layer.*.decay"]
    assert space.dimension_for("depth").name == "depth"
    with pytest.raises(KeyError, match=r"'layer\.0\.width' is not sampled"):
        space.dimension_for("layer.0.width")


def test_describe() -> None:
    text = parse_space(
        CONDITIONAL.replace("name: cond", "name: cond\ndescription: Tiny.")
    ).describe()
    lines = text.splitlines()
    assert lines[0] == "cond: Tiny."
    assert lines[2].split() == ["name", "type", "values", "default", "when"]
    assert lines[3].split() == ["kind", "categorical", "mlp", "|", "cnn", "mlp"]
    assert "layers: one per depth (i = 0..depth-1)" in lines
    assert lines[-2].split() == [
        "layer.{i}.decay",
        "float",
        "0.3..0.9",
        "0.6",
        "neuron",
        "in",
        "{lif,",
        "bif},",
        "kind=cnn",
    ]
    assert lines[-1] == "fixed: encoder='direct'"


def test_descriptions_get_a_column() -> None:
    text = parse_space(
        "name: d\nparams:\n  energy_budget_uj: {type: float, low: 1, high: 10, "
        "description: Energy per inference in microjoules}\n"
    ).describe()
    assert text.splitlines()[-1].endswith("Energy per inference in microjoules")


def test_building_in_python_validates_too() -> None:
    with pytest.raises(SchemaProblem) as caught:
        IntDimension(name="a", low=3, high=1)
    assert str(caught.value) == "low: low 3 is above high 1 (bounds are inclusive; swap them)"
    depth = IntDimension(name="depth", low=1, high=2)
    decay = FloatDimension(name="decay", low=0.1, high=0.9, when=(Condition("neuron", ("lif",)),))
    with pytest.raises(SchemaProblem) as caught:
        SearchSpace(name="s", params=(depth,), layer_params=(decay,), repeat="depth")
    assert caught.value.path == ("layers", "params", "decay", "when", "neuron")
    space = SearchSpace(
        name="s",
        params=(depth,),
        layer_params=(decay.__class__(name="w", low=0, high=1),),
        repeat="depth",
    )
    assert space.default() == {"depth": 2, "layer.0.w": 0.5, "layer.1.w": 0.5}
