"""Zero-cost proxies (snn_models.proxies): the SAHD kernel, determinism, dead networks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from evolve.data.datasets import load_digits
from snn_models import ConfigError, NetSpec, build
from snn_models.proxies import PROXIES, grad_score, proxy_score, sahd_kernel


@pytest.fixture(scope="module")
def batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    data = load_digits(seed=0)
    x, y = data.train.x[:128], data.train.y[:128]
    return [(x[:64], y[:64]), (x[64:], y[64:])]


def _net(
    threshold: float = 1.0, neuron: str = "lif", kind: str = "mlp", seed: int = 0
) -> nn.Module:
    layers = [{"width": 64, "neuron": neuron, "threshold": threshold}] * 2
    spec = NetSpec.from_dict({"kind": kind, "layers": layers, "timesteps": 4})
    torch.manual_seed(seed)
    return build(spec, (1, 8, 8), 10)


def test_kernel_of_identical_and_independent_codes() -> None:
    """Identical codes give N everywhere; independent codes at rate r give about N/2 off the
    diagonal whatever r is (the sparsity-aware rescaling), N on it."""
    n = 4000
    same = torch.zeros(8, n)
    same[:, :100] = 1
    assert torch.allclose(sahd_kernel([same]), torch.full((8, 8), float(n), dtype=torch.float64))
    g = torch.Generator().manual_seed(0)
    for rate in (0.05, 0.5):
        codes = (torch.rand(8, n, generator=g) < rate).float()
        k = sahd_kernel([codes])
        off = k[~torch.eye(8, dtype=torch.bool)]
        assert torch.allclose(k.diagonal(), torch.full((8,), float(n), dtype=torch.float64))
        assert off.min() > 0.45 * n and off.max() < 0.56 * n, (rate, off.min(), off.max())


@pytest.mark.parametrize("name", list(PROXIES))
def test_scores_are_deterministic_and_leave_the_random_state_alone(
    name: str, batches: list[tuple[torch.Tensor, torch.Tensor]]
) -> None:
    net = _net()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = proxy_score(name, net, batches, seed=0)
    assert torch.equal(torch.get_rng_state(), state)
    assert proxy_score(name, net, batches, seed=0) == a
    assert math.isfinite(a)
    assert net.training  # the mode is restored (built in training mode)


@pytest.mark.parametrize("name", list(PROXIES))
def test_a_network_that_never_spikes_scores_lowest(
    name: str, batches: list[tuple[torch.Tensor, torch.Tensor]]
) -> None:
    """Threshold 1000: no unit ever fires, every spike code is the same; it must rank below
    networks that spike, and stay a finite number."""
    live = [proxy_score(name, _net(t, seed=s), batches) for t in (0.75, 1.0, 1.5) for s in (0, 1)]
    dead = proxy_score(name, _net(1000.0), batches)
    assert math.isfinite(dead)
    assert dead < min(live) - 1.0, (dead, live)


@pytest.mark.parametrize(
    ("neuron", "kind"), [("if", "mlp"), ("bif", "mlp"), ("adaptive", "mlp"), ("lif", "cnn")]
)
def test_scores_are_finite_across_neurons_and_kinds(
    neuron: str, kind: str, batches: list[tuple[torch.Tensor, torch.Tensor]]
) -> None:
    net = _net(neuron=neuron, kind=kind)
    for name in PROXIES:
        assert math.isfinite(proxy_score(name, net, batches)), name


def test_grad_score_leaves_the_gradients_as_they_were(
    batches: list[tuple[torch.Tensor, torch.Tensor]],
) -> None:
    net = _net()
    first = next(net.parameters())
    first.grad = torch.ones_like(first)
    grad_score(net, batches)
    assert torch.equal(first.grad, torch.ones_like(first))
    assert all(p.grad is None for p in list(net.parameters())[1:])


def test_bad_input_is_a_config_error(batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    with pytest.raises(ConfigError, match="unknown proxy 'naswot'; choose from sahd, grad"):
        proxy_score("naswot", _net(), batches)
    with pytest.raises(ConfigError, match="no spiking layers"):
        proxy_score("sahd", nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), batches)
    with pytest.raises(ConfigError, match="at least one mini-batch"):
        proxy_score("grad", _net(), [])
