"""Every network kind in KINDS meets the same contract: its entry is consistent, it builds from a
small spec for each input kind it accepts, runs forward and backward, is seed-deterministic, has
an ANN twin, refuses the other kinds' fields, and explain draws it the way its entry says."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

import pytest
import torch

from snn_models import ConfigError, NetSpec, build
from snn_models.ann import ACTIVATIONS, build_ann, default_activation, is_ann, twin_spec
from snn_models.config import LayerSpec
from snn_models.explain import explain_maps, record_activity
from snn_models.kinds import INPUT_KINDS, KIND_FIELDS, KIND_LAYER_FIELDS, KINDS, Kind
from snn_models.network import SpikingNet

pytestmark = pytest.mark.usefixtures("one_thread")

#: One small sample shape per input kind.
EXAMPLE_SHAPES: dict[str, tuple[int, ...]] = {
    "vector": (12,),
    "image": (1, 8, 8),
    "sequence": (8, 3),
    "series": (2, 12),
}
N_CLASSES = 3
B = 4
CASES = [(name, inp) for name, kind in KINDS.items() for inp in kind.inputs]
CASE_IDS = [f"{name}-{inp}" for name, inp in CASES]


def small_spec(kind: str, **extra: Any) -> dict[str, Any]:
    """A small spec every kind accepts (for a transformer ``width`` is the block's MLP width)."""
    return {"kind": kind, "timesteps": 2, "layers": [{"width": 6}, {"width": 4}], **extra}


def test_every_input_kind_has_an_example() -> None:
    assert set(EXAMPLE_SHAPES) == set(INPUT_KINDS)


def test_every_data_kind_is_an_input_some_kind_takes() -> None:
    """A search keeps the kinds whose ``inputs`` hold its data's input kind
    (``evolve.data.kinds``): each data kind has such a kind, and its example shape is that
    data kind's sample shape."""
    from evolve.data.kinds import NETWORK_INPUT, kind_of_shape

    for data_kind, inp in NETWORK_INPUT.items():
        assert any(inp in kind.inputs for kind in KINDS.values()), data_kind
        assert kind_of_shape(EXAMPLE_SHAPES[inp]) == data_kind


@pytest.mark.parametrize("name", list(KINDS))
def test_entry_is_consistent(name: str) -> None:
    kind = KINDS[name]
    assert isinstance(kind, Kind) and kind.name == name
    assert kind.inputs and set(kind.inputs) <= set(INPUT_KINDS)
    assert kind.input_kind == kind.inputs[0]
    assert set(kind.fields) <= set(KIND_FIELDS)
    assert set(kind.layer_fields) <= set(KIND_LAYER_FIELDS)
    assert kind.ann_activation in ACTIVATIONS
    assert kind.explain in ("layout", "time")
    assert set(kind.twin_layer) <= {f.name for f in fields(LayerSpec)}
    assert (kind.reference_spec is None) == (kind.reference_width is None)
    assert callable(kind.build)
    assert kind.validate is None or callable(kind.validate)


@pytest.mark.parametrize(("name", "inp"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("readout", ["membrane", "spikes"])
def test_builds_and_runs_on_its_inputs(name: str, inp: str, readout: str) -> None:
    shape = EXAMPLE_SHAPES[inp]
    spec = NetSpec.from_dict(small_spec(name, readout=readout))
    assert spec.use_batchnorm == KINDS[name].batchnorm
    net = build(spec, shape, N_CLASSES)
    assert isinstance(net, SpikingNet) and net.spec == spec
    x = torch.rand(B, *shape)
    y = net(x)
    assert y.shape == (B, N_CLASSES) and bool(torch.isfinite(y).all())
    y.sum().backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


@pytest.mark.parametrize("name", list(KINDS))
def test_a_fixed_seed_gives_the_same_weights(name: str) -> None:
    shape = EXAMPLE_SHAPES[KINDS[name].input_kind]
    states = []
    for _ in range(2):
        torch.manual_seed(7)
        states.append(build(small_spec(name), shape, N_CLASSES).state_dict())
    assert list(states[0]) == list(states[1])
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


@pytest.mark.parametrize(("name", "inp"), CASES, ids=CASE_IDS)
def test_ann_twin_builds_and_runs(name: str, inp: str) -> None:
    shape = EXAMPLE_SHAPES[inp]
    spec = NetSpec.from_dict(small_spec(name))
    twin = twin_spec(spec)
    assert twin.kind == name and twin.timesteps == 1 and twin.encoder == "direct"
    for layer in twin.layers:
        for key, value in KINDS[name].twin_layer.items():
            assert getattr(layer, key) == value
    assert default_activation(spec) == KINDS[name].ann_activation
    ann = build_ann(spec, shape, N_CLASSES).eval()
    assert is_ann(ann)
    with torch.no_grad():
        y = ann(torch.rand(B, *shape))
    assert y.shape == (B, N_CLASSES) and bool(torch.isfinite(y).all())


@pytest.mark.parametrize("name", list(KINDS))
def test_spec_round_trips(name: str) -> None:
    spec = NetSpec.from_dict(small_spec(name))
    assert NetSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("name", list(KINDS))
def test_fields_of_other_kinds_are_refused(name: str) -> None:
    kind = KINDS[name]
    for key in KIND_FIELDS:
        if key not in kind.fields:
            with pytest.raises(ConfigError, match=rf"^{key}: only used by kind: .*remove it"):
                NetSpec.from_dict(small_spec(name, **{key: 2}))
    valid = {"attention": "standard", "dilation": 2}  # a value each layer field accepts
    assert set(valid) == set(KIND_LAYER_FIELDS), "give a valid value of the new layer field"
    for key in KIND_LAYER_FIELDS:
        if key not in kind.layer_fields:
            spec = small_spec(name)
            spec["layers"][0][key] = valid[key]
            with pytest.raises(ConfigError, match=rf"layers\[0\]\.{key}: only used by kind"):
                NetSpec.from_dict(spec)
    if kind.needs_width:
        with pytest.raises(ConfigError, match=r"layers\[0\]\.width: missing"):
            NetSpec.from_dict({"kind": name, "layers": [{}]})


@pytest.mark.parametrize("name", [n for n, k in KINDS.items() if k.reference_spec is not None])
def test_reference_architecture_builds(name: str) -> None:
    kind = KINDS[name]
    assert kind.reference_spec is not None and kind.reference_width is not None
    for inp in kind.inputs:
        shape = EXAMPLE_SHAPES[inp]
        ref = kind.reference_spec(8, shape)
        assert NetSpec.from_dict(ref).kind == name
        ann = build_ann(ref, shape, N_CLASSES).eval()
        with torch.no_grad():
            assert ann(torch.rand(2, *shape)).shape == (2, N_CLASSES)


@pytest.mark.parametrize("name", list(KINDS))
def test_explain_draws_it_as_its_entry_says(name: str) -> None:
    kind = KINDS[name]
    shape = EXAMPLE_SHAPES[kind.input_kind]
    net = build(small_spec(name), shape, N_CLASSES).eval()
    x = torch.rand(2, *shape) * 3
    act = record_activity(net, x)
    maps = explain_maps(net, act, shape)
    assert maps.maps, maps.skipped
    methods = set(maps.methods.values())
    if kind.explain == "time":
        assert methods == {"time"}
        for m in maps.maps.values():
            assert m.shape == (shape[-1],)
    else:
        assert "time" not in methods
        for m in maps.maps.values():
            assert m.dim() == 3 and bool(torch.isfinite(m).all())
    assert all(math.isfinite(float(m.sum())) for m in maps.maps.values())
