"""The adaptive neuron selector: LIF <-> BIF by firing rate and loss trend, with a safe warm-up."""

from __future__ import annotations

import math

import torch
from torch import nn

from evolve.training.selector import NeuronSelector
from snn_models.neurons import AdaptiveNode, BIFNode, LIFNode


def _net(start: str = "lif") -> nn.Sequential:
    return nn.Sequential(AdaptiveNode(start=start), AdaptiveNode(start=start))


def test_adaptive_neuron_is_exactly_lif_or_bif_at_the_ends() -> None:
    x = torch.randn(10, 3, 7) * 0.8 + 0.4
    lif, ada = LIFNode(decay=0.5).eval(), AdaptiveNode(decay=0.5).eval()
    assert torch.equal(lif(x), ada(x))
    bif, ada = BIFNode().eval(), AdaptiveNode(start="bif").eval()
    assert torch.equal(bif(x), ada(x))


def test_adaptive_neuron_halfway_is_binary_and_step_modes_agree() -> None:
    x = torch.randn(10, 3, 7) * 0.8 + 0.4
    multi, single = AdaptiveNode().eval(), AdaptiveNode(step_mode="s").eval()
    multi.set_mix(0.5)
    single.load_state_dict(multi.state_dict())
    assert single.mix == 0.5 and multi.kind == "lif~bif"
    s = multi(x)
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(s, torch.stack([single(x[t]) for t in range(10)]))


def test_dead_layer_warms_up_to_bif_and_over_excited_goes_to_lif() -> None:
    net = _net()
    sel = NeuronSelector(net, warmup_epochs=3)
    for epoch in range(3):
        sel.on_epoch_end(epoch, 1.0 - 0.1 * epoch, {"0": 0.0, "1": 0.3})
    assert net[0].kind == "bif" and net[1].kind == "lif"
    assert [d.after for d in sel.decisions if d.layer == "0"] == ["lif~bif", "lif~bif", "bif"]
    assert "dead layer" in sel.decisions[0].reason

    net = _net(start="bif")
    sel = NeuronSelector(net)
    sel.on_epoch_end(0, 1.0, {"0": 0.99, "1": 0.5})
    assert net[0].kind == "lif" and net[1].kind == "bif"
    assert "over-excited" in sel.decisions[0].reason


def test_injected_divergence_falls_back_to_lif_and_cools_down() -> None:
    net = _net()
    sel = NeuronSelector(net, warmup_epochs=4, cooldown_epochs=3)
    sel.on_epoch_end(0, 1.0, {"0": 0.0, "1": 0.3})
    sel.on_epoch_end(1, 0.9, {"0": 0.0, "1": 0.3})
    assert 0 < net[0].mix < 1
    sel.on_epoch_end(2, math.nan, {"0": 0.0, "1": 0.3})  # the injected divergence
    assert net[0].kind == "lif"
    assert "divergence" in sel.decisions[-1].reason
    sel.on_epoch_end(3, 0.9, {"0": 0.0, "1": 0.3})
    assert net[0].kind == "lif", "no return to BIF during the cool-down"
    sel.on_epoch_end(5, 0.9, {"0": 0.0, "1": 0.3})
    assert net[0].mix > 0, "after the cool-down the dead layer may try BIF again"
    state = sel.state()
    assert state["final"]["0"] == net[0].kind and len(state["decisions"]) == len(sel.decisions)


def test_loss_trend_rules() -> None:
    net = _net(start="bif")
    sel = NeuronSelector(net, trend_epochs=5)
    for epoch, loss in enumerate([1.0, 1.1, 1.2, 1.3, 1.4, 1.45]):
        sel.on_epoch_end(epoch, loss, {"0": 0.3, "1": 0.3})
    assert net[0].kind == "lif" and "loss rising" in sel.decisions[-1].reason

    net = _net()
    sel = NeuronSelector(net, trend_epochs=5)
    for epoch in range(6):
        sel.on_epoch_end(epoch, 0.5, {"0": 0.3, "1": 0.3})
    assert net[0].mix > 0 and "loss flat" in sel.decisions[0].reason


def test_no_adaptive_layers_means_inactive() -> None:
    sel = NeuronSelector(nn.Sequential(LIFNode()))
    assert not sel.active
    assert sel.on_epoch_end(0, 1.0, {"0": 0.0}) == []


def test_training_clips_and_counts_exploding_and_vanishing_gradients() -> None:
    from evolve.data.datasets import Split
    from evolve.training.trainer import TrainConfig, train

    x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    split = Split(x, y)
    big = nn.Linear(4, 2)
    huge = Split(x * 1e4, y)  # d(loss)/d(weight) scales with the input: far above the clip norm
    r = train(
        big, huge, split, TrainConfig(epochs=1, batch_size=16, progress=False, clip_grad_norm=1.0)
    )
    assert r.exploding_grad_steps == 4 and r.max_grad_norm > 1.0

    flat = nn.Linear(4, 2)
    flat.bias.requires_grad_(False)
    zeros = Split(torch.zeros(64, 4), y)  # d(loss)/d(weight) = (p - y) x = 0: a vanishing gradient
    r = train(flat, zeros, split, TrainConfig(epochs=1, batch_size=16, progress=False))
    assert r.vanishing_grad_steps == 4 and r.exploding_grad_steps == 0
