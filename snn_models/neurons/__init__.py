"""Spiking neurons. Add one by writing a module here and one line in :data:`NEURONS`.

A neuron class declares the constructor arguments a search may set per layer in its
``search_args`` (see :class:`BaseNeuron`); :func:`neuron_arg_names` is their union.
"""

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


def neuron_arg_names() -> frozenset[str]:
    """Every neuron constructor argument a search may set per layer: the union of
    ``search_args`` over :data:`NEURONS`.

    A flat search-space key ``layer.<i>.<name>`` whose ``name`` is in this set (and is not a
    :class:`~snn_models.config.LayerSpec` field) goes to that layer's ``neuron_args``.

    Example:
        >>> sorted(neuron_arg_names())[:3]
        ['a0', 'init_noise', 'soft_reset']
    """
    return frozenset(name for cls in NEURONS.values() for name in cls.search_args)


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
    "neuron_arg_names",
]
