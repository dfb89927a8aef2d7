"""Temporal spiking networks for series: the series itself is the network's time.

A series ``[B, C, L]`` (C channels, L samples; aeon's layout) is cut into windows of ``w``
consecutive samples (``NetSpec.patch``, default 1: sample by sample). Window ``k`` becomes the
input current of SNN step ``k``, a vector of ``C·w`` values; each window is presented for
``NetSpec.timesteps`` steps (default 1 in the ``temporal`` space), so the network runs
``ceil(L / w) · timesteps`` steps. A series whose length is not a multiple of ``w`` is padded with
zeros at the start, which a causal network sees as silence before the signal.

Each hidden layer is a *causal* 1-D convolution over SNN time (kernel ``k``, dilation ``d``;
``k = 1`` is a plain per-step dense layer, so a stack of them is a recurrent-free LIF stack; a
stack with growing ``d`` is a temporal convolutional network, TCN), an optional BatchNorm,
and a spiking neuron whose leak (``decay``) and reset (``soft_reset``: subtract the threshold, or
hard: back to zero) are searchable. Causal means the output at step ``t`` sees inputs
``t-(k-1)d .. t`` only:

    I_t = Σ_{j=0}^{k-1} W_j · x_{t-j·d}        (x_{t-j·d} = 0 before the series starts)

so the network can run online: :meth:`TemporalNet.step` feeds a chunk of the series at a time,
keeps every layer's state (membranes and the last ``(k-1)·d`` inputs of each convolution) between
calls, and returns the scores so far. Feeding a series chunk by chunk gives exactly the scores of
one :meth:`~snn_models.architectures.SpikingNet.forward` over the whole series (tested).

The readout is the project's usual one: the mean over all steps of the output layer's current
(``membrane``) or of its spikes (``spikes``). Energy follows from the hooks as for any model: the
first layer reads real-valued samples (MACs every step), the others read spikes (SOPs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from snn_models.errors import ConfigError
from snn_models.functional import reset_net
from snn_models.layers import TimeDistributed, td_batchnorm, td_linear
from snn_models.network import SpikingNet, layer_neuron, layer_width, readout_neuron
from snn_models.readouts import make_readout

if TYPE_CHECKING:
    from snn_models.config import NetSpec


class CausalConv1d(nn.Module):
    """A 1-D convolution along SNN time, causal and stateful: ``[T, B, C_in] → [T, B, C_out]``.

    The last ``(kernel - 1) · dilation`` inputs are kept (:attr:`history`) so that the next call continues the
    same sequence; :meth:`reset` forgets them (zeros before the first step). The synapse is a plain
    ``nn.Conv1d`` (``.conv``) so the energy meter and exporters see an ordinary layer.
    """

    history: Tensor | None

    def __init__(
        self, c_in: int, c_out: int, kernel: int, bias: bool = True, dilation: int = 1
    ) -> None:
        super().__init__()
        if kernel < 1:
            raise ConfigError(f"kernel: must be >= 1, got {kernel}")
        if dilation < 1:
            raise ConfigError(f"dilation: must be >= 1, got {dilation}")
        self.kernel = kernel
        self.dilation = dilation
        self.conv = nn.Conv1d(c_in, c_out, kernel, bias=bias, dilation=dilation)
        self.history = None

    def reset(self) -> None:
        self.history = None

    def forward(self, x: Tensor) -> Tensor:
        seq = x.permute(1, 2, 0)  # [B, C, T]
        span = (self.kernel - 1) * self.dilation  # past steps the next output reads
        if span > 0:
            past = self.history
            if past is None:
                past = seq.new_zeros(seq.shape[0], seq.shape[1], span)
            seq = torch.cat([past, seq], dim=2)
            self.history = seq[:, :, -span:].detach()
        return self.conv(seq).permute(2, 0, 1)


class SeriesEncoder(nn.Module):
    """``[B, C, L]`` → ``[ceil(L/w)·repeat, B, C·w]``: windows of ``w`` samples as SNN steps.

    Within a window the features are ordered channel-major (channel 0's ``w`` samples first).
    """

    def __init__(self, window: int, repeat: int) -> None:
        super().__init__()
        self.window = window
        self.repeat = repeat

    def extra_repr(self) -> str:
        return f"window={self.window}, repeat={self.repeat}"

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:  # [B, L]: one channel
            x = x.unsqueeze(1)
        B, C, L = x.shape
        w = self.window
        n = math.ceil(L / w)
        if n * w != L:
            x = F.pad(x, (n * w - L, 0))
        steps = x.reshape(B, C, n, w).permute(2, 0, 1, 3).reshape(n, B, C * w)
        if self.repeat > 1:
            steps = steps.repeat_interleave(self.repeat, dim=0)
        return steps


def series_shape(input_shape: Sequence[int]) -> tuple[int, int]:
    """``(C, L)`` of one series from a data set's ``input_shape`` (``(L,)`` or ``(C, L)``)."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 1:
        return 1, shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    raise ConfigError(
        f"kind: temporal needs series input (channels, length), got shape {shape}; "
        "use kind: mlp or cnn for images"
    )


def temporal_parts(
    spec: NetSpec, input_shape: Sequence[int], n_classes: int
) -> tuple[nn.Module, nn.Sequential, nn.Sequential]:
    """The encoder, body and head of a temporal network (the readout is the usual one)."""
    channels, _length = series_shape(input_shape)
    window = spec.patch if spec.patch is not None else 1
    width = channels * window
    mods: list[nn.Module] = []
    for i, layer in enumerate(spec.layers):
        n_out = layer_width(spec, i)
        mods.append(
            CausalConv1d(
                width,
                n_out,
                layer.kernel,
                bias=not spec.use_batchnorm,
                dilation=layer.dilation or 1,
            )
        )
        if spec.use_batchnorm:
            mods.append(td_batchnorm(n_out, dims=1))
        mods.append(layer_neuron(spec, i))
        if spec.dropout > 0:
            mods.append(TimeDistributed(nn.Dropout(spec.dropout)))
        width = n_out
    head = nn.Sequential(td_linear(width, n_classes))
    return SeriesEncoder(window, spec.timesteps), nn.Sequential(*mods), head


class TemporalNet(SpikingNet):
    """A :class:`~snn_models.architectures.SpikingNet` over series, with online stepping.

    ``forward(x)`` resets the state and runs the whole series ``[B, C, L]``; :meth:`step` runs a
    chunk without resetting and returns the running scores.
    """

    _sum: Tensor | None = None
    _count = 0

    def reset_stream(self) -> None:
        """Forget the series fed so far (membranes, convolution histories, running scores)."""
        reset_net(self)
        self._sum = None
        self._count = 0

    def step(self, chunk: Tensor) -> Tensor:
        """Feed the next ``chunk`` ``[B, C, n·w]`` (or ``[B, n·w]``) of the series; return the
        scores ``[B, classes]`` over everything fed since :meth:`reset_stream`."""
        if chunk.dim() == 2:
            chunk = chunk.unsqueeze(1)
        encoder = self.encoder
        assert isinstance(encoder, SeriesEncoder)
        w = encoder.window
        if chunk.shape[-1] % w:
            raise ConfigError(
                f"step: a chunk must hold whole windows of {w} samples, got {chunk.shape[-1]}"
            )
        out = self.head(self.body(self.encoder(self.preprocess(chunk))))  # [n, B, classes]
        total = out.sum(0)
        self._sum = total if self._sum is None else self._sum + total
        self._count += out.shape[0]
        return self._sum / self._count


def build_temporal(spec: NetSpec, input_shape: Sequence[int], n_classes: int) -> TemporalNet:
    """A :class:`TemporalNet` for series of ``input_shape`` ``(C, L)`` (see the module doc)."""
    encoder, body, head = temporal_parts(spec, input_shape, n_classes)
    readout = make_readout(spec.readout)
    if getattr(readout, "spiking", False):
        head.append(readout_neuron(spec))
    return TemporalNet(spec, nn.Sequential(), encoder, body, head, readout)


def validate_temporal_spec(spec: NetSpec) -> None:
    """The checks of a ``kind: temporal`` spec beyond the common ones.

    Raises:
        ConfigError: ``patch`` (samples per window) not a positive integer, or an encoder other
            than ``direct`` (the series itself is the input current).
    """
    patch = spec.patch
    if patch is not None and (isinstance(patch, bool) or not isinstance(patch, int) or patch < 1):
        raise ConfigError(f"patch: must be a positive integer, got {patch!r}")
    if spec.encoder != "direct":
        raise ConfigError(
            f"encoder: kind: temporal feeds the series itself as input currents; "
            f"remove encoder: {spec.encoder} (only direct)"
        )
