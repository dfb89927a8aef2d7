r"""Input encoders: turn a static input ``[B, ...]`` into a time-major sequence ``[T, B, ...]``.

* ``direct`` (a.k.a. repeat): the real-valued input at every step. The first synaptic layer then
  sees real values and is counted as MACs by the energy model.
* ``rate`` (Poisson/Bernoulli): at each step a spike with probability ``x`` (inputs in [0, 1]).
* ``latency`` (time-to-first-spike): one spike per input at step
  :math:`t = \mathrm{round}((1 - x)(T - 1))`; larger inputs fire earlier; ``x <= 0`` never fires.

Add an encoder by writing a class here and one line in :data:`ENCODERS`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from snn_models.errors import ConfigError


class Encoder(nn.Module):
    """Base class: ``forward(x [B, ...]) -> [T, B, ...]``."""

    def __init__(self, timesteps: int) -> None:
        super().__init__()
        if not isinstance(timesteps, int) or timesteps < 1:
            raise ConfigError(f"timesteps must be a positive integer, got {timesteps!r}")
        self.timesteps = timesteps

    def extra_repr(self) -> str:
        return f"timesteps={self.timesteps}"


class DirectEncoder(Encoder):
    """Repeat the real-valued input at every time step."""

    def forward(self, x: Tensor) -> Tensor:
        return x.unsqueeze(0).expand(self.timesteps, *x.shape)


class RateEncoder(Encoder):
    """Bernoulli spikes with probability ``clamp(x, 0, 1)`` at every step (a fresh draw in each call)."""

    def forward(self, x: Tensor) -> Tensor:
        p = x.clamp(0, 1).unsqueeze(0).expand(self.timesteps, *x.shape)
        return torch.bernoulli(p)


class LatencyEncoder(Encoder):
    """One spike per input, earlier for larger values; inputs are expected in [0, 1]."""

    def forward(self, x: Tensor) -> Tensor:
        T = self.timesteps
        t_fire = torch.round((1 - x.clamp(0, 1)) * (T - 1)).long()
        steps = torch.arange(T, device=x.device).view(T, *([1] * x.dim()))
        return ((steps == t_fire.unsqueeze(0)) & (x > 0).unsqueeze(0)).to(x.dtype)


ENCODERS: dict[str, type[Encoder]] = {
    "direct": DirectEncoder,
    "repeat": DirectEncoder,
    "rate": RateEncoder,
    "latency": LatencyEncoder,
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
