"""The spiking transformer built from a NetSpec: shapes, per-block settings, membrane shortcuts,
energy, a training smoke test, and spec validation."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from snn_models import ConfigError, NetSpec, build, measure_energy, reset_net, spiking_layers
from snn_models.attention import (
    AdaptiveAttention,
    SpikeDrivenSelfAttention,
    SpikingSelfAttention,
    StandardAttention,
)
from snn_models.config import TRANSFORMER_DEFAULTS
from snn_models.layers import TimeDistributed
from snn_models.neurons import BIFNode, IFNode, LIFNode
from snn_models.transformer import PatchEmbed, SequenceEmbed, TransformerBlock, block_threshold

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(**over: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"kind": "transformer", "timesteps": 2, "dim": 8, "heads": 2}
    spec.update(over)
    spec.setdefault("layers", [{}])
    return spec


def blocks(net: torch.nn.Module) -> list[TransformerBlock]:
    return [m for m in net.modules() if isinstance(m, TransformerBlock)]


INPUTS = {"digits": ((1, 8, 8), 2), "sequence": ((6, 3), 2)}


@pytest.mark.parametrize("neuron", ["if", "lif", "bif"])
@pytest.mark.parametrize("attention", ["standard", "ssa", "sdsa", "adaptive"])
@pytest.mark.parametrize("data", list(INPUTS))
def test_forward_backward_and_energy_for_every_attention_and_neuron(
    data: str, attention: str, neuron: str
) -> None:
    shape, patch = INPUTS[data]
    layer = {"attention": attention, "neuron": neuron}
    net = build(tiny(patch=patch, layers=[layer, layer]), shape, 3)
    x = torch.rand(4, *shape)
    out = net(x)
    assert out.shape == (4, 3) and torch.isfinite(out).all()
    (out * torch.randn_like(out)).sum().backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert all(torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)
    report = measure_energy(net, [x])
    assert math.isfinite(report.energy_uj) and report.energy_uj > 0
    assert report.total_macs > 0  # the token embedding on the real input
    terms = {r.name.split(":")[-1] for r in report.layers if ":" in r.name}
    assert terms  # attention internals have their own rows


def test_blocks_follow_their_layer_settings() -> None:
    spec = tiny(
        dim=12,
        heads=3,
        mlp_ratio=2,
        patch=4,
        layers=[
            {"attention": "standard", "neuron": "if"},
            {"attention": "ssa", "neuron": "bif", "width": 5},
            {"neuron": "lif", "decay": 0.25, "threshold": 0.6},
            {"attention": "adaptive", "neuron": "lif"},
        ],
    )
    net = build(spec, (1, 8, 8), 10)
    b = blocks(net)
    assert [type(x.attn) for x in b] == [
        StandardAttention,
        SpikingSelfAttention,
        SpikeDrivenSelfAttention,  # the default
        AdaptiveAttention,
    ]
    assert [type(x.attn_sn) for x in b] == [IFNode, BIFNode, LIFNode, LIFNode]
    assert [x.attn.heads for x in b] == [3, 3, 3, 3]
    # default thresholds 1.0 -> 0.8 linearly with depth; block 2 sets its own
    assert [x.mlp_sn.threshold for x in b] == pytest.approx([1.0, 1.0 - 0.2 / 3, 0.6, 0.8])
    assert b[2].mlp_sn.decay == 0.25
    # MLP hidden width: mlp_ratio * dim = 24, or the block's width
    assert [x.mlp.fc1.linear.module.out_features for x in b] == [24, 5, 24, 24]
    # SDSA's inner neuron: LIF, threshold 0.5, whatever the block's neuron
    assert isinstance(b[2].attn.kv_sn, LIFNode) and b[2].attn.kv_sn.threshold == 0.5
    # 8x8 image in 4x4 patches: 4 tokens
    assert isinstance(net.stem[0], PatchEmbed) and net.stem[0].pos.shape == (4, 12)


def test_default_thresholds_and_dims() -> None:
    assert block_threshold(0, 1) == 1.0
    assert [block_threshold(i, 5) for i in range(5)] == pytest.approx([1.0, 0.95, 0.9, 0.85, 0.8])
    net = build({"kind": "transformer", "layers": [{}]}, (1, 8, 8), 10)
    dim = TRANSFORMER_DEFAULTS["dim"]
    assert net.stem[0].pos.shape == (4, dim)  # default image patch 4
    assert blocks(net)[0].attn.heads == TRANSFORMER_DEFAULTS["heads"]
    assert blocks(net)[0].mlp.fc1.linear.module.out_features == 4 * dim


def test_sequence_tokens_group_patch_steps() -> None:
    net = build(tiny(patch=2), (6, 3), 4)
    embed = net.stem[0]
    assert isinstance(embed, SequenceEmbed) and embed.linear.in_features == 6
    assert embed.pos.shape == (3, 8)
    one_step = build(tiny(), (6, 3), 4).stem[0]
    assert one_step.linear.in_features == 3 and one_step.pos.shape == (6, 8)  # default patch 1


def test_block_residual_is_on_the_membrane() -> None:
    """With both branches silenced (output BatchNorms zeroed) a block passes the membrane
    stream through unchanged: the shortcut adds to real membrane input, not to spikes."""
    net = build(tiny(layers=[{"attention": "ssa"}]), (1, 8, 8), 3).eval()
    blk = blocks(net)[0]
    with torch.no_grad():
        for bn in (blk.attn.proj.bn, blk.mlp.fc2.bn):
            bn.weight.zero_()
            bn.bias.zero_()
    u = torch.randn(2, 3, 4, 8)
    assert torch.equal(blk(u), u)
    with torch.no_grad():
        blk.mlp.fc2.bn.bias.fill_(0.25)
    reset_net(blk)
    torch.testing.assert_close(blk(u), u + 0.25)


def test_direct_encoding_counts_the_embedding_once_as_macs() -> None:
    net = build(tiny(patch=2, timesteps=3), (1, 8, 8), 3)
    report = measure_energy(net, [torch.rand(2, 1, 8, 8)])
    stem = next(r for r in report.layers if r.name == "stem.0.conv")
    # 16 tokens x 8 channels x (2x2 kernel x 1 input channel), once per inference (not x T)
    assert stem.input == "real" and stem.macs == 16 * 8 * 4 and stem.ann_macs == 16 * 8 * 4
    assert all(r.macs == 0 for r in report.layers if r.name != "stem.0.conv")  # sdsa: spikes only


def test_spiking_encoder_runs_the_embedding_on_spikes_every_step() -> None:
    net = build(tiny(patch=2, encoder="rate", timesteps=3), (1, 8, 8), 3)
    assert len(net.stem) == 0 and isinstance(net.body[0], TimeDistributed)
    report = measure_energy(net, [torch.rand(2, 1, 8, 8)])
    conv = next(r for r in report.layers if r.name.endswith("conv"))
    assert conv.input == "spikes" and conv.sops > 0 and conv.macs == 0


def test_spike_readout_and_neuron_listing() -> None:
    net = build(tiny(readout="spikes"), (1, 8, 8), 3)
    out = net(torch.rand(2, 1, 8, 8))
    assert float(out.detach().min()) >= 0 and float(out.detach().max()) <= 1
    names = list(spiking_layers(net))
    assert any("attn.kv_sn" in n for n in names) and any(n.startswith("head") for n in names)


def test_adaptive_transformer_eval_counts_one_branch() -> None:
    net = build(tiny(layers=[{"attention": "adaptive"}]), (1, 8, 8), 3)
    report = measure_energy(net, [torch.rand(2, 1, 8, 8)])
    standard_rows = [r for r in report.layers if ".attn.standard" in r.name]
    assert standard_rows and all(r.sops == 0 and r.macs == 0 for r in standard_rows)


def test_attention_blocks_and_their_energy_share() -> None:
    from snn_models.functional import attention_blocks

    layers = [{"attention": "adaptive"}, {"attention": "ssa"}, {"attention": "standard"}]
    net = build(tiny(layers=layers), (1, 8, 8), 3)
    found = attention_blocks(net)
    assert found == {"body.0.attn": "adaptive", "body.1.attn": "ssa", "body.2.attn": "standard"}
    report = measure_energy(net, [torch.rand(4, 1, 8, 8)])
    for block in found:
        rows = [r for r in report.layers if r.name.startswith((block + ".", block + ":"))]
        assert rows and report.energy_under(block) == pytest.approx(sum(r.energy_uj for r in rows))
    parts = sum(report.energy_under(b) for b in found)
    assert 0 < parts < report.energy_uj
    assert report.energy_under("body") + report.energy_under("stem") + report.energy_under(
        "head"
    ) == pytest.approx(report.energy_uj)


def test_training_a_few_steps_reduces_the_loss() -> None:
    net = build(tiny(patch=4, layers=[{}, {"attention": "ssa"}]), (1, 8, 8), 3)
    x = torch.rand(24, 1, 8, 8)
    y = torch.arange(24) % 3
    x[y == 1, :, :4] += 1.0  # class-dependent brightness: learnable in a few steps
    x[y == 2, :, 4:] += 1.0
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.85 * losses[0]


def test_spec_round_trips_through_a_plain_dict() -> None:
    spec = NetSpec.from_dict(
        tiny(mlp_ratio=2.5, patch=2, layers=[{"attention": "ssa", "width": 10}, {"neuron": "if"}])
    )
    assert NetSpec.from_dict(spec.to_dict()) == spec
    assert spec.use_batchnorm


@pytest.mark.parametrize(
    ("spec", "shape", "message"),
    [
        (
            tiny(layers=[{"attention": "flash"}]),
            (1, 8, 8),
            r"layers\[0\]\.attention: unknown attention type 'flash'; choose one of standard, ssa, sdsa, adaptive",
        ),
        (
            tiny(layers=[{"atention": "ssa"}]),
            (1, 8, 8),
            r"layers\[0\]\.atention: unknown key \(did you mean 'attention'\?\)",
        ),
        (
            {"kind": "mlp", "layers": [{"width": 4, "attention": "ssa"}]},
            (1, 8, 8),
            r"layers\[0\]\.attention: only used by kind: transformer \(this is kind: mlp\)",
        ),
        (
            {"kind": "cnn", "dim": 16, "layers": [{"width": 4}]},
            (1, 8, 8),
            r"^dim: only used by kind: transformer \(this is kind: cnn\)",
        ),
        (
            {"kind": "mlp", "patch": 2, "layers": [{"width": 4}]},
            (1, 8, 8),
            r"^patch: only used by kind: transformer",
        ),
        ({"kind": "mlp", "layers": [{}]}, (64,), r"layers\[0\]\.width: missing"),
        (tiny(dim=0), (1, 8, 8), r"^dim: must be a positive integer, got 0"),
        (tiny(heads=True), (1, 8, 8), r"^heads: must be a positive integer"),
        (tiny(patch=-1), (1, 8, 8), r"^patch: must be a positive integer"),
        (tiny(mlp_ratio=0), (1, 8, 8), r"^mlp_ratio: must be > 0"),
        (tiny(mlp_ratio="big"), (1, 8, 8), r"^mlp_ratio: expected int/float"),
        (
            tiny(heads=3),
            (1, 8, 8),
            r"^heads: 3 does not divide dim 8; choose a divisor of dim \(1, 2, 4, 8\)",
        ),
        (tiny(batchnorm=False), (1, 8, 8), r"^batchnorm: kind: transformer always uses BatchNorm"),
        (tiny(dropout=0.1), (1, 8, 8), r"^dropout: not supported for kind: transformer"),
        (tiny(layers=[{"width": 0}]), (1, 8, 8), r"layers\[0\]\.width: must be >= 1"),
        (tiny(layers=[{"threshold": 0}]), (1, 8, 8), r"layers\[0\]\.threshold: must be > 0"),
        (
            tiny(patch=3),
            (1, 8, 8),
            r"^patch: 3 does not divide the 8x8 image; choose one of 1, 2, 4, 8",
        ),
        (
            tiny(patch=4),
            (6, 3),
            r"^patch: 4 does not divide the sequence length 6; choose one of 1, 2, 3, 6",
        ),
        (tiny(), (64,), r"kind: transformer needs an image \(C, H, W\) or a sequence \(L, C\)"),
        (
            # v_reset 0.9 is fine under block 0's default threshold 1.0, not under block 1's 0.8
            tiny(layers=[{"neuron": "bif", "neuron_args": {"v_reset": 0.9}}] * 2),
            (1, 8, 8),
            r"^layers\[1\]\.neuron: BIF needs v_min <= v_reset < threshold",
        ),
    ],
)
def test_bad_transformer_specs_name_the_key(spec: dict, shape: tuple, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(spec, shape, 10)
