r"""A spiking transformer (Spikformer / Spike-driven Transformer family) built from a NetSpec.

The network, for ``kind: transformer`` (see :class:`~snn_models.config.NetSpec`):

1. **Tokens.** An image ``(C, H, W)`` is cut into ``patch x patch`` patches by a convolution
   (kernel = stride = patch) plus BatchNorm: :math:`N = (H/p)(W/p)` tokens of width D. A sequence
   ``(L, C)`` is cut into groups of ``patch`` consecutive steps, each mapped by a linear layer plus
   BatchNorm: :math:`N = L/p` tokens. A learnable position embedding :math:`E_{pos} \in
   \mathbb{R}^{N\times D}` is added. With ``direct`` encoding this runs once on the static input
   (the stem, counted as MACs) and its output is repeated over T; with a spiking encoder it runs
   at every step on the spikes.
2. **Blocks** (one per entry of ``layers``), on the real-valued membrane stream
   :math:`U \in \mathbb{R}^{T\times B\times N\times D}` with membrane shortcuts (Spike-driven
   Transformer): every branch starts with a spiking neuron and its real output is added to the
   stream, so the next neuron receives residual + branch, never a sum of spikes:

   .. math::

       U' = U + \mathrm{Attn}(\mathrm{SN}(U)), \qquad
       U'' = U' + \mathrm{BN}(\mathrm{SN}(\mathrm{BN}(\mathrm{SN}(U') W_1)) W_2)

   with :math:`W_1 \in \mathbb{R}^{D\times h}`, h = the block's ``width`` or ``mlp_ratio * D``.
   Each block has its own attention type, neuron type, threshold (default 1.0 at the first block
   down to 0.8 at the last, linearly) and decay.
3. **Head.** The mean over tokens of the stream, a spiking neuron (the last block's type and
   threshold), a linear classifier, and the readout's mean over T: :math:`y = \frac{1}{T}\sum_t W_{cls}\, \mathrm{SN}(\frac{1}{N}\sum_n U_{t,:,n,:})`.

:func:`transformer_body` returns the stem and body modules; :func:`build_transformer` (the
``transformer`` entry of :data:`snn_models.kinds.KINDS`) adds the classifier and readout and wraps
everything into a :class:`~snn_models.SpikingNet`. :func:`validate_transformer_spec` holds the
spec checks only a transformer needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from snn_models.attention import AttentionBlock, NeuronConfig, Projection, make_attention
from snn_models.encoders import encoded_shape
from snn_models.errors import ConfigError
from snn_models.layers import TimeDistributed
from snn_models.network import SpikingNet, spiking_net

if TYPE_CHECKING:
    from snn_models.config import NetSpec

#: Default block thresholds: linear from the first block to the last.
THRESHOLD_FIRST = 1.0
THRESHOLD_LAST = 0.8
#: Default ``patch`` for images (pixels per side) and for sequences (steps per token).
IMAGE_PATCH = 4
SEQUENCE_PATCH = 1
#: Attention type of a block whose ``attention`` is not set.
DEFAULT_ATTENTION = "sdsa"


def block_threshold(i: int, n_blocks: int) -> float:
    """Default threshold of block ``i`` of ``n_blocks``: 1.0 → 0.8 linearly with depth.

    Example:
        >>> [round(block_threshold(i, 3), 3) for i in range(3)]
        [1.0, 0.9, 0.8]
    """
    if n_blocks <= 1:
        return THRESHOLD_FIRST
    return THRESHOLD_FIRST + (THRESHOLD_LAST - THRESHOLD_FIRST) * i / (n_blocks - 1)


def _position_embedding(n_tokens: int, dim: int) -> nn.Parameter:
    pos = torch.empty(n_tokens, dim)
    nn.init.trunc_normal_(pos, std=0.02)
    return nn.Parameter(pos)


class PatchEmbed(nn.Module):
    """Image ``[B, C, H, W]`` → tokens ``[B, N, D]``: conv (kernel = stride = patch), BN, + position.

    Example:
        >>> import torch
        >>> PatchEmbed(1, 16, patch=2, image_hw=(8, 8))(torch.rand(3, 1, 8, 8)).shape
        torch.Size([3, 16, 16])
    """

    def __init__(self, in_channels: int, dim: int, patch: int, image_hw: tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, dim, patch, stride=patch, bias=False)
        self.bn = nn.BatchNorm2d(dim)
        self.pos = _position_embedding((image_hw[0] // patch) * (image_hw[1] // patch), dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.conv(x)).flatten(2).transpose(1, 2) + self.pos


class SequenceEmbed(nn.Module):
    """Sequence ``[B, L, C]`` → tokens ``[B, L/p, D]``: p consecutive steps → linear, BN, + position.

    Example:
        >>> import torch
        >>> SequenceEmbed(3, 16, patch=2, length=10)(torch.rand(4, 10, 3)).shape
        torch.Size([4, 5, 16])
    """

    def __init__(self, in_features: int, dim: int, patch: int, length: int) -> None:
        super().__init__()
        self.patch = patch
        self.linear = nn.Linear(patch * in_features, dim, bias=False)
        self.bn = nn.BatchNorm1d(dim)
        self.pos = _position_embedding(length // patch, dim)

    def forward(self, x: Tensor) -> Tensor:
        B, L, C = x.shape
        y = self.linear(x.reshape(B, L // self.patch, self.patch * C))
        return self.bn(y.reshape(-1, y.shape[-1])).reshape(y.shape) + self.pos


class SpikingMLP(nn.Module):
    r"""The block's MLP on spikes: :math:`\mathrm{BN}(\mathrm{SN}(\mathrm{BN}(X W_1)) W_2)`.

    ``[T, B, N, D]`` spikes in, real ``[T, B, N, D]`` out (added to the membrane stream).
    """

    def __init__(self, dim: int, hidden: int, neuron: NeuronConfig) -> None:
        super().__init__()
        self.fc1 = Projection(dim, hidden)
        self.sn = neuron.make()
        self.fc2 = Projection(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.sn(self.fc1(x)))


class TransformerBlock(nn.Module):
    r"""One block with membrane shortcuts:
    :math:`U' = U + \mathrm{Attn}(\mathrm{SN}(U))`, :math:`U'' = U' + \mathrm{MLP}(\mathrm{SN}(U'))`.

    Args:
        dim: model width D.
        attention: the attention block (spikes in, real out).
        hidden: the MLP's hidden width.
        neuron: recipe of the block's neurons (the two branch-input neurons and the MLP's).

    Example:
        >>> import torch
        >>> from snn_models.attention import SpikeDrivenSelfAttention
        >>> blk = TransformerBlock(8, SpikeDrivenSelfAttention(8), 16, NeuronConfig()).eval()
        >>> blk(torch.randn(2, 3, 5, 8)).shape
        torch.Size([2, 3, 5, 8])
    """

    def __init__(
        self, dim: int, attention: AttentionBlock, hidden: int, neuron: NeuronConfig
    ) -> None:
        super().__init__()
        self.attn_sn = neuron.make()
        self.attn = attention
        self.mlp_sn = neuron.make()
        self.mlp = SpikingMLP(dim, hidden, neuron)

    def forward(self, u: Tensor) -> Tensor:
        u = u + self.attn(self.attn_sn(u))
        return u + self.mlp(self.mlp_sn(u))


class TokenMean(nn.Module):
    """Mean over tokens: ``[T, B, N, D] -> [T, B, D]``."""

    def forward(self, x: Tensor) -> Tensor:
        return x.mean(dim=-2)


def block_neuron(spec: NetSpec, i: int) -> NeuronConfig:
    """The neuron recipe of block ``i``: its type, threshold (default by depth), decay, reset."""
    layer = spec.layers[i]
    kwargs = layer.neuron_kwargs(default_threshold=block_threshold(i, len(spec.layers)))
    if layer.neuron in ("if", "lif"):
        kwargs.setdefault("soft_reset", spec.soft_reset)
    return NeuronConfig(
        layer.neuron, kwargs, spec.surrogate, spec.surrogate_alpha, f"layers[{i}].neuron"
    )


def _divisors(*sizes: int) -> str:
    """The common divisors of ``sizes``, for error messages."""
    return ", ".join(str(d) for d in range(1, min(sizes) + 1) if all(n % d == 0 for n in sizes))


def _embedding(spec: NetSpec, shape: tuple[int, ...], dim: int) -> nn.Module:
    if len(shape) == 3:
        c, h, w = shape
        p = spec.patch if spec.patch is not None else IMAGE_PATCH
        if h % p or w % p:
            raise ConfigError(
                f"patch: {p} does not divide the {h}x{w} image; choose one of {_divisors(h, w)}"
            )
        return PatchEmbed(c, dim, p, (h, w))
    if len(shape) == 2:
        length, c = shape
        p = spec.patch if spec.patch is not None else SEQUENCE_PATCH
        if length % p:
            raise ConfigError(
                f"patch: {p} does not divide the sequence length {length}; "
                f"choose one of {_divisors(length)}"
            )
        return SequenceEmbed(c, dim, p, length)
    raise ConfigError(
        f"kind: transformer needs an image (C, H, W) or a sequence (L, C), got shape {shape}"
    )


def transformer_body(
    spec: NetSpec, input_shape: tuple[int, ...]
) -> tuple[nn.Sequential, list[nn.Module], int]:
    """The stem, the body modules and the body's output width of a ``kind: transformer`` spec.

    Args:
        spec: a validated :class:`NetSpec` with ``kind: transformer``.
        input_shape: one sample: ``(C, H, W)`` (image) or ``(L, C)`` (sequence).

    Returns:
        ``(stem, body, width)``: the stem runs once on the static input (``direct`` encoding;
        empty otherwise), the body maps the encoded ``[T, B, ...]`` to spikes ``[T, B, D]`` (token
        embedding unless in the stem, blocks, token mean, head neuron), and ``width`` = D.
    """
    dim, heads, mlp_ratio = spec.transformer_dims()
    if len(input_shape) == 2 and encoded_shape(spec.encoder, input_shape) != input_shape:
        raise ConfigError(
            f"encoder: {spec.encoder} stacks its polarities on the channel axis, which a sequence "
            "(L, C) has last; use encoder: direct, rate or latency for sequences"
        )
    embed = _embedding(spec, encoded_shape(spec.encoder, input_shape), dim)
    stem = nn.Sequential()
    body: list[nn.Module] = []
    if spec.encoder in ("direct", "repeat"):
        stem.append(embed)
    else:
        body.append(TimeDistributed(embed))
    for i, layer in enumerate(spec.layers):
        neuron = block_neuron(spec, i)
        attention = make_attention(
            layer.attention if layer.attention is not None else DEFAULT_ATTENTION,
            dim,
            heads,
            neuron=neuron,
            where=f"layers[{i}].attention",
        )
        hidden = layer.width if layer.width is not None else max(1, round(mlp_ratio * dim))
        body.append(TransformerBlock(dim, attention, hidden, neuron))
    body += [TokenMean(), block_neuron(spec, len(spec.layers) - 1).make()]
    return stem, body, dim


def build_transformer(spec: NetSpec, input_shape: tuple[int, ...], n_classes: int) -> SpikingNet:
    """A spiking transformer for images ``(C, H, W)`` or sequences ``(L, C)`` (module docstring).

    Example:
        >>> import torch
        >>> from snn_models.config import NetSpec
        >>> spec = NetSpec.from_dict({"kind": "transformer", "dim": 16, "patch": 4, "layers": [{}]})
        >>> build_transformer(spec, (1, 8, 8), 10)(torch.rand(5, 1, 8, 8)).shape
        torch.Size([5, 10])
    """
    stem, body, width = transformer_body(spec, input_shape)
    return spiking_net(spec, stem, body, width, n_classes)


def validate_transformer_spec(spec: NetSpec) -> None:
    """The checks of a ``kind: transformer`` spec beyond the common ones.

    Raises:
        ConfigError: ``dim``, ``heads`` or ``patch`` not a positive integer, ``mlp_ratio`` not
            > 0, ``heads`` not dividing ``dim``, ``batchnorm: false`` or a dropout.
    """
    for key in ("dim", "heads", "patch"):
        value = getattr(spec, key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ConfigError(f"{key}: must be a positive integer, got {value!r}")
    if spec.mlp_ratio is not None:
        ratio = spec.mlp_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, int | float):
            raise ConfigError(f"mlp_ratio: expected int/float, got {ratio!r}")
        if not ratio > 0:
            raise ConfigError(f"mlp_ratio: must be > 0, got {ratio}")
    dim, heads, _ = spec.transformer_dims()
    if dim % heads:
        raise ConfigError(
            f"heads: {heads} does not divide dim {dim}; choose a divisor of dim "
            f"({', '.join(str(h) for h in range(1, dim + 1) if dim % h == 0)})"
        )
    if spec.batchnorm is False:
        raise ConfigError(
            "batchnorm: kind: transformer always uses BatchNorm; remove batchnorm: false"
        )
    if spec.dropout:
        raise ConfigError("dropout: not supported for kind: transformer; set it to 0")


def reference_spec(width: int, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """The reference transformer of model width ``width`` for ``input_shape`` (two blocks;
    4 heads when they divide ``width``, else 1; patch 2 for images up to 16 pixels a side,
    4 above, 1 step for sequences), e.g. a distillation teacher."""
    image = len(input_shape) == 3
    patch = (2 if max(input_shape[1:]) <= 16 else 4) if image else 1
    return {
        "kind": "transformer",
        "dim": width,
        "heads": 4 if width % 4 == 0 else 1,
        "patch": patch,
        "layers": [{}, {}],
    }
