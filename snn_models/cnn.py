"""``kind: cnn``: a spiking convolutional network for images ``(C, H, W)`` or ``(H, W)``.

Each hidden layer is a time-distributed ``nn.Conv2d`` (kernel ``kernel``, same padding, no bias),
an optional BatchNorm (on by default), the layer's spiking neuron and an optional 2x2 max-pool;
the last feature maps are flattened for the output layer. With ``direct`` or ``repeat`` encoding
the first convolution (and its BatchNorm) is the stem (see :mod:`snn_models.network`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import nn

from snn_models.encoders import encoded_shape
from snn_models.errors import ConfigError
from snn_models.layers import Flatten, td_batchnorm, td_conv2d, td_maxpool
from snn_models.network import SpikingNet, layer_neuron, layer_width, spiking_net

if TYPE_CHECKING:
    from snn_models.config import NetSpec


def cnn_layers(spec: NetSpec, shape: tuple[int, int, int]) -> tuple[list[nn.Module], int]:
    """The hidden layers of a CNN reading images ``(C, H, W)``, and the flattened width of its
    last feature maps."""
    c, h, w = shape
    mods: list[nn.Module] = []
    for i, layer in enumerate(spec.layers):
        n_out = layer_width(spec, i)
        mods.append(td_conv2d(c, n_out, layer.kernel, padding=layer.kernel // 2))
        if spec.use_batchnorm:
            mods.append(td_batchnorm(n_out, dims=2))
        mods.append(layer_neuron(spec, i))
        c = n_out
        if layer.pool:
            if h < 2 or w < 2:
                raise ConfigError(
                    f"layers[{i}].pool: the feature map is already {h}x{w}; set pool: false or use fewer layers"
                )
            mods.append(td_maxpool(2))
            h, w = h // 2, w // 2
    mods.append(Flatten())
    return mods, c * h * w


def build_cnn(spec: NetSpec, input_shape: tuple[int, ...], n_classes: int) -> SpikingNet:
    """A spiking CNN for images ``(C, H, W)`` (``(H, W)``: one channel).

    Raises:
        ConfigError: ``input_shape`` is not an image.
    """
    shape = (1, *input_shape) if len(input_shape) == 2 else input_shape
    if len(shape) != 3:
        raise ConfigError(
            f"kind: cnn needs image input (C, H, W), got shape {shape}; use kind: mlp"
        )
    c = encoded_shape(spec.encoder, shape)[0]  # a two-polarity encoder doubles the channels
    body, width = cnn_layers(spec, (c, shape[1], shape[2]))
    return spiking_net(spec, None, body, width, n_classes)


def reference_spec(width: int, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """The reference CNN of ``width`` (``width // 2`` then ``width`` channels), e.g. a
    distillation teacher."""
    return {"kind": "cnn", "layers": [{"width": max(width // 2, 1)}, {"width": width}]}
