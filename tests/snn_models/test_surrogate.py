from __future__ import annotations

import pytest
import torch

from snn_models.errors import ConfigError
from snn_models.surrogate import SURROGATES, make_surrogate


@pytest.mark.parametrize("name", list(SURROGATES))
def test_backward_is_the_analytic_derivative(name: str) -> None:
    sg = make_surrogate(name)
    u = torch.linspace(-2, 2, 101, dtype=torch.float64, requires_grad=True)
    spikes = sg(u)
    assert torch.equal(spikes, (u > 0).to(u.dtype))  # strict Heaviside forward
    spikes.sum().backward()
    assert u.grad is not None
    torch.testing.assert_close(u.grad, sg.grad(u.detach()))


@pytest.mark.parametrize("name", list(SURROGATES))
@pytest.mark.parametrize("alpha", [0.5, 2.0, 5.0])
def test_derivative_matches_finite_difference_of_its_primitive(name: str, alpha: float) -> None:
    sg = make_surrogate(name, alpha)
    u = torch.linspace(-3, 3, 241, dtype=torch.float64)
    for kink in (0.0, alpha):  # the triangle is not differentiable at 0 and +-alpha
        u = u[(u.abs() - kink).abs() > 1e-3]
    eps = 1e-6
    fd = (sg.primitive(u + eps) - sg.primitive(u - eps)) / (2 * eps)
    torch.testing.assert_close(sg.grad(u), fd, atol=1e-6, rtol=1e-5)
    # a smooth step: 0 far left, 1 far right
    assert float(sg.primitive(torch.tensor(-50.0, dtype=torch.float64))) == pytest.approx(
        0, abs=0.02
    )
    assert float(sg.primitive(torch.tensor(50.0, dtype=torch.float64))) == pytest.approx(
        1, abs=0.02
    )


def test_repr_shows_alpha_and_instances_are_fresh() -> None:
    a, b = make_surrogate("atan"), make_surrogate("atan")
    assert repr(a) == "ATan(alpha=2.0)"
    assert a is not b


def test_unknown_surrogate_and_bad_alpha() -> None:
    with pytest.raises(ConfigError, match="unknown surrogate 'relu'"):
        make_surrogate("relu")
    with pytest.raises(ConfigError, match="alpha"):
        make_surrogate("atan", -1.0)
