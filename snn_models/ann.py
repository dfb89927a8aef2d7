"""ANN twins: the same topology as a spiking network, with analog activations.

The twin of a spec is built by the same :func:`~snn_models.architectures.build` from the spec with
one time step, direct encoding, a membrane readout and the layer settings its kind overrides
(:attr:`snn_models.kinds.Kind.twin_layer`: in a transformer, ``standard`` softmax attention in
every block); then every spiking neuron is swapped for an :class:`Analog` activation (the kind's
:attr:`~snn_models.kinds.Kind.ann_activation`: ReLU for MLP/CNN, GELU for the transformer). So module names, layer shapes and BatchNorms match
the spiking network's: a twin is a distillation teacher, the baseline of the SNN-vs-ANN table,
and the source network of ANN→SNN conversion (:mod:`snn_models.conversion`).

Example:
    >>> import torch
    >>> spec = {"kind": "mlp", "timesteps": 4, "layers": [{"width": 32, "neuron": "bif"}]}
    >>> ann = build_ann(spec, (64,), 10)
    >>> ann.timesteps, type(ann.body[0]).__name__
    (1, 'Analog')
    >>> ann(torch.rand(5, 64)).shape
    torch.Size([5, 10])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn
from torch.nn import functional as F

from snn_models.architectures import SpikingNet, build
from snn_models.config import NetSpec
from snn_models.errors import ConfigError
from snn_models.kinds import KINDS
from snn_models.neurons.base import BaseNeuron

ACTIVATIONS = ("relu", "gelu")


class Analog(nn.Module):
    """A stateless activation where a spiking neuron was: ``relu(x)`` or ``gelu(x)``.

    It keeps the neuron's slot (and so every module name) in the network; input and output are
    real-valued and of any shape.
    """

    def __init__(self, activation: str = "relu") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ConfigError(
                f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}"
            )
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x) if self.activation == "relu" else F.gelu(x)

    def extra_repr(self) -> str:
        return self.activation


def twin_spec(spec: NetSpec | Mapping[str, Any]) -> NetSpec:
    """The spec the ANN twin is built from: one step, direct encoding, membrane readout,
    plain IF placeholders for the neurons, and the layer settings the kind overrides
    (:attr:`~snn_models.kinds.Kind.twin_layer`: softmax attention in every transformer block)."""
    spec = NetSpec.from_dict(spec)
    overrides = KINDS[spec.kind].twin_layer
    layers = tuple(
        dataclasses.replace(
            layer,
            neuron="if",
            threshold=None,
            decay=None,
            learn_threshold=False,
            learn_decay=False,
            neuron_args={},
            **overrides,
        )
        for layer in spec.layers
    )
    return dataclasses.replace(
        spec, layers=layers, timesteps=1, encoder="direct", readout="membrane"
    )


def default_activation(spec: NetSpec) -> str:
    """The activation of ``spec``'s ANN twin: its kind's
    :attr:`~snn_models.kinds.Kind.ann_activation`."""
    return KINDS[spec.kind].ann_activation


def to_analog(model: nn.Module, activation: str) -> nn.Module:
    """Replace every spiking neuron inside ``model`` by :class:`Analog` (in place); returns it."""
    for name, child in list(model.named_children()):
        if isinstance(child, BaseNeuron):
            setattr(model, name, Analog(activation))
        else:
            to_analog(child, activation)
    return model


def build_ann(
    spec: NetSpec | Mapping[str, Any],
    input_shape: Sequence[int],
    n_classes: int,
    *,
    activation: str | None = None,
) -> SpikingNet:
    """The ANN twin of ``spec`` (see the module docstring).

    Args:
        activation: ``relu`` or ``gelu``; default: :func:`default_activation` (ReLU for MLP/CNN,
            GELU for a transformer).
    """
    tspec = twin_spec(spec)
    net = build(tspec, input_shape, n_classes)
    to_analog(net, activation or default_activation(tspec))
    return net


def is_ann(model: nn.Module) -> bool:
    """True when ``model`` has no spiking neuron left."""
    return not any(isinstance(m, BaseNeuron) for m in model.modules())
