"""Readouts: turn the output layer's sequence ``[T, B, C]`` into class scores ``[B, C]``.

* ``membrane`` (default): the output layer is a non-spiking integrator; its mean input current
  over T (the mean membrane of an IF neuron without threshold, divided by T) is the logit.
* ``spikes``: the output layer fires; the logit is its mean spike count over T (the rate code).
"""

from __future__ import annotations

from torch import Tensor, nn

from snn_models.errors import ConfigError


class MeanMembrane(nn.Module):
    """Mean over time of real-valued output currents."""

    spiking = False

    def forward(self, x: Tensor) -> Tensor:
        return x.mean(0)


class SpikeCount(nn.Module):
    """Mean over time of output spikes (firing rate per class)."""

    spiking = True

    def forward(self, x: Tensor) -> Tensor:
        return x.mean(0)


READOUTS: dict[str, type[nn.Module]] = {"membrane": MeanMembrane, "spikes": SpikeCount}


def make_readout(name: str) -> nn.Module:
    """Build a readout by name."""
    try:
        return READOUTS[name]()
    except KeyError:
        raise ConfigError(
            f"readout: unknown readout {name!r}; choose one of {', '.join(READOUTS)}"
        ) from None
