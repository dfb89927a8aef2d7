"""Neuron behaviour against references written straight from the equations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snn_models import ConfigError, make_neuron
from snn_models.neurons import BIFNode, IFNode, LIFNode


def reference_lif(
    x: np.ndarray, beta: float, theta: float, v_reset: float, soft: bool
) -> np.ndarray:
    """Plain loop: v = beta v + x; s = (v > theta); hard reset to v_reset or subtract theta."""
    v = np.zeros(x.shape[1:], dtype=np.float64)
    out = np.zeros_like(x, dtype=np.float64)
    for t in range(x.shape[0]):
        v = beta * v + x[t]
        s = (v > theta).astype(np.float64)
        out[t] = s
        v = v - theta * s if soft else np.where(s > 0, v_reset, v)
    return out


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize(("cls", "beta"), [(IFNode, 1.0), (LIFNode, 0.75)])
def test_if_lif_spikes_equal_plain_reference(cls: type, beta: float, soft: bool) -> None:
    x = torch.randn(20, 4, 50, dtype=torch.float64) * 0.7 + 0.2
    kw = {"threshold": 0.9, "v_reset": 0.0, "soft_reset": soft}
    if cls is LIFNode:
        kw["decay"] = beta
    neuron = cls(**kw).double()
    got = neuron(x).numpy()
    want = reference_lif(x.numpy(), beta, 0.9, 0.0, soft)
    assert got.sum() > 0
    np.testing.assert_array_equal(got, want)


def test_threshold_is_strict() -> None:
    n = IFNode(threshold=1.0)
    assert n(torch.tensor([[1.0]])).item() == 0.0  # H(0) = 0
    n.reset()
    assert n(torch.tensor([[1.0 + 1e-6]])).item() == 1.0


def test_lif_tau_sets_decay() -> None:
    assert LIFNode(tau=4.0).decay == pytest.approx(0.75)
    with pytest.raises(ConfigError, match="decay"):
        LIFNode(decay=1.5)


def test_bif_bistable_single_kick_gives_sustained_firing() -> None:
    bif = BIFNode(v_c=0.5, v_reset=0.6, threshold=1.0).eval()
    assert bif.is_bistable
    x = torch.zeros(200, 1, 1)
    x[0] = 3.0  # one kick, then nothing
    s = bif(x).flatten()
    assert s[0] == 1.0
    late = s[100:]
    assert late.sum() >= 5, "a bistable BIF must keep firing with zero input"
    gaps = torch.diff(torch.nonzero(late).flatten())
    assert gaps.unique().numel() <= 2, "the self-sustained firing is periodic"


def test_bif_monostable_returns_to_rest_after_kick() -> None:
    bif = BIFNode(v_c=0.5, v_reset=0.3, threshold=1.0).eval()
    assert not bif.is_bistable
    x = torch.zeros(200, 1, 1)
    x[0] = 3.0
    s = bif(x).flatten()
    assert s[0] == 1.0 and s[1:].sum() == 0
    assert abs(float(bif.v)) < 1e-3, "below the unstable point the membrane relaxes to v_rest = 0"


def test_bif_without_input_stays_at_rest_or_ridge() -> None:
    rest = BIFNode().eval()
    x = torch.zeros(50, 2, 3)
    assert rest(x).sum() == 0  # starts exactly at v_c (eval): an equilibrium, no input, no spike


def test_bif_training_init_is_noisy_near_the_unstable_point() -> None:
    bif = BIFNode(init_noise=0.01).train()
    v0 = bif.initial_v(torch.zeros(10_000))
    assert abs(float(v0.mean()) - 0.5) < 1e-3
    assert 0.005 < float(v0.std()) < 0.02


def test_bif_clamps_membrane() -> None:
    bif = BIFNode(v_min=-1.0, v_max=2.0).eval()
    bif(torch.full((3, 1, 4), -100.0))
    assert float(bif.v.min()) >= -1.0


@pytest.mark.parametrize(
    "kwargs",
    [{"v_c": 1.2}, {"v_reset": 1.5}, {"v_rest": 0.6}, {"tau": 0.0}, {"v_max": 0.9}],
)
def test_bif_rejects_inconsistent_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        BIFNode(**kwargs)


def test_health_monitor_flags_runaway_and_silence() -> None:
    n = IFNode(threshold=0.5)
    n(torch.ones(10, 2, 8))
    assert n.health() == "runaway"
    n.reset()
    n(torch.zeros(10, 2, 8))
    assert n.health() == "silent"
    n.reset()
    x = torch.zeros(10, 2, 8)
    x[::3] = 1.0
    n(x)
    assert n.health() == "ok"


def test_unknown_neuron_type_names_the_choices() -> None:
    with pytest.raises(
        ConfigError, match=r"layers\[0\]\.neuron: unknown neuron type 'alif'.*if, lif, bif"
    ):
        make_neuron("alif", where="layers[0].neuron")
