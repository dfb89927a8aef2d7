"""Every attention type in ATTENTIONS meets the same contract: shape, gradients, counted energy."""

from __future__ import annotations

import math

import pytest
import torch

from snn_models.attention import ATTENTIONS, make_attention
from snn_models.energy import EnergyMeter

T, B, N, D = 3, 2, 5, 8


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("kind", sorted(ATTENTIONS))
def test_shape_and_gradients(kind: str) -> None:
    block = make_attention(kind, D, heads=2)
    x = (torch.rand(T, B, N, D) > 0.5).float().requires_grad_()
    y = block(x)
    assert y.shape == (T, B, N, D) and bool(torch.isfinite(y).all())
    y.sum().backward()
    grads = [p.grad for p in block.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


@pytest.mark.parametrize("kind", sorted(ATTENTIONS))
def test_eval_is_deterministic_and_energy_is_counted(kind: str) -> None:
    block = make_attention(kind, D, heads=2).eval()
    x = (torch.rand(T, B, N, D) > 0.3).float()
    with torch.no_grad():
        first = block(x)
        for m in block.modules():
            if hasattr(m, "reset") and m is not block:
                m.reset()
        assert torch.equal(first, block(x))
    with EnergyMeter(block) as meter, torch.no_grad():
        block(x)
        meter.add_samples(B)
    report = meter.report()
    assert math.isfinite(report.energy_uj) and report.energy_uj > 0
    linears = {name for name, m in block.named_modules() if isinstance(m, torch.nn.Linear)}
    internal = [layer for layer in report.layers if layer.name not in linears]
    assert internal, "the attention's own products have rows in the report"
