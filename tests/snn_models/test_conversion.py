"""ANN twins and ANN→SNN conversion: BatchNorm folding, scaling, IF neurons (no training here;
the accuracy-vs-T check on digits is in tests/evolve/test_convert_digits.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snn_models import ConfigError, build, measure_energy
from snn_models.ann import Analog, build_ann, is_ann, twin_spec
from snn_models.conversion import (
    ConvertedIF,
    activation_scales,
    convert,
    fold_batchnorm,
    load_converted,
    set_timesteps,
)

pytestmark = pytest.mark.usefixtures("one_thread")

MLP = {
    "kind": "mlp",
    "timesteps": 4,
    "batchnorm": True,
    "layers": [{"width": 24, "neuron": "bif"}, {"width": 16}],
}
CNN = {"kind": "cnn", "timesteps": 4, "layers": [{"width": 6}, {"width": 8}]}
TF = {
    "kind": "transformer",
    "dim": 16,
    "heads": 2,
    "patch": 4,
    "layers": [{"attention": "sdsa"}, {"attention": "ssa", "neuron": "bif"}],
}


def _randomise_batchnorms(model: nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g))
            m.running_var.copy_(torch.rand(n, generator=g) * 2 + 0.1)
            m.weight.data.copy_(torch.randn(n, generator=g))
            m.bias.data.copy_(torch.randn(n, generator=g))


@pytest.mark.parametrize(("spec", "shape"), [(MLP, (1, 8, 8)), (CNN, (1, 8, 8)), (TF, (1, 8, 8))])
def test_twin_keeps_the_topology_with_analog_activations(spec: dict, shape: tuple) -> None:
    snn = build(spec, shape, 10)
    ann = build_ann(spec, shape, 10)
    assert is_ann(ann) and not is_ann(snn)
    snn_shapes = {k: tuple(v.shape) for k, v in snn.state_dict().items() if k.endswith("weight")}
    ann_shapes = {k: tuple(v.shape) for k, v in ann.state_dict().items() if k.endswith("weight")}
    if spec["kind"] != "transformer":  # same names and shapes: weights move between them
        assert snn_shapes == ann_shapes
    acts = {m.activation for m in ann.modules() if isinstance(m, Analog)}
    assert acts == ({"gelu"} if spec["kind"] == "transformer" else {"relu"})
    t = twin_spec(spec)
    assert t.timesteps == 1 and t.readout == "membrane"
    if spec["kind"] == "transformer":
        assert {layer.attention for layer in t.layers} == {"standard"}
    # the twin costs only MACs: no spikes anywhere
    report = measure_energy(ann.eval(), [torch.rand(3, *shape)])
    assert report.total_sops == 0 and report.energy_uj == pytest.approx(report.ann_energy_uj)


@pytest.mark.parametrize(("spec", "shape"), [(MLP, (1, 8, 8)), (CNN, (1, 8, 8)), (TF, (1, 8, 8))])
def test_folded_network_equals_the_unfolded_one(spec: dict, shape: tuple) -> None:
    torch.manual_seed(0)
    ann = build_ann(spec, shape, 10)
    _randomise_batchnorms(ann)
    ann.eval()
    x = torch.randn(16, *shape)
    before = ann(x)
    n_bn = sum(isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d) for m in ann.modules())
    fold_batchnorm(ann)
    assert n_bn > 0
    assert not any(isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d) for m in ann.modules())
    assert (ann(x) - before).abs().max().item() <= 1e-5


def test_activation_scales_are_percentiles_of_each_relu() -> None:
    torch.manual_seed(0)
    ann = build_ann(MLP, (64,), 10).eval()
    x = torch.rand(200, 64)
    outs: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, o: outs.append(o.detach().flatten()))
        for m in ann.modules()
        if isinstance(m, Analog)
    ]
    ann(x)
    for h in hooks:
        h.remove()
    assert activation_scales(ann, [x], 100) == pytest.approx([float(o.max()) for o in outs])
    p99 = activation_scales(ann, [x], 99.0)
    assert p99 == pytest.approx([float(torch.quantile(o, 0.99)) for o in outs])
    assert all(a <= b for a, b in zip(p99, activation_scales(ann, [x], 100), strict=True))


def test_converted_network_runs_if_neurons_and_tracks_the_ann() -> None:
    torch.manual_seed(0)
    ann = build_ann(MLP, (64,), 10).eval()
    _randomise_batchnorms(ann, seed=1)
    x = torch.rand(64, 64)
    snn = convert(ann, [x], timesteps=256, percentile=100)
    neurons = [m for m in snn.modules() if isinstance(m, ConvertedIF)]
    assert len(neurons) == 2 and all(n.soft_reset and float(n.threshold) == 1.0 for n in neurons)
    assert snn.timesteps == 256 and snn.encoder.timesteps == 256
    assert is_ann(ann), "convert leaves the ANN untouched"
    with torch.no_grad():
        a, s = ann(x), snn(x)
    # rate coding: at T = 256 with max-normalisation the logits agree closely
    agree = (a.argmax(1) == s.argmax(1)).float().mean().item()
    assert agree >= 0.9, agree
    set_timesteps(snn, 8)
    assert snn(x).shape == (64, 10) and snn.spec.timesteps == 8


def test_converted_if_starts_at_half_threshold() -> None:
    n = ConvertedIF(threshold=2.0)
    assert torch.equal(n.initial_v(torch.zeros(3)), torch.full((3,), 1.0))
    # 0.6 per step from v = 1.0: crosses 2.0 at step 2, then soft reset keeps the rest
    out = n(torch.full((4, 1), 0.6)).flatten().tolist()
    assert out == [0.0, 1.0, 0.0, 0.0]


def test_transformers_and_gelu_refuse_to_convert() -> None:
    with pytest.raises(ConfigError, match="kind: transformer cannot be converted"):
        convert(build_ann(TF, (1, 8, 8), 10), [torch.rand(2, 1, 8, 8)], timesteps=4)
    gelu = build_ann(MLP, (64,), 10, activation="gelu")
    with pytest.raises(ConfigError, match="needs ReLU"):
        convert(gelu, [torch.rand(2, 64)], timesteps=4)
    with pytest.raises(ConfigError, match="calibration"):
        convert(build_ann(MLP, (64,), 10), [], timesteps=4)


def test_load_converted_honours_the_candidates_thresholds() -> None:
    torch.manual_seed(0)
    ann = build_ann(MLP, (64,), 10).eval()
    _randomise_batchnorms(ann, seed=2)
    x = torch.rand(64, 64)
    cand_spec = {
        "kind": "mlp",
        "timesteps": 128,
        "batchnorm": False,
        "soft_reset": True,
        "layers": [
            {"width": 24, "neuron": "if", "threshold": 0.8},
            {"width": 16, "neuron": "if", "threshold": 1.3},
        ],
    }
    cand = build(cand_spec, (64,), 10).eval()
    load_converted(cand, ann, [x], percentile=100)
    with torch.no_grad():
        agree = (cand(x).argmax(1) == ann(x).argmax(1)).float().mean().item()
    assert agree >= 0.85, agree
    with pytest.raises(ConfigError, match="without BatchNorm"):
        load_converted(build(MLP, (64,), 10), ann, [x])
