"""The energy model against hand computations."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snn_models import build, measure_energy
from snn_models.energy import ENERGY_PROFILES, EnergyMeter
from snn_models.errors import ConfigError
from snn_models.layers import TimeDistributed, td_linear
from snn_models.neurons import IFNode

E_MAC, E_AC = 4.6, 0.9  # pJ, Horowitz ISSCC 2014, 45 nm fp32


def _hand_net() -> nn.Sequential:
    l1 = td_linear(3, 2, bias=False)
    l2 = td_linear(2, 1, bias=False)
    with torch.no_grad():
        l1.module.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]))
        l2.module.weight.fill_(1.0)
    return nn.Sequential(l1, IFNode(threshold=0.5), l2)


def test_profile_is_data_with_citation() -> None:
    p = ENERGY_PROFILES["45nm_fp32"]
    assert (p.e_mac_pj, p.e_ac_pj) == (E_MAC, E_AC)
    assert "Horowitz" in p.citation and "ISSCC 2014" in p.citation


def test_sops_macs_and_energy_equal_hand_count() -> None:
    net = _hand_net()
    x = torch.tensor([[[1.0, 0.0, 1.0]], [[0.0, 1.0, 0.0]], [[0.0, 0.0, 0.0]]])  # [T=3, B=1, 3]
    # t0: hidden = (1, 1) -> both fire; t1: hidden = (0, 1) -> second fires; t2: silent.
    # layer 1: 3 input spikes x fan-out 2 = 6 SOPs; layer 2: 3 hidden spikes x fan-out 1 = 3 SOPs.
    with EnergyMeter(net) as meter:
        net(x)
        meter.add_samples(1)
    r = meter.report()
    assert [layer.sops for layer in r.layers] == [6.0, 3.0]
    assert r.total_sops == 9.0 and r.total_macs == 0.0
    assert r.energy_uj == pytest.approx(9 * E_AC / 1e6, rel=1e-12)
    assert r.ann_energy_uj == pytest.approx((3 * 2 + 2 * 1) * E_MAC / 1e6, rel=1e-12)
    assert r.spikes_per_inference == {"1": 3.0}
    assert r.firing_rates["1"] == pytest.approx(3 / 6)


def test_counts_are_per_inference_over_batches() -> None:
    net = _hand_net()
    x = torch.tensor([[[1.0, 0.0, 1.0]], [[0.0, 1.0, 0.0]], [[0.0, 0.0, 0.0]]]).expand(3, 4, 3)
    with EnergyMeter(net) as meter:
        for _ in range(2):
            net[1].reset()
            net(x)
            meter.add_samples(4)
    assert meter.report().total_sops == 9.0


def test_hooks_are_removed_after_the_block() -> None:
    net = _hand_net()
    with EnergyMeter(net):
        pass
    for m in net.modules():
        assert not m._forward_hooks


def test_direct_encoding_counts_stem_macs_once() -> None:
    net = build(
        {"kind": "mlp", "timesteps": 5, "layers": [{"width": 7, "threshold": 1e9}]}, (4,), 3
    )
    r = measure_energy(net, [torch.rand(6, 4) + 0.1])
    # stem Linear 4 -> 7 on the real input, once per inference; hidden layer silent (huge threshold)
    assert r.total_macs == 4 * 7
    assert r.total_sops == 0.0
    assert r.energy_uj == pytest.approx(4 * 7 * E_MAC / 1e6, rel=1e-12)
    assert r.ann_energy_uj == pytest.approx((4 * 7 + 7 * 3) * E_MAC / 1e6, rel=1e-12)


def test_silent_network_costs_only_encoding_macs_cnn() -> None:
    spec = {
        "kind": "cnn",
        "timesteps": 3,
        "layers": [{"width": 4, "threshold": 1e9}, {"width": 5, "threshold": 1e9}],
    }
    net = build(spec, (1, 8, 8), 10)
    r = measure_energy(net, [torch.rand(2, 1, 8, 8)])
    assert r.total_sops == 0.0
    assert (
        r.total_macs == 8 * 8 * 4 * 9
    )  # first conv: 64 outputs x 4 channels x 3x3 x 1 input channel
    assert r.energy_uj == pytest.approx(8 * 8 * 4 * 9 * E_MAC / 1e6, rel=1e-12)
    assert all(rate == 0.0 for rate in r.firing_rates.values())


@pytest.mark.parametrize(
    ("stride", "pos", "fan_out"),
    [(1, (0, 0), 4), (1, (1, 1), 9), (1, (0, 2), 6), (2, (0, 0), 1), (2, (1, 1), 4)],
)
def test_conv_fan_out_is_exact_at_borders_and_strides(
    stride: int, pos: tuple[int, int], fan_out: int
) -> None:
    conv = TimeDistributed(nn.Conv2d(2, 3, 3, stride=stride, padding=1, bias=False))
    x = torch.zeros(1, 1, 2, 4, 4)
    x[0, 0, 1, pos[0], pos[1]] = 1.0  # one spike in input channel 1
    with EnergyMeter(conv) as meter:
        conv(x)
        meter.add_samples(1)
    assert meter.report().total_sops == fan_out * 3


def test_real_valued_input_is_counted_as_macs() -> None:
    lin = td_linear(3, 2)
    with EnergyMeter(lin) as meter:
        lin(torch.full((2, 1, 3), 0.5))
        meter.add_samples(1)
    r = meter.report()
    assert r.total_macs == 2 * 3 * 2 and r.total_sops == 0
    assert r.layers[0].input == "real"


def test_report_without_samples_and_unknown_profile() -> None:
    with pytest.raises(ConfigError, match="unknown energy profile"):
        EnergyMeter(_hand_net(), profile="7nm_magic")
    with EnergyMeter(_hand_net()) as meter, pytest.raises(ConfigError, match="add_samples"):
        meter.report()
