"""Spike activation maps equal a hand computation (gamma = 0.5); recording a
network reproduces its own spikes and the neuron recursion, and leaves no hook behind; each model
kind draws the maps that mean something for it."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from snn_models import LIFNode, build, spiking_layers
from snn_models.explain import (
    Activity,
    canvas_size,
    explain_maps,
    input_canvas,
    input_projection,
    layout,
    most_active,
    neuronal_contribution,
    record_activity,
    sam_over_input,
    spike_activation_map,
    token_grid,
)


def test_sam_matches_a_hand_computation_on_a_tiny_spike_train() -> None:
    # T = 4, C = 2 channels, one row of 2 positions (H = 1, W = 2)
    s = torch.zeros(4, 2, 1, 2)
    s[0, 0, 0, 0] = 1  # channel 0, position (0,0): spikes at t = 0, 2, 3
    s[2, 0, 0, 0] = 1
    s[3, 0, 0, 0] = 1
    s[3, 1, 0, 0] = 1  # channel 1, position (0,0): first spike at t = 3
    s[1, 1, 0, 1] = 1  # channel 1, position (0,1): spikes at t = 1 and 3
    s[3, 1, 0, 1] = 1
    e = math.exp(-0.5)
    raw = spike_activation_map(s, normalize=False)
    # t = 0: only (0,0) ch0 spikes, NCS = 1
    assert raw[0].flatten().tolist() == pytest.approx([1.0, 0.0])
    # t = 1: only (0,1) ch1 spikes, NCS = 1; (0,0) is silent: contributes nothing
    assert raw[1].flatten().tolist() == pytest.approx([0.0, 1.0])
    # t = 2: (0,0) ch0 spikes again: NCS = e^{-1} (t'=0) + 1 (t'=2); (0,1) silent
    assert raw[2].flatten().tolist() == pytest.approx([e**2 + 1.0, 0.0])
    # t = 3: (0,0): ch0 NCS = e^{-1.5} + e^{-0.5} + 1, ch1 NCS = 1; (0,1): ch1 e^{-1} + 1
    assert raw[3].flatten().tolist() == pytest.approx([e**3 + e + 1.0 + 1.0, e**2 + 1.0])
    norm = spike_activation_map(s)
    assert norm[3].flatten().tolist() == pytest.approx([1.0, (e**2 + 1) / (e**3 + e + 2)])
    assert float(norm.max()) == pytest.approx(1.0)


def test_silence_gives_a_zero_map_and_bad_shapes_are_refused() -> None:
    assert torch.equal(spike_activation_map(torch.zeros(3, 2, 2, 2)), torch.zeros(3, 2, 2))
    ncs = neuronal_contribution(torch.tensor([1.0, 0.0, 0.0, 1.0]))
    e = math.exp(-0.5)
    assert ncs.tolist() == pytest.approx([1.0, e, e**2, e**3 + 1.0])  # silent steps only decay
    with pytest.raises(ValueError, match=r"\[T, C, H, W\]"):
        spike_activation_map(torch.zeros(3, 2))


# --------------------------------------------------------------------------- recording a network
def _all_clean(model: nn.Module) -> bool:
    """No hook and no wrapper left on any module."""
    return all(
        not m._forward_hooks and not m._forward_pre_hooks and "single_step" not in m.__dict__
        for m in model.modules()
    )


def _own_spikes(model: nn.Module, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Every neuron layer's output in a plain forward pass (fused kernels), and the logits."""
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        m.register_forward_hook(lambda _m, _a, out, n=n: seen.__setitem__(n, out.detach()))
        for n, m in spiking_layers(model).items()
    ]
    with torch.no_grad():
        out = model(x)
    for h in hooks:
        h.remove()
    return seen, out


SPECS = {
    "mlp": {
        "kind": "mlp",
        "timesteps": 4,
        "layers": [{"width": 16}, {"width": 8, "neuron": "bif"}],
    },
    "cnn": {"kind": "cnn", "timesteps": 3, "layers": [{"width": 4, "pool": True}, {"width": 4}]},
    "transformer": {
        "kind": "transformer",
        "timesteps": 3,
        "dim": 8,
        "heads": 1,
        "patch": 2,
        "layers": [{"attention": "ssa"}, {"attention": "sdsa", "neuron": "adaptive"}],
    },
}


@pytest.mark.parametrize("kind", list(SPECS))
def test_recorded_spikes_equal_the_models_own_forward_and_rates_match(
    kind: str, one_thread: None
) -> None:
    model = build(SPECS[kind], (1, 8, 8), 10).eval()
    x = torch.rand(3, 1, 8, 8) * 3
    own, logits = _own_spikes(model, x)
    act = record_activity(model, x)
    assert _all_clean(model)
    assert act.layers == list(own)  # every layer that ran, in forward order
    for name, s in own.items():
        assert torch.equal(act.spikes[name], s), name
        assert act.membrane[name].shape == s.shape
        assert act.pre_reset[name]
    assert torch.equal(act.output, logits)
    assert act.timesteps == SPECS[kind]["timesteps"]
    for name, rate in act.rates().items():
        assert rate == pytest.approx(float(own[name].mean()))
        steps = act.step_rates()[name]
        assert steps == pytest.approx(own[name].flatten(1).mean(dim=1).tolist())
        assert act.rates(sample=1)[name] == pytest.approx(float(own[name][:, 1].mean()))
    # a spike is exactly a pre-reset membrane strictly above the threshold (H(0) = 0)
    for name in act.layers:
        above = (act.membrane[name] > act.thresholds[name]).float()
        assert torch.equal(above, act.spikes[name]), name


def test_the_membrane_trace_is_the_pre_reset_lif_recursion(one_thread: None) -> None:
    xs = [[0.6, 0.3], [0.6, 1.2], [0.2, 0.0], [0.9, 0.5], [0.0, 0.7]]  # [T=5, 2 neurons]
    x = torch.tensor(xs).unsqueeze(1)  # [T, B=1, 2]
    for soft in (False, True):
        lif = LIFNode(decay=0.5, threshold=1.0, soft_reset=soft)
        act = record_activity(nn.Sequential(lif), x)
        name = act.layers[0]
        for k in range(2):
            v, hs, ss = 0.0, [], []
            for t in range(5):
                h = 0.5 * v + xs[t][k]  # charge
                s = 1.0 if h > 1.0 else 0.0
                v = h - 1.0 * s if soft else h * (1 - s)  # reset after the spike
                hs.append(h)
                ss.append(s)
            assert act.membrane[name][:, 0, k].tolist() == pytest.approx(hs)
            assert act.spikes[name][:, 0, k].tolist() == ss
        assert act.thresholds[name] == 1.0 and act.kinds[name] == "lif"
        assert _all_clean(lif)
    # a bare neuron's state from an earlier call does not leak into the recording
    again = record_activity(nn.Sequential(lif), x)
    assert torch.equal(again.membrane[name], act.membrane[name])


def test_hooks_are_removed_when_the_forward_pass_fails() -> None:
    model = build(SPECS["mlp"], (1, 8, 8), 10).eval()
    with pytest.raises(RuntimeError):
        record_activity(model, torch.rand(2, 1, 9, 9))  # wrong input size
    assert _all_clean(model)
    assert not any(n.step_loop for n in spiking_layers(model).values())


def test_most_active_neurons_come_first() -> None:
    s = torch.zeros(3, 1, 4)
    s[:, 0, 2] = 1  # neuron 2 fires 3 times, neuron 0 twice
    s[:2, 0, 0] = 1
    mem = torch.zeros(3, 1, 4)
    mem[0, 0, 3] = 0.9  # neuron 3 silent but closer to threshold than neuron 1
    act = Activity({"l": s}, {"l": mem}, {"l": True}, {"l": 1.0}, {"l": "lif"}, s, s)
    assert most_active(act, "l", 3) == [2, 0, 3]


# --------------------------------------------------------------------------- maps on the input
def _activity(spikes: torch.Tensor) -> Activity:
    return Activity(
        {"l": spikes}, {"l": spikes}, {"l": True}, {"l": 1.0}, {"l": "lif"}, spikes, spikes
    )


def test_token_maps_land_on_their_patches() -> None:
    # 4 tokens of an (1, 4, 4) image -> a 2x2 grid of 2x2 patches; only token 1 (top right) fires
    s = torch.zeros(2, 1, 4, 3)
    s[1, 0, 1, :2] = 1
    act = _activity(s)
    assert layout(act, "l", (1, 4, 4))[0] == "tokens"
    maps = sam_over_input(act, "l", (1, 4, 4))
    assert maps.shape == (2, 4, 4)
    assert torch.equal(maps[0], torch.zeros(4, 4))  # silent step: zero map
    expected = torch.zeros(4, 4)
    expected[:2, 2:] = 1.0
    assert torch.equal(maps[1], expected)
    assert token_grid(4, (1, 4, 4)) == (2, 2) and token_grid(5, (1, 4, 4)) is None
    assert token_grid(5, (10, 3)) == (5, 1)  # a sequence: runs of 2 steps


def test_conv_maps_are_upsampled_and_normalised() -> None:
    s = torch.zeros(3, 1, 2, 2, 2)  # T=3, C=2, 2x2 feature map
    s[:, 0, 0, 0, 0] = 1
    s[2, 0, 1, 1, 1] = 1
    act = _activity(s)
    assert layout(act, "l", (1, 4, 4))[0] == "spatial"
    maps = sam_over_input(act, "l", (1, 4, 4))
    assert maps.shape == (3, 4, 4)
    assert float(maps.amax()) == pytest.approx(1.0) and float(maps.amin()) >= 0.0
    assert float(maps[0, 0, 0]) == pytest.approx(1.0)  # top left: the only position at t=0
    assert float(maps[0, 3, 3]) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="spatial layout"):
        sam_over_input(_activity(torch.zeros(3, 1, 8)), "l", (1, 4, 4))


def test_each_model_kind_draws_what_it_means(one_thread: None) -> None:
    x = torch.rand(1, 1, 8, 8) * 3
    cnn = build(SPECS["cnn"], (1, 8, 8), 10).eval()
    got = explain_maps(cnn, record_activity(cnn, x), (1, 8, 8))
    assert set(got.methods.values()) == {"spatial"} and len(got.maps) == 2 and not got.skipped
    vit = build(SPECS["transformer"], (1, 8, 8), 10).eval()
    act = record_activity(vit, x)
    got = explain_maps(vit, act, (1, 8, 8))
    assert set(got.methods.values()) == {"tokens"}
    assert "body.1.attn.kv_sn" in got.skipped  # SDSA's column sums: no token axis
    assert "token" in got.skipped["body.1.attn.kv_sn"]
    assert set(got.skipped) | set(got.maps) == set(act.layers)
    for m in got.maps.values():
        assert m.shape == (3, 8, 8) and float(m.min()) >= 0.0 and float(m.max()) <= 1.0
    mlp = build(SPECS["mlp"], (1, 8, 8), 10).eval()
    got = explain_maps(mlp, record_activity(mlp, x), (1, 8, 8))
    assert got.methods == {"body.0": "input-projection"}
    assert "only the first hidden layer" in got.skipped["body.2"]


def test_the_input_projection_matches_its_formula(one_thread: None) -> None:
    spec = {"kind": "mlp", "timesteps": 3, "batchnorm": True, "layers": [{"width": 6}]}
    model = build(spec, (2, 3), 4).eval()
    linear, bn = model.stem[1], model.stem[2]
    assert isinstance(linear, nn.Linear) and isinstance(bn, nn.BatchNorm1d)
    assert bn.running_var is not None
    bn.running_var.fill_(4.0)
    bn.weight.data = torch.tensor([1.0, -1.0, 2.0, 0.5, 1.0, 1.0])
    x = torch.rand(1, 2, 3) * 4
    act = record_activity(model, x)
    layer, maps = input_projection(model, act, (2, 3))
    assert layer == "body.0" and maps.shape == (3, 2, 3)
    gain = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    w = linear.weight.detach() * gain.view(-1, 1)
    s = act.spikes[layer][:, 0]
    ncs = neuronal_contribution(s) * s
    for t in range(3):
        raw = torch.zeros(6)
        for k in range(6):
            raw += ncs[t, k] * (w[k] * x.flatten()).clamp_min(0)
        want = raw / raw.max() if raw.max() > 0 else raw
        assert maps[t].flatten().tolist() == pytest.approx(want.tolist(), abs=1e-6)
    cnn = build(SPECS["cnn"], (1, 8, 8), 10).eval()
    with pytest.raises(ValueError, match="input projection"):
        input_projection(cnn, record_activity(cnn, torch.rand(1, 1, 8, 8)), (1, 8, 8))


def test_input_canvas_shapes() -> None:
    assert input_canvas(torch.rand(1, 8, 8), (1, 8, 8)).shape == (8, 8)
    rgb = input_canvas(torch.rand(3, 4, 5) * 7, (3, 4, 5))
    assert rgb.shape == (4, 5, 3) and float(rgb.max()) == pytest.approx(1.0)
    assert input_canvas(torch.rand(12), (12,)).shape == (1, 12)
    assert canvas_size((30, 2)) == (30, 2) and canvas_size((12,)) == (1, 12)


def test_time_map_of_a_temporal_network_by_hand() -> None:
    """A temporal network's SAM is a curve over the series: step t's Σ_k NCS_t(k)·s_t(k), shared
    by the samples of the window it read (mean over the steps a window is shown), normalised."""
    from snn_models import build
    from snn_models.explain import Activity, time_map

    net = build(
        {"kind": "temporal", "patch": 2, "timesteps": 2, "layers": [{"width": 2}]}, (1, 7), 2
    )
    # 7 samples, windows of 2 -> 4 windows (1 zero padded in front), 2 steps each: 8 steps
    s = torch.zeros(8, 1, 2)
    s[0, 0, 0] = 1  # window 0, step 0: NCS 1 -> 1
    s[1, 0, 0] = 1  # window 0, step 1: NCS 1 + e^-0.5 -> 1.6065
    s[5, 0, 1] = 1  # window 2, step 1: 1
    s[6, 0, 1] = 1  # window 3, step 0: 1 + e^-0.5
    s[6, 0, 0] = 1  #                   + (1 + e^-2.5 + e^-3) -> unit 0 spiked at 0, 1 and 6
    act = Activity(
        spikes={"body.2": s},
        membrane={"body.2": torch.zeros_like(s)},
        pre_reset={"body.2": True},
        thresholds={"body.2": 1.0},
        kinds={"body.2": "lif"},
        input=torch.zeros(1, 1, 7),
        output=torch.zeros(1, 2),
    )
    e = math.exp
    per_step = [1, 1 + e(-0.5), 0, 0, 0, 1, (1 + e(-0.5)) + (e(-3) + e(-2.5) + 1), 0]
    per_window = [(per_step[2 * j] + per_step[2 * j + 1]) / 2 for j in range(4)]
    samples = [v for v in per_window for _ in range(2)][1:]  # drop the padded sample
    expected = torch.tensor(samples) / max(samples)
    assert torch.allclose(time_map(net, act, "body.2", 7), expected.float(), atol=1e-6)
