"""``kind: mlp``: a spiking multi-layer perceptron (any input shape, flattened).

Each hidden layer is a time-distributed ``nn.Linear`` (no bias when a BatchNorm follows), an
optional BatchNorm, the layer's spiking neuron and an optional dropout on its spikes. With
``direct`` or ``repeat`` encoding the first linear layer (and its BatchNorm) is the stem, run once
on the static input (see :mod:`snn_models.network`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from torch import nn

from snn_models.encoders import encoded_shape
from snn_models.layers import Flatten, TimeDistributed, td_batchnorm, td_linear
from snn_models.network import SpikingNet, layer_neuron, layer_width, spiking_net

if TYPE_CHECKING:
    from snn_models.config import NetSpec


def mlp_layers(spec: NetSpec, n_in: int) -> tuple[list[nn.Module], int]:
    """The hidden layers of an MLP reading ``n_in`` features, and the width of the last one."""
    mods: list[nn.Module] = [Flatten()]
    width = n_in
    for i in range(len(spec.layers)):
        n_out = layer_width(spec, i)
        mods.append(td_linear(width, n_out, bias=not spec.use_batchnorm))
        if spec.use_batchnorm:
            mods.append(td_batchnorm(n_out, dims=1))
        mods.append(layer_neuron(spec, i))
        if spec.dropout > 0:
            mods.append(TimeDistributed(nn.Dropout(spec.dropout)))
        width = n_out
    return mods, width


def build_mlp(spec: NetSpec, input_shape: tuple[int, ...], n_classes: int) -> SpikingNet:
    """A spiking MLP for inputs of any ``input_shape`` (flattened to ``prod(input_shape)``)."""
    body, width = mlp_layers(spec, math.prod(encoded_shape(spec.encoder, input_shape)))
    return spiking_net(spec, None, body, width, n_classes)


def reference_spec(width: int, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """The reference MLP of ``width`` (two hidden layers), e.g. a distillation teacher."""
    return {"kind": "mlp", "layers": [{"width": width}, {"width": width}]}
