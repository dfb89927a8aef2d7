"""Spiking MLP, CNN and transformer built from a :class:`~snn_models.config.NetSpec`.

With ``direct`` encoding the input is the same real-valued tensor at every step, so the first
synaptic layer (and its BatchNorm) runs once on the static input — the *stem* — and its output
current is repeated over T. That is what an efficient implementation computes, and it is what the
energy model then counts: one dense pass of MACs for the encoding layer, SOPs for the rest.

``build(spec, input_shape, n_classes)`` is a pure function: the same spec gives the same
architecture (weights follow torch's RNG). The network takes a static input ``[B, ...]``, encodes
it to ``[T, B, ...]``, runs the hidden layers with all T steps per neuron call, and returns class
scores ``[B, n_classes]`` from the readout. The transformer's stem and body come from
:func:`snn_models.transformer.transformer_body` (the stem there is the token embedding).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from snn_models.config import NetSpec
from snn_models.encoders import make_encoder
from snn_models.errors import ConfigError
from snn_models.functional import reset_net
from snn_models.layers import (
    Flatten,
    TimeDistributed,
    td_batchnorm,
    td_conv2d,
    td_linear,
    td_maxpool,
)
from snn_models.neurons import make_neuron
from snn_models.readouts import make_readout
from snn_models.surrogate import make_surrogate
from snn_models.transformer import transformer_body


class SpikingNet(nn.Module):
    """Stem → encoder → hidden spiking layers → output layer → readout.

    Attributes:
        spec: the :class:`NetSpec` it was built from.
        stem: layers run once on the static input (direct encoding), else empty.
        encoder, body, head, readout: the other stages.
    """

    def __init__(
        self,
        spec: NetSpec,
        stem: nn.Sequential,
        encoder: nn.Module,
        body: nn.Sequential,
        head: nn.Sequential,
        readout: nn.Module,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.stem = stem
        self.encoder = encoder
        self.body = body
        self.head = head
        self.readout = readout

    @property
    def timesteps(self) -> int:
        return self.spec.timesteps

    def forward(self, x: Tensor) -> Tensor:
        """Class scores ``[B, C]`` for a static input batch ``[B, ...]`` (state is reset first)."""
        reset_net(self)
        return self.readout(self.head(self.body(self.encoder(self.stem(x)))))


def _neuron(spec: NetSpec, i: int) -> nn.Module:
    layer = spec.layers[i]
    kwargs = layer.neuron_kwargs()
    kwargs["surrogate"] = make_surrogate(spec.surrogate, spec.surrogate_alpha)
    if layer.neuron in ("if", "lif"):
        kwargs.setdefault("soft_reset", spec.soft_reset)
    return make_neuron(layer.neuron, where=f"layers[{i}].neuron", **kwargs)


def _width(spec: NetSpec, i: int) -> int:
    width = spec.layers[i].width
    if width is None:
        raise ConfigError(f"layers[{i}].width: missing (number of units or channels)")
    return width


def _mlp(spec: NetSpec, n_in: int) -> tuple[list[nn.Module], int]:
    mods: list[nn.Module] = [Flatten()]
    width = n_in
    for i in range(len(spec.layers)):
        n_out = _width(spec, i)
        mods.append(td_linear(width, n_out, bias=not spec.use_batchnorm))
        if spec.use_batchnorm:
            mods.append(td_batchnorm(n_out, dims=1))
        mods.append(_neuron(spec, i))
        if spec.dropout > 0:
            mods.append(TimeDistributed(nn.Dropout(spec.dropout)))
        width = n_out
    return mods, width


def _cnn(spec: NetSpec, shape: tuple[int, int, int]) -> tuple[list[nn.Module], int]:
    c, h, w = shape
    mods: list[nn.Module] = []
    for i, layer in enumerate(spec.layers):
        n_out = _width(spec, i)
        mods.append(td_conv2d(c, n_out, layer.kernel, padding=layer.kernel // 2))
        if spec.use_batchnorm:
            mods.append(td_batchnorm(n_out, dims=2))
        mods.append(_neuron(spec, i))
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


def _split_stem(body_mods: list[nn.Module]) -> nn.Sequential:
    """Move the encoding layer (leading Flatten, first synaptic layer, its BatchNorm) out of
    ``body_mods``; they become plain modules applied once to the static input ``[B, ...]``."""
    stem: list[nn.Module] = []
    if isinstance(body_mods[0], Flatten):
        body_mods.pop(0)
        stem.append(nn.Flatten(1))
    synapse = body_mods.pop(0)
    assert isinstance(synapse, TimeDistributed)
    stem.append(synapse.module)
    nxt = body_mods[0]
    if isinstance(nxt, TimeDistributed) and isinstance(nxt.module, nn.BatchNorm1d | nn.BatchNorm2d):
        body_mods.pop(0)
        stem.append(nxt.module)
    return nn.Sequential(*stem)


def build(
    spec: NetSpec | Mapping[str, Any],
    input_shape: Sequence[int],
    n_classes: int,
) -> SpikingNet:
    """Build a spiking network from a spec (or a plain dict, validated first).

    Args:
        spec: a :class:`NetSpec` or a dict accepted by :meth:`NetSpec.from_dict`.
        input_shape: shape of one sample: ``(features,)`` for an MLP, ``(C, H, W)`` or ``(H, W)``
            for a CNN (an MLP flattens any shape), ``(C, H, W)`` (image) or ``(L, C)`` (sequence)
            for a transformer, ``(C, L)`` or ``(L,)`` (series) for ``temporal``.
        n_classes: number of output classes.

    Example:
        >>> import torch
        >>> net = build({"kind": "mlp", "timesteps": 4, "layers": [{"width": 32}]}, (64,), 10)
        >>> net(torch.rand(5, 64)).shape
        torch.Size([5, 10])
        >>> vit = build({"kind": "transformer", "dim": 16, "patch": 4, "layers": [{}]}, (1, 8, 8), 10)
        >>> vit(torch.rand(5, 1, 8, 8)).shape
        torch.Size([5, 10])
    """
    spec = NetSpec.from_dict(spec)
    shape = tuple(int(s) for s in input_shape)
    if n_classes < 2:
        raise ConfigError(f"n_classes must be >= 2, got {n_classes}")
    if spec.kind == "temporal":
        from snn_models.temporal import build_temporal

        return build_temporal(spec, shape, n_classes)
    stem = nn.Sequential()
    if spec.kind == "transformer":
        stem, body_mods, width = transformer_body(spec, shape)
    elif spec.kind == "mlp":
        n_in = 1
        for s in shape:
            n_in *= s
        body_mods, width = _mlp(spec, n_in)
    else:
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) != 3:
            raise ConfigError(
                f"kind: cnn needs image input (C, H, W), got shape {shape}; use kind: mlp"
            )
        body_mods, width = _cnn(spec, shape)
    head: list[nn.Module] = [td_linear(width, n_classes)]
    readout = make_readout(spec.readout)
    if getattr(readout, "spiking", False):
        head.append(
            make_neuron(
                "lif",
                where="readout",
                surrogate=make_surrogate(spec.surrogate, spec.surrogate_alpha),
            )
        )
    if spec.kind != "transformer" and spec.encoder in ("direct", "repeat"):
        stem = _split_stem(body_mods)
    return SpikingNet(
        spec,
        stem,
        make_encoder(spec.encoder, spec.timesteps),
        nn.Sequential(*body_mods),
        nn.Sequential(*head),
        readout,
    )
