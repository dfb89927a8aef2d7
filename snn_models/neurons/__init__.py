"""Spiking neurons. Add one by writing a module here and one line in :data:`NEURONS`."""

from __future__ import annotations

from typing import Any

from snn_models.errors import ConfigError
from snn_models.neurons.adaptive import AdaptiveNode
from snn_models.neurons.base import RUNAWAY_RATE, SILENT_RATE, BaseNeuron
from snn_models.neurons.bif import BIFNode
from snn_models.neurons.if_lif import IFNode, LIFNode

NEURONS: dict[str, type[BaseNeuron]] = {
    "if": IFNode,
    "lif": LIFNode,
    "bif": BIFNode,
    "adaptive": AdaptiveNode,
}


def make_neuron(kind: str, where: str = "neuron", **kwargs: Any) -> BaseNeuron:
    """Build a neuron by name; ``where`` names the config key in error messages."""
    try:
        cls = NEURONS[kind]
    except KeyError:
        raise ConfigError(
            f"{where}: unknown neuron type {kind!r}; choose one of {', '.join(NEURONS)}"
        ) from None
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"{where}: bad argument for {kind!r} neuron ({e})") from None


__all__ = [
    "NEURONS",
    "RUNAWAY_RATE",
    "SILENT_RATE",
    "AdaptiveNode",
    "BIFNode",
    "BaseNeuron",
    "IFNode",
    "LIFNode",
    "make_neuron",
]
