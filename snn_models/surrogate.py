r"""Surrogate gradients for the Heaviside spike function.

The forward pass is always the strict step :math:`H(u) = 1` if :math:`u > 0` else 0 (so
:math:`H(0) = 0`, as in snnTorch, Norse and NIR). The backward pass replaces the Dirac delta by a
smooth derivative :math:`\sigma'(u)` chosen here.

Every surrogate is a small module holding its own shape parameter (shown in ``repr``), with

* ``grad(u)``: the analytic surrogate derivative, used by the fused multi-step neuron kernels;
* ``forward(u)``: spikes with that derivative attached, for single-step (plain autograd) use.

Add a surrogate by writing one class and adding one line to :data:`SURROGATES`.

Example:
    >>> import torch
    >>> sg = ATan(alpha=2.0)
    >>> u = torch.tensor([-1.0, 0.0, 0.5], requires_grad=True)
    >>> sg(u)
    tensor([0., 0., 1.], grad_fn=<_SpikeFnBackward>)
    >>> sg
    ATan(alpha=2.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from snn_models.errors import ConfigError


class _SpikeFn(torch.autograd.Function):
    """Heaviside forward, ``surrogate.grad`` backward."""

    @staticmethod
    def forward(ctx: Any, u: Tensor, surrogate: Surrogate) -> Tensor:
        ctx.save_for_backward(u)
        ctx.surrogate = surrogate
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor, None]:
        (u,) = ctx.saved_tensors
        return grad_out * ctx.surrogate.grad(u), None


class Surrogate(nn.Module):
    """Base class: a Heaviside step whose backward pass is :meth:`grad`."""

    alpha: float

    def __init__(self, alpha: float) -> None:
        super().__init__()
        if not alpha > 0:
            raise ConfigError(f"surrogate alpha must be > 0, got {alpha}")
        self.alpha = float(alpha)

    def grad(self, u: Tensor) -> Tensor:  # pragma: no cover - abstract
        """Surrogate derivative dH/du evaluated at ``u``."""
        raise NotImplementedError

    def primitive(self, u: Tensor) -> Tensor:  # pragma: no cover - abstract
        """The smooth step whose derivative is :meth:`grad` (used to check it)."""
        raise NotImplementedError

    def grad_(self, u: Tensor) -> Tensor:
        """:meth:`grad`, overwriting ``u`` where a subclass can (the fused kernels' hot path)."""
        return self.grad(u)

    def forward(self, u: Tensor) -> Tensor:
        if not (torch.is_grad_enabled() and u.requires_grad):
            # no backward will run: the same Heaviside as plain ops (traceable, exportable)
            return (u > 0).to(u.dtype)
        return _SpikeFn.apply(u, self)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class ATan(Surrogate):
    r"""Arc-tangent surrogate (Fang et al. 2021), the default.

    .. math:: \sigma'(u) = \frac{\alpha/2}{1 + (\frac{\pi}{2}\alpha u)^2}

    Args:
        alpha: sharpness; larger is closer to the true step. Default 2.0.
    """

    def __init__(self, alpha: float = 2.0) -> None:
        super().__init__(alpha)

    def grad(self, u: Tensor) -> Tensor:
        a = self.alpha
        return (a / 2) / (1 + (math.pi / 2 * a * u).square())

    def primitive(self, u: Tensor) -> Tensor:
        return torch.atan(math.pi / 2 * self.alpha * u) / math.pi + 0.5

    def grad_(self, u: Tensor) -> Tensor:
        a = self.alpha
        return u.mul_(math.pi / 2 * a).square_().add_(1).reciprocal_().mul_(a / 2)


class Sigmoid(Surrogate):
    r"""Logistic surrogate: the derivative of :math:`s(\alpha u)`.

    .. math:: \sigma'(u) = \alpha\, s(\alpha u)\,(1 - s(\alpha u))

    Args:
        alpha: slope. Default 4.0.
    """

    def __init__(self, alpha: float = 4.0) -> None:
        super().__init__(alpha)

    def grad(self, u: Tensor) -> Tensor:
        s = torch.sigmoid(self.alpha * u)
        return self.alpha * s * (1 - s)

    def primitive(self, u: Tensor) -> Tensor:
        return torch.sigmoid(self.alpha * u)

    def grad_(self, u: Tensor) -> Tensor:
        s = u.mul_(self.alpha).sigmoid_()
        return s.sub_(s.square()).mul_(self.alpha)


class Triangle(Surrogate):
    r"""Triangular (piecewise-linear) surrogate of unit area and half-width ``alpha``.

    .. math:: \sigma'(u) = \frac{1}{\alpha}\max\!\left(0,\ 1 - \frac{|u|}{\alpha}\right)

    Args:
        alpha: half-width of the support. Default 1.0.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__(alpha)

    def grad(self, u: Tensor) -> Tensor:
        a = self.alpha
        return (1 - u.abs() / a).clamp_(min=0) / a

    def primitive(self, u: Tensor) -> Tensor:
        a = self.alpha
        z = (u / a).clamp(-1, 1)
        return 0.5 + z - z * z.abs() / 2

    def grad_(self, u: Tensor) -> Tensor:
        a = self.alpha
        return u.abs_().div_(-a).add_(1).clamp_(min=0).div_(a)


SURROGATES: dict[str, Callable[..., Surrogate]] = {
    "atan": ATan,
    "sigmoid": Sigmoid,
    "triangle": Triangle,
}


def make_surrogate(name: str, alpha: float | None = None) -> Surrogate:
    """Build a fresh surrogate by name (never a shared instance)."""
    try:
        cls = SURROGATES[name]
    except KeyError:
        raise ConfigError(
            f"unknown surrogate {name!r}; choose one of {', '.join(SURROGATES)}"
        ) from None
    return cls() if alpha is None else cls(alpha)
