"""STDP and R-STDP against hand-computed traces and plain-loop references.

Ordering convention under test (snn_models.plasticity docstring): at each step the traces first
decay and take in that step's spikes, then the pair term uses the updated traces; the weights of a
forward pass change once, by eta times the sum over its steps, then are clipped.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from snn_models import build, firing_rates
from snn_models.errors import ConfigError
from snn_models.functional import reset_net
from snn_models.layers import TimeDistributed, td_linear
from snn_models.neurons.base import BaseNeuron, StepMode
from snn_models.plasticity import (
    Norm,
    PlasticityController,
    RewardSTDPRule,
    STDPRule,
    attach_stdp,
    stdp_traces,
)

pytestmark = pytest.mark.usefixtures("one_thread")

MLP = {"kind": "mlp", "timesteps": 4, "layers": [{"width": 8}, {"width": 4}]}


def mlp() -> nn.Module:
    """The MLP of MLP, with excitatory hidden weights so that both hidden layers fire."""
    model = build(MLP, (6,), 3)
    with torch.no_grad():
        weight(model, "body.1.module").uniform_(0.0, 0.8)
    return model


# Distinct time constants so that swapping x_pre and y_post would be caught.
RULE = STDPRule(
    lr=0.01, a_plus=1.0, a_minus=1.05, tau_plus=20.0, tau_minus=10.0, w_min=-10, w_max=10
)
LP = math.exp(-1 / 20.0)  # lambda_+
LM = math.exp(-1 / 10.0)  # lambda_-


class ScriptedNeuron(BaseNeuron):
    """Emits a preset spike train whatever its input (teacher-forced post spikes)."""

    t: int

    def __init__(self, step_mode: StepMode = "m") -> None:
        super().__init__(step_mode=step_mode)
        self.script: Tensor | None = None
        self.register_state("t", 0)

    def multi_step(self, x_seq: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        assert self.script is not None and self.script.shape == x_seq.shape
        return self.script.to(x_seq), v

    def single_step(self, x: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        assert self.script is not None
        s = self.script[self.t].to(x)
        self.t += 1
        return s, v


def weight(net: nn.Module, name: str = "0.module") -> Tensor:
    """The weight of the synaptic layer ``name`` (typed access for mypy)."""
    layer = net.get_submodule(name)
    assert isinstance(layer, nn.Linear | nn.Conv2d)
    return layer.weight


def scripted(net: nn.Module, name: str = "1") -> ScriptedNeuron:
    neuron = net.get_submodule(name)
    assert isinstance(neuron, ScriptedNeuron)
    return neuron


def spike_train(times: list[int], T: int) -> Tensor:
    """[T, 1, 1] float64 spikes at the given steps."""
    s = torch.zeros(T, 1, 1, dtype=torch.float64)
    s[times] = 1.0
    return s


def one_synapse(rule: STDPRule, w0: float = 0.5) -> tuple[nn.Sequential, PlasticityController]:
    net = nn.Sequential(td_linear(1, 1, bias=False), ScriptedNeuron()).double()
    nn.init.constant_(weight(net), w0)
    return net, attach_stdp(net, rule, layers=["0"])


def run(net: nn.Sequential, pre: Tensor, post: Tensor) -> float:
    scripted(net).script = post
    reset_net(net)
    with torch.no_grad():
        net(pre)
    return float(weight(net).item())


# ------------------------------------------------------------------------------ hand examples
@pytest.mark.parametrize(
    ("pre", "post", "dw"),
    [
        # pre 3 steps before post: potentiation by eta A+ lambda+^3
        ([1], [4], 0.01 * 1.0 * LP**3),
        # post 3 steps before pre: depression by eta A- lambda-^3
        ([4], [1], -0.01 * 1.05 * LM**3),
        # same step: traces include the current spikes, so both terms count: eta (A+ - A-)
        ([2], [2], 0.01 * (1.0 - 1.05)),
        # two pre spikes then one post: the pre trace adds both
        ([0, 2], [5], 0.01 * (LP**5 + LP**3)),
        # pre, post, pre: one causal and one anti-causal pair
        ([0, 6], [3], 0.01 * (LP**3 - 1.05 * LM**3)),
        # post then a later post with no pre between: nothing
        ([], [1, 3], 0.0),
    ],
)
def test_pair_stdp_equals_the_trace_formula(pre: list[int], post: list[int], dw: float) -> None:
    net, _ = one_synapse(RULE)
    w = run(net, spike_train(pre, 8), spike_train(post, 8))
    assert w - 0.5 == pytest.approx(dw, rel=1e-12, abs=1e-15)


def test_causal_potentiates_and_anticausal_depresses() -> None:
    net, _ = one_synapse(RULE)
    up = run(net, spike_train([1], 6), spike_train([2], 6))
    assert up > 0.5
    net, _ = one_synapse(RULE)
    down = run(net, spike_train([2], 6), spike_train([1], 6))
    assert down < 0.5


def test_batch_is_averaged() -> None:
    net, _ = one_synapse(RULE)
    pre = torch.cat([spike_train([1], 6), spike_train([4], 6)], dim=1)  # [T, B=2, 1]
    post = torch.cat([spike_train([4], 6), spike_train([1], 6)], dim=1)
    w = run(net, pre, post)
    assert w - 0.5 == pytest.approx(0.01 * (LP**3 - 1.05 * LM**3) / 2, rel=1e-12)


def test_single_step_mode_carries_traces_between_calls() -> None:
    # step mode "s": one step per call, [B, N] in, so a bare Linear (no TimeDistributed)
    net = nn.Sequential(nn.Linear(1, 1, bias=False), ScriptedNeuron(step_mode="s")).double()
    nn.init.constant_(weight(net, "0"), 0.5)
    attach_stdp(net, RULE, layers=["0"])
    pre, post = spike_train([1], 6), spike_train([4], 6)
    scripted(net).script = post
    with torch.no_grad():
        for t in range(6):
            net(pre[t])
    assert weight(net, "0").item() - 0.5 == pytest.approx(0.01 * LP**3, rel=1e-12)


def test_stdp_traces() -> None:
    s = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    got = stdp_traces(s, 0.5, initial=torch.tensor(2.0, dtype=torch.float64))
    assert got.tolist() == [2.0, 1.0, 1.5, 0.75]


# ---------------------------------------------------------------------------------- bounds
@pytest.mark.parametrize(("normalize", "target"), [(None, None), ("l2", 3.0), ("l1", 4.0)])
def test_weights_stay_within_bounds_under_huge_learning_rates(
    normalize: Norm | None, target: float | None
) -> None:
    rule = STDPRule(lr=1e3, w_min=-0.3, w_max=0.7)
    net = nn.Sequential(td_linear(6, 4, bias=False), ScriptedNeuron())
    ctrl = attach_stdp(net, rule, layers=["0"], normalize=normalize, norm_target=target)
    w = weight(net)
    g = torch.Generator().manual_seed(1)
    hit_low = hit_high = False
    for _ in range(30):
        pre = torch.bernoulli(torch.full((5, 3, 6), 0.4), generator=g)
        scripted(net).script = torch.bernoulli(torch.full((5, 3, 4), 0.4), generator=g)
        reset_net(net)
        with torch.no_grad():
            net(pre)
        assert w.min() >= -0.3 and w.max() <= 0.7
        hit_low |= bool((w == -0.3).any())
        hit_high |= bool((w == 0.7).any())
    assert hit_low and hit_high  # the clip was needed, so the bounds were really tested
    assert ctrl.synapses["0"].pre_trace is not None


def test_l1_normalisation_keeps_each_post_neuron_norm() -> None:
    rule = STDPRule(lr=0.05, w_min=-5, w_max=5)
    net = nn.Sequential(td_linear(6, 4, bias=False), ScriptedNeuron())
    w = weight(net)
    w0 = w.detach().clone()
    before = w0.abs().sum(1)
    attach_stdp(net, rule, layers=["0"], normalize="l1")
    scripted(net).script = torch.bernoulli(torch.full((5, 2, 4), 0.5))
    with torch.no_grad():
        net(torch.bernoulli(torch.full((5, 2, 6), 0.5)))
    assert (w.detach() - w0).abs().max() > 1e-3  # the rule did change the weights
    assert torch.allclose(w.detach().abs().sum(1), before, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------------ R-STDP
def test_reward_modulated_stdp() -> None:
    rule = RewardSTDPRule(lr=0.1, tau_plus=20.0, tau_minus=10.0, tau_e=5.0, w_min=-10, w_max=10)
    net, ctrl = one_synapse(rule)
    pre, post = spike_train([1], 6), spike_train([3], 6)
    # no reward: no change, however many passes
    for _ in range(3):
        assert run(net, pre, post) == 0.5
    # e = A+ lambda+^2 (pair at step 3), then decays by lambda_e for steps 4 and 5
    e = LP**2 * math.exp(-1 / 5.0) ** 2
    eligibility = ctrl.synapses["0"].eligibility
    assert eligibility is not None
    assert eligibility.item() == pytest.approx(e, rel=1e-12)
    ctrl.apply_reward(0.5)
    w_pos = weight(net).item()
    assert w_pos - 0.5 == pytest.approx(0.1 * 0.5 * e, rel=1e-12)
    # a negative reward reverses the sign of the same eligibility
    run(net, pre, post)
    ctrl.apply_reward(-0.5)
    assert weight(net).item() - w_pos == pytest.approx(-0.1 * 0.5 * e, rel=1e-12)
    # after a reset there is no eligibility: a reward changes nothing
    reset_net(net)
    ctrl.apply_reward(1.0)
    assert weight(net).item() == pytest.approx(0.5, rel=1e-12)


def test_eligibility_accumulates_over_calls_with_decay() -> None:
    rule = RewardSTDPRule(lr=1.0, tau_plus=20.0, tau_e=4.0, w_min=-10, w_max=10)
    lam_e = math.exp(-1 / 4.0)
    net, ctrl = one_synapse(rule)
    syn = ctrl.synapses["0"]
    scripted(net).script = spike_train([1], 3)
    with torch.no_grad():
        net(spike_train([0], 3))  # pair at step 1, then one step of decay
    assert syn.eligibility is not None
    e1 = syn.eligibility.item()
    assert e1 == pytest.approx(LP * lam_e, rel=1e-12)
    scripted(net).script = spike_train([], 3)
    with torch.no_grad():
        net(spike_train([], 3))  # no reset: three silent steps only decay e
    assert syn.eligibility.item() == pytest.approx(e1 * lam_e**3, rel=1e-12)
    assert weight(net).item() == 0.5


def test_reward_needs_a_reward_rule() -> None:
    _, ctrl = one_synapse(RULE)
    with pytest.raises(ConfigError, match="RewardSTDPRule"):
        ctrl.apply_reward(1.0)


def test_huge_reward_respects_bounds() -> None:
    rule = RewardSTDPRule(lr=1e4, w_min=0.0, w_max=1.0)
    net, ctrl = one_synapse(rule)
    run(net, spike_train([1], 6), spike_train([3], 6))
    ctrl.apply_reward(1.0)
    assert weight(net).item() == 1.0
    ctrl.apply_reward(-1.0)
    assert weight(net).item() == 0.0


# -------------------------------------------------------------------------------------- conv
def conv_reference(
    pre: np.ndarray, post: np.ndarray, kernel: int, stride: int, padding: int, rule: STDPRule
) -> np.ndarray:
    """Plain loops over steps, samples, output positions and kernel taps."""
    T, B, C, H, W = pre.shape
    _, _, Co, Ho, Wo = post.shape
    x = np.zeros((T, B, C, H, W))
    y = np.zeros((T, B, Co, Ho, Wo))
    xt, yt = np.zeros((B, C, H, W)), np.zeros((B, Co, Ho, Wo))
    for t in range(T):
        xt = xt * rule.decay_plus + pre[t]
        yt = yt * rule.decay_minus + post[t]
        x[t], y[t] = xt, yt
    dw = np.zeros((Co, C, kernel, kernel))
    for t in range(T):
        for b in range(B):
            for o in range(Co):
                for i in range(Ho):
                    for j in range(Wo):
                        for ki in range(kernel):
                            for kj in range(kernel):
                                r, q = i * stride + ki - padding, j * stride + kj - padding
                                if 0 <= r < H and 0 <= q < W:
                                    dw[o, :, ki, kj] += (
                                        rule.a_plus * post[t, b, o, i, j] * x[t, b, :, r, q]
                                        - rule.a_minus * y[t, b, o, i, j] * pre[t, b, :, r, q]
                                    )
    return rule.lr * dw / B


@pytest.mark.parametrize(("stride", "padding"), [(1, 1), (2, 0)])
def test_conv_stdp_equals_loop_reference(stride: int, padding: int) -> None:
    conv = nn.Conv2d(2, 2, 3, stride=stride, padding=padding, bias=False)
    net = nn.Sequential(TimeDistributed(conv), ScriptedNeuron()).double()
    w0 = conv.weight.detach().clone()
    attach_stdp(net, RULE, layers=["0"])
    T, B = 3, 2
    pre = torch.bernoulli(torch.full((T, B, 2, 5, 5), 0.4, dtype=torch.float64))
    ho = (5 + 2 * padding - 3) // stride + 1
    post = torch.bernoulli(torch.full((T, B, 2, ho, ho), 0.4, dtype=torch.float64))
    scripted(net).script = post
    with torch.no_grad():
        net(pre)
    want = conv_reference(pre.numpy(), post.numpy(), 3, stride, padding, RULE)
    assert np.abs(want).max() > 1e-3  # the example exercises the rule
    np.testing.assert_allclose((conv.weight.detach() - w0).numpy(), want, rtol=1e-10, atol=1e-14)


# ------------------------------------------------------------------ integration with build()
def test_traces_reset_through_reset_net_and_state_dict_unchanged() -> None:
    model = mlp()
    keys = list(model.state_dict())
    n_params = len(list(model.parameters()))
    w = weight(model, "body.1.module")
    w0 = w.detach().clone()
    ctrl = attach_stdp(model, STDPRule(lr=0.05))
    assert ctrl.layer_names == ["body.1"]  # never the stem on the real-valued input
    assert model.plasticity is ctrl
    assert list(model.state_dict()) == keys
    assert len(list(model.parameters())) == n_params
    with torch.no_grad():
        model(torch.rand(5, 6) * 5)
    rates = firing_rates(model)
    assert rates["body.0"] > 0 and rates["body.2"] > 0
    assert not torch.equal(w.detach(), w0)  # STDP changed the hidden layer online
    syn = ctrl.synapses["body.1"]
    assert syn.pre_trace is not None and syn.post_trace is not None
    reset_net(model)
    assert syn.pre_trace is None and syn.post_trace is None
    # detach: hooks gone, controller removed, weights frozen again
    ctrl.detach()
    assert not hasattr(model, "plasticity")
    w1 = w.detach().clone()
    with torch.no_grad():
        model(torch.rand(5, 6) * 5)
    assert torch.equal(w.detach(), w1)


def test_default_layers_follow_the_encoder() -> None:
    rate = build({**MLP, "encoder": "rate"}, (6,), 3)
    assert attach_stdp(rate).layer_names == ["body.1", "body.3"]  # rate input is spikes
    direct = build(MLP, (6,), 3)
    with pytest.raises(ConfigError, match="stem"):
        attach_stdp(direct, layers=["stem.1"])
    with pytest.raises(ConfigError, match=r"Linear or nn\.Conv2d"):
        attach_stdp(direct, layers=["body.0"])


def test_enable_switches() -> None:
    model = mlp()
    ctrl = attach_stdp(model, STDPRule(lr=0.05))
    w = weight(model, "body.1.module")
    x = torch.rand(5, 6) * 5

    def changes() -> bool:
        w0 = w.detach().clone()
        with torch.no_grad():
            model(x)
        return not torch.equal(w.detach(), w0)

    ctrl.set_enabled(False)
    assert not changes()
    ctrl.set_enabled(True)
    ctrl.set_enabled(False, layer="body.1")
    assert not changes()
    ctrl.set_enabled(True, layer="body.1")
    assert changes()
    with pytest.raises(ConfigError, match="not a plastic layer"):
        ctrl.set_enabled(True, layer="body.0")


def test_deepcopy_learns_on_its_own_weights() -> None:
    model = mlp()
    attach_stdp(model, STDPRule(lr=0.05))
    twin = copy.deepcopy(model)
    w0 = weight(model, "body.1.module").detach().clone()
    with torch.no_grad():
        twin(torch.rand(5, 6) * 5)
    assert torch.equal(weight(model, "body.1.module").detach(), w0)
    assert not torch.equal(weight(twin, "body.1.module").detach(), w0)


# --------------------------------------------------------------------- online learning
class DelayedWTA(BaseNeuron):
    """IF neurons with a one-step synaptic delay and hard winner-take-all (test-only).

    ``v[t] = v[t-1] + x[t-1]``; among the neurons above threshold only the one with the largest
    membrane spikes, and then every membrane of the layer resets to 0 (lateral inhibition). The
    delay makes an input volley at step t cause a post spike at t + 1, a causal pre -> post pair.
    """

    def multi_step(self, x_seq: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        out = torch.zeros_like(x_seq)
        delayed = torch.zeros_like(v)
        for t in range(x_seq.shape[0]):
            v = v + delayed
            delayed = x_seq[t]
            fire = (v > self.threshold).any(-1, keepdim=True)
            s = torch.zeros_like(v).scatter(-1, v.argmax(-1, keepdim=True), 1.0) * fire
            out[t] = s
            v = torch.where(fire, torch.zeros_like(v), v)
        return out, v


def test_online_stdp_makes_two_neurons_selective() -> None:
    """Patterns A (inputs 0-9) and B (10-19) alternate; each presentation is 8 steps: the
    pattern's inputs fire at step 0 (probability 0.9 each), every input fires at random with
    probability 0.02 per step (noise). STDP with L1 normalisation (each neuron's incoming weights
    sum to 10) and winner-take-all must make one neuron prefer A and the other B."""
    g = torch.Generator().manual_seed(0)
    n_in, T = 20, 8
    masks = {"A": torch.arange(n_in) < 10, "B": torch.arange(n_in) >= 10}
    net = nn.Sequential(td_linear(n_in, 2, bias=False), DelayedWTA(threshold=2.5))
    w = weight(net)
    with torch.no_grad():
        w.copy_(torch.rand(2, n_in, generator=g) * 0.4 + 0.3)
    rule = STDPRule(lr=0.05, w_min=0.0, w_max=1.0)
    ctrl = attach_stdp(net, rule, layers=["0"], normalize="l1", norm_target=10.0)

    def selectivity() -> Tensor:
        """(drive by A - drive by B) / (sum) per neuron, from the weights."""
        a, b = w[:, masks["A"]].sum(1), w[:, masks["B"]].sum(1)
        return (a - b) / (a + b)

    assert selectivity().abs().max() < 0.3  # not selective before learning
    converged_at = None
    with torch.no_grad():
        for n in range(200):
            mask = masks["A" if n % 2 == 0 else "B"]
            x = (torch.rand(T, 1, n_in, generator=g) < 0.02).float()
            x[0, 0] = torch.maximum(x[0, 0], (torch.rand(n_in, generator=g) < 0.9) & mask)
            reset_net(net)
            net(x)
            sel = selectivity()
            if sel.abs().min() > 0.8 and sel[0] * sel[1] < 0:
                converged_at = n + 1
                break
    assert converged_at is not None and converged_at <= 200
    assert w.min() >= 0 and w.max() <= 1

    # responses to the clean patterns, learning off: each neuron answers one pattern only
    ctrl.set_enabled(False)
    w_frozen = w.detach().clone()
    spikes = {}
    with torch.no_grad():
        for name, mask in masks.items():
            x = torch.zeros(T, 1, n_in)
            x[0, 0] = mask.float()
            reset_net(net)
            spikes[name] = net(x).sum((0, 1))  # spikes per neuron
    assert torch.equal(w.detach(), w_frozen)
    pref_a = int(spikes["A"].argmax())
    assert spikes["A"][pref_a] == 1 and spikes["A"][1 - pref_a] == 0
    assert spikes["B"][1 - pref_a] == 1 and spikes["B"][pref_a] == 0
    # and the membrane drive separates by a clear margin
    drive = {k: w.detach() @ m.float() for k, m in masks.items()}
    assert drive["A"][pref_a] - drive["B"][pref_a] > 5.0
    assert drive["B"][1 - pref_a] - drive["A"][1 - pref_a] > 5.0
