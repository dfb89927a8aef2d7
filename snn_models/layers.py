"""Time-distributed layers: run a stateless module on every time step of ``[T, B, ...]``.

The time axis is folded into the batch (``[T*B, ...]``), the module runs once, and the result is
unfolded again — one big kernel instead of T small ones. Synaptic layers (``nn.Linear``,
``nn.Conv1d/2d``) stay plain PyTorch modules inside the wrapper, so the energy meter's hooks and
any exporter see ordinary layers.
"""

from __future__ import annotations

from torch import Tensor, nn


class TimeDistributed(nn.Module):
    """Apply ``module`` to each time step of a ``[T, B, ...]`` tensor by folding T into B.

    Example:
        >>> import torch
        >>> td = TimeDistributed(nn.Linear(3, 2))
        >>> td(torch.zeros(4, 5, 3)).shape
        torch.Size([4, 5, 2])
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: Tensor) -> Tensor:
        T, B = x.shape[:2]
        y = self.module(x.flatten(0, 1))
        return y.unflatten(0, (T, B))


class Flatten(nn.Module):
    """Flatten everything after ``[T, B]``."""

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(2)


def td_linear(n_in: int, n_out: int, bias: bool = True) -> TimeDistributed:
    """A time-distributed ``nn.Linear``."""
    return TimeDistributed(nn.Linear(n_in, n_out, bias=bias))


def td_conv2d(
    c_in: int, c_out: int, kernel: int, padding: int = 0, stride: int = 1
) -> TimeDistributed:
    """A time-distributed ``nn.Conv2d`` (no bias: a BatchNorm follows it)."""
    return TimeDistributed(
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
    )


def td_batchnorm(n: int, dims: int) -> TimeDistributed:
    """A time-distributed BatchNorm over ``n`` features/channels (``dims`` = 1 or 2)."""
    return TimeDistributed(nn.BatchNorm1d(n) if dims == 1 else nn.BatchNorm2d(n))


def td_maxpool(kernel: int = 2) -> TimeDistributed:
    """A time-distributed 2-D max pool (max of spikes is a spike: no synaptic cost)."""
    return TimeDistributed(nn.MaxPool2d(kernel))


def td_avgpool(kernel: int = 2) -> TimeDistributed:
    """A time-distributed 2-D average pool."""
    return TimeDistributed(nn.AvgPool2d(kernel))
