r"""Input encoders: turn a static input ``[B, ...]`` into a time-major sequence ``[T, B, ...]``.

Each encoder states what it does to signed inputs (:attr:`Encoder.signed_inputs`, also written
into the model card) and the range it reads (:attr:`Encoder.domain`);
:func:`clipped_fraction` measures how much of a data set falls outside it, which the search
records and logs instead of clipping silently.

* ``direct`` (a.k.a. ``repeat``): the real-valued input at every step; signed values pass
  unchanged as input currents. The first synaptic layer then sees real values and is counted as
  MACs by the energy model.
* ``rate`` (Poisson/Bernoulli): at each step a spike with probability ``clamp(x, 0, 1)``.
  Negative inputs are silence, inputs above 1 fire at every step. In training mode each call
  draws fresh Bernoulli spikes; in eval mode the draw is replaced by a fixed dither pattern
  :math:`u_{t,i} = \mathrm{frac}(0.5 + t\varphi + i\psi)` (golden-ratio steps over time, another
  irrational step over the inputs): spike when :math:`u_{t,i} < p_i`. Every input then fires
  :math:`\approx p_i T` times, evenly spread, the same on every call — so evaluation is
  reproducible and the TorchScript and ONNX exports compute the same spikes as the model.
* ``latency`` (time-to-first-spike): one spike per input at step
  :math:`t = \mathrm{round}((1 - x)(T - 1))`, larger inputs earlier; ``x <= 0`` never fires,
  inputs above 1 fire at step 0.
* ``signed_rate`` and ``signed_latency`` (two polarities, as an event camera's ON/OFF
  channels): the positive part :math:`\max(x, 0)` and the negative part :math:`\max(-x, 0)` are
  each coded as by ``rate``/``latency`` on channels of their own, stacked on the first axis of a
  sample (``(F,) → (2F,)``, ``(C, H, W) → (2C, H, W)``). A negative input is not lost; magnitudes
  above 1 saturate.

Add an encoder by writing a class here and one line in :data:`ENCODERS`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor, nn

from snn_models.errors import ConfigError

#: Dither steps of the eval-mode rate code: over time (golden ratio) and over the inputs.
_PHI = (math.sqrt(5.0) - 1.0) / 2.0
_PSI = math.sqrt(2.0) - 1.0


class Encoder(nn.Module):
    """Base class: ``forward(x [B, ...]) -> [T, B, ...]``.

    Attributes:
        domain: the input range the code reads, ``(low, high)``; values outside are clipped to
            it (``None``: any real value, nothing clipped).
        signed_inputs: one sentence on what the encoder does with negative inputs.
        polarities: channels per input channel in the output (2 for the two-polarity codes).
    """

    domain: ClassVar[tuple[float, float] | None] = None
    signed_inputs: ClassVar[str] = "passed unchanged"
    polarities: ClassVar[int] = 1

    def __init__(self, timesteps: int) -> None:
        super().__init__()
        if not isinstance(timesteps, int) or timesteps < 1:
            raise ConfigError(f"timesteps must be a positive integer, got {timesteps!r}")
        self.timesteps = timesteps

    def extra_repr(self) -> str:
        return f"timesteps={self.timesteps}"


class DirectEncoder(Encoder):
    """Repeat the real-valued input at every time step."""

    signed_inputs: ClassVar[str] = "passed unchanged: a negative value is a negative input current"

    def forward(self, x: Tensor) -> Tensor:
        return x.unsqueeze(0).expand(self.timesteps, *x.shape)


def _dither(x: Tensor, timesteps: int) -> Tensor:
    """The eval-mode threshold pattern ``[T, 1, *x.shape[1:]]`` in [0, 1) (module docstring)."""
    n = x[0].numel()
    t = torch.arange(timesteps, dtype=torch.float64, device=x.device).unsqueeze(1)
    i = torch.arange(n, dtype=torch.float64, device=x.device).unsqueeze(0)
    u = t * _PHI + i * _PSI + 0.5
    u = u - torch.floor(u)
    return u.to(x.dtype).reshape(timesteps, 1, *x.shape[1:])


def _rate(x: Tensor, timesteps: int, training: bool) -> Tensor:
    p = x.clamp(0, 1)
    if training:
        return torch.bernoulli(p.unsqueeze(0).expand(timesteps, *x.shape))
    return (_dither(x, timesteps) < p.unsqueeze(0)).to(x.dtype)


def _latency(x: Tensor, timesteps: int) -> Tensor:
    T = timesteps
    t_fire = torch.round((1 - x.clamp(0, 1)) * (T - 1)).long()
    steps = torch.arange(T, device=x.device).view(T, *([1] * x.dim()))
    return ((steps == t_fire.unsqueeze(0)) & (x > 0).unsqueeze(0)).to(x.dtype)


class RateEncoder(Encoder):
    """Spikes with probability ``clamp(x, 0, 1)`` at every step: fresh Bernoulli draws in
    training, a fixed dither pattern in eval mode (deterministic; exported as is)."""

    domain: ClassVar[tuple[float, float] | None] = (0.0, 1.0)
    signed_inputs: ClassVar[str] = (
        "clipped to [0, 1]: a negative value is silence, a value above 1 fires at every step"
    )

    def forward(self, x: Tensor) -> Tensor:
        return _rate(x, self.timesteps, self.training)


class LatencyEncoder(Encoder):
    """One spike per input, earlier for larger values; inputs are expected in [0, 1]."""

    domain: ClassVar[tuple[float, float] | None] = (0.0, 1.0)
    signed_inputs: ClassVar[str] = (
        "clipped to [0, 1]: a value <= 0 never fires, a value above 1 fires at step 0"
    )

    def forward(self, x: Tensor) -> Tensor:
        return _latency(x, self.timesteps)


class SignedRateEncoder(RateEncoder):
    """Two-polarity rate code: ``rate(max(x, 0))`` and ``rate(max(-x, 0))`` on separate
    channels (the first axis of a sample doubles)."""

    domain: ClassVar[tuple[float, float] | None] = (-1.0, 1.0)
    signed_inputs: ClassVar[str] = (
        "split into two polarities: max(x, 0) and max(-x, 0) are rate-coded on channels of "
        "their own; magnitudes above 1 fire at every step"
    )
    polarities: ClassVar[int] = 2

    def forward(self, x: Tensor) -> Tensor:
        both = torch.cat([x.clamp(min=0), (-x).clamp(min=0)], dim=1)
        return _rate(both, self.timesteps, self.training)


class SignedLatencyEncoder(LatencyEncoder):
    """Two-polarity latency code: ``latency(max(x, 0))`` and ``latency(max(-x, 0))`` on separate
    channels (the first axis of a sample doubles)."""

    domain: ClassVar[tuple[float, float] | None] = (-1.0, 1.0)
    signed_inputs: ClassVar[str] = (
        "split into two polarities: max(x, 0) and max(-x, 0) are latency-coded on channels of "
        "their own; magnitudes above 1 fire at step 0"
    )
    polarities: ClassVar[int] = 2

    def forward(self, x: Tensor) -> Tensor:
        return _latency(torch.cat([x.clamp(min=0), (-x).clamp(min=0)], dim=1), self.timesteps)


ENCODERS: dict[str, type[Encoder]] = {
    "direct": DirectEncoder,
    "repeat": DirectEncoder,
    "rate": RateEncoder,
    "latency": LatencyEncoder,
    "signed_rate": SignedRateEncoder,
    "signed_latency": SignedLatencyEncoder,
}


def make_encoder(name: str, timesteps: int) -> Encoder:
    """Build an encoder by name."""
    try:
        cls = ENCODERS[name]
    except KeyError:
        raise ConfigError(
            f"encoder: unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}"
        ) from None
    return cls(timesteps)


def encoded_shape(name: str, input_shape: Sequence[int]) -> tuple[int, ...]:
    """One sample's shape after encoder ``name`` (without the time axis): the two-polarity
    codes double the first axis.

    Example:
        >>> encoded_shape("signed_rate", (3, 8, 8)), encoded_shape("rate", (13,))
        ((6, 8, 8), (13,))
    """
    shape = tuple(int(d) for d in input_shape)
    cls = ENCODERS.get(name)
    if cls is None or cls.polarities == 1 or not shape:
        return shape
    return (shape[0] * cls.polarities, *shape[1:])


def clipped_fraction(name: str, x: Tensor) -> float:
    """The fraction of the values of ``x`` (as the encoder receives them) outside encoder
    ``name``'s :attr:`Encoder.domain`: what it clips. 0.0 for ``direct``.

    Example:
        >>> clipped_fraction("rate", torch.tensor([-1.0, 0.2, 0.5, 2.0]))
        0.5
        >>> clipped_fraction("direct", torch.tensor([-1.0, 2.0]))
        0.0
    """
    cls = ENCODERS.get(name)
    if cls is None or cls.domain is None or x.numel() == 0:
        return 0.0
    low, high = cls.domain
    eps = 1e-6  # float rounding of a min-max scaled maximum is not clipping
    return float(((x < low - eps) | (x > high + eps)).double().mean())


__all__ = [
    "ENCODERS",
    "DirectEncoder",
    "Encoder",
    "LatencyEncoder",
    "RateEncoder",
    "SignedLatencyEncoder",
    "SignedRateEncoder",
    "clipped_fraction",
    "encoded_shape",
    "make_encoder",
]
