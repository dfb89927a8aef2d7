"""Temporal SNNs: the series is the network's time (snn_models.temporal)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from snn_models import ConfigError, build, measure_energy
from snn_models.temporal import CausalConv1d, TemporalNet


def _net(**overrides: object) -> TemporalNet:
    spec = {
        "kind": "temporal",
        "timesteps": 2,
        "patch": 3,
        "layers": [
            {"width": 12, "kernel": 5, "neuron": "lif", "decay": 0.8, "threshold": 0.7},
            {"width": 8, "kernel": 1, "neuron": "if", "neuron_args": {"soft_reset": False}},
        ],
        "soft_reset": True,
        **overrides,
    }
    torch.manual_seed(0)
    net = build(spec, (2, 30), 3)
    assert isinstance(net, TemporalNet)
    return net.eval()


def _dilated(**overrides: object) -> TemporalNet:
    """A TCN-like stack: kernel 3 at dilation 2 and 4 (reads up to 12 steps back)."""
    layers = [
        {"width": 12, "kernel": 3, "dilation": 2, "neuron": "lif", "threshold": 0.7},
        {"width": 8, "kernel": 3, "dilation": 4, "neuron": "if", "threshold": 0.5},
    ]
    return _net(layers=layers, **overrides)


@pytest.mark.parametrize("chunk", [3, 6, 15, 30])
@pytest.mark.parametrize("readout", ["membrane", "spikes"])
@pytest.mark.parametrize("make", [_net, _dilated], ids=["adjacent", "dilated"])
def test_multi_step_over_a_series_equals_step_by_step(
    chunk: int, readout: str, make: Callable[..., TemporalNet]
) -> None:
    net = make(readout=readout)
    x = torch.randn(4, 2, 30) * 2
    with torch.no_grad():
        net.head[0].module.weight.mul_(8)  # so that a spiking readout fires at all
        whole = net(x)
        net.reset_stream()
        for i in range(0, 30, chunk):
            online = net.step(x[..., i : i + chunk])
    assert torch.allclose(whole, online, atol=1e-6)
    assert float(whole.abs().sum()) > 0  # something passed through


def test_stepping_is_causal_and_reset_forgets() -> None:
    net = _net()
    x = torch.randn(2, 2, 30)
    y = x.clone()
    y[..., 15:] = torch.randn(2, 2, 15) * 5  # only the future differs
    with torch.no_grad():
        net.reset_stream()
        a = net.step(x[..., :15])
        net.reset_stream()
        b = net.step(y[..., :15])
        assert torch.equal(a, b)
        c = net.step(y[..., 15:])
        net.reset_stream()
        net.step(x[..., :15])
        d = net.step(x[..., 15:])
        assert not torch.equal(c, d)
        # a fresh reset gives back exactly the first answer
        net.reset_stream()
        assert torch.equal(net.step(x[..., :15]), a)


def test_windows_repeats_and_left_padding() -> None:
    net = _net()
    x = torch.randn(1, 2, 28)  # not a multiple of the window (3): padded with 2 zeros in front
    with torch.no_grad():
        steps = net.encoder(x)
        assert steps.shape == (10 * 2, 1, 6)  # ceil(28/3) windows x 2 steps each, 2 ch x 3
        assert torch.equal(steps[0], steps[1])  # each window shown for `timesteps` steps
        assert torch.equal(steps[0, 0, :2], torch.zeros(2))  # channel 0: 2 padded zeros first
        assert torch.equal(steps[0, 0, 2], x[0, 0, 0])
        assert torch.equal(steps[-1, 0], torch.cat([x[0, 0, -3:], x[0, 1, -3:]]))
        padded = torch.nn.functional.pad(x, (2, 0))
        assert torch.equal(net(x), net(padded))


def test_causal_convolution_matches_the_formula() -> None:
    conv = CausalConv1d(1, 1, 3, bias=False)
    with torch.no_grad():
        conv.conv.weight.copy_(torch.tensor([[[0.5, 2.0, 3.0]]]))  # W_2, W_1, W_0
        x = torch.tensor([1.0, 10.0, 100.0, 1000.0]).reshape(4, 1, 1)  # [T, B, C]
        out = conv(x).flatten().tolist()
    # I_t = 3 x_t + 2 x_{t-1} + 0.5 x_{t-2}, zeros before the start
    assert out == [3.0, 32.0, 320.5, 3205.0]


def test_dilated_causal_convolution_matches_the_formula_across_calls() -> None:
    conv = CausalConv1d(1, 1, 3, bias=False, dilation=2)
    with torch.no_grad():
        conv.conv.weight.copy_(torch.tensor([[[0.5, 2.0, 3.0]]]))  # W_2, W_1, W_0
        x = torch.tensor([1.0, 10.0, 100.0, 1000.0, 10000.0]).reshape(5, 1, 1)
        # fed in two calls: the history carries the 4 steps the next outputs read
        out = torch.cat([conv(x[:2]), conv(x[2:])]).flatten().tolist()
    # I_t = 3 x_t + 2 x_{t-2} + 0.5 x_{t-4}
    assert out == [3.0, 30.0, 302.0, 3020.0, 30200.5]
    assert conv.conv.dilation == (2,)


def test_gradients_reach_every_layer_and_training_lowers_the_loss() -> None:
    net = _net().train()
    torch.manual_seed(1)
    x, y = torch.randn(16, 2, 30), torch.randint(0, 3, (16,))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        for name, p in net.named_parameters():
            assert p.grad is not None, name
        opt.step()
        first = float(loss.detach()) if first is None else first
    assert float(loss.detach()) < 0.7 * first


def test_energy_counts_macs_for_samples_and_sops_for_spikes() -> None:
    net = _net()
    x = torch.randn(4, 2, 30)
    report = measure_energy(net, [x])
    rows = {r.name: r for r in report.layers}
    first, second = rows["body.0.conv"], rows["body.3.conv"]
    assert first.macs > 0 and first.sops == 0  # real-valued samples in
    assert second.macs == 0  # spikes in
    steps = 10 * 2
    assert first.macs == pytest.approx(steps * 6 * 5 * 12)  # T x (C·w) x kernel x width
    assert report.ann_energy_uj > 0 and report.energy_uj > 0


@pytest.mark.parametrize(
    ("overrides", "shape", "message"),
    [
        ({"encoder": "rate"}, (2, 30), "encoder"),
        ({}, (1, 8, 8), "series input"),
        ({"patch": 0}, (2, 30), "patch"),
        ({"dim": 16}, (2, 30), "dim"),
        ({"layers": [{"width": 4, "dilation": 0}]}, (2, 30), "dilation: must be >= 1"),
    ],
)
def test_bad_temporal_specs_name_the_key(
    overrides: dict[str, object], shape: tuple[int, ...], message: str
) -> None:
    spec = {"kind": "temporal", "layers": [{"width": 4}], **overrides}
    with pytest.raises(ConfigError, match=message):
        build(spec, shape, 2)


def test_dilation_is_refused_outside_temporal_networks() -> None:
    spec = {"kind": "mlp", "layers": [{"width": 4, "dilation": 2}]}
    with pytest.raises(ConfigError, match=r"layers\[0\]\.dilation: only used by kind: temporal"):
        build(spec, (8,), 2)
