"""Spiking networks built from a :class:`~snn_models.config.NetSpec`: :func:`build`.

``build(spec, input_shape, n_classes)`` is a pure function: the same spec gives the same
architecture (weights follow torch's RNG). It validates the spec and calls the builder of its
kind from :data:`snn_models.kinds.KINDS` (:mod:`snn_models.mlp`, :mod:`snn_models.cnn`,
:mod:`snn_models.transformer`, :mod:`snn_models.temporal`). The network takes a static input
``[B, ...]``, encodes it to ``[T, B, ...]``, runs the hidden layers with all T steps per neuron
call, and returns class scores ``[B, n_classes]`` from the readout. :class:`SpikingNet` and the
pieces every builder shares live in :mod:`snn_models.network`. The spec's ``preprocess`` becomes
the network's front module (:mod:`snn_models.preprocess`; fit it with
:func:`snn_models.preprocess.fit_preprocess` on the training split).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from snn_models.config import NetSpec
from snn_models.errors import ConfigError
from snn_models.kinds import KINDS
from snn_models.network import SpikingNet
from snn_models.preprocess import make_preprocess


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
    net = KINDS[spec.kind].build(spec, shape, n_classes)
    net.preprocess = make_preprocess(spec.preprocess, shape)
    return net


__all__ = ["SpikingNet", "build"]
