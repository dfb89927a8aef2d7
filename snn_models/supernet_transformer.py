r"""Weight sharing for ``kind: transformer`` (:class:`snn_models.supernet.SuperNet`'s part for
spiking transformers, as in AutoFormer and SPOS).

A transformer supernet is the network of its structure's widest model width D and widest MLP
hidden width h per block, in which each block's attention is a *choice block*
(:class:`AttentionChoice`): one complete set of attention weights per attention type the
supernet was built for. A subnet of model width :math:`d \le D`, hidden widths
:math:`h_i \le h^{max}_i` and any heads, neurons, thresholds, decays, timesteps and attention
type per block shares

* every tensor that depends on the model width by its leading slice: the patch (or sequence)
  embedding and its BatchNorm, the position embedding :math:`E_{pos}[:, :d]`, the Q/K/V and
  output projections :math:`W[:d, :d]` and their BatchNorms, the MLP's
  :math:`W_1[:h_i, :d]`, :math:`W_2[:d, :h_i]` and BatchNorms, the classifier
  :math:`W_{cls}[:, :d]`;
* in block i with attention type a, the weights of choice a of block i (each type's weights
  are trained only by the paths that pick that type; the adaptive type's gate is shared like
  a weight);
* nothing held by a neuron (each subnet's neurons are its own).

Tensors are matched by *canonical name* (:func:`canonical_tensors`): ``embed.*`` (wherever the
encoder put the embedding: the stem for ``direct`` encoding, the body otherwise), ``blocks.<i>.*``
with attention tensors under ``blocks.<i>.attn.<type>.*``, and ``head.*``; so subnets whose
module lists differ (another encoder, another attention type) still share.

What must match between a subnet and its supernet (:func:`transformer_key`): depth, the
encoded input shape and the patch size (the number of tokens and the embedding's kernel).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from typing import Any

from torch import Tensor, nn

from snn_models.architectures import build
from snn_models.attention import ATTENTIONS, AttentionBlock, make_attention
from snn_models.config import NetSpec
from snn_models.encoders import encoded_shape
from snn_models.errors import ConfigError
from snn_models.network import SpikingNet
from snn_models.neurons import BaseNeuron
from snn_models.transformer import (
    DEFAULT_ATTENTION,
    IMAGE_PATCH,
    SEQUENCE_PATCH,
    PatchEmbed,
    SequenceEmbed,
    TransformerBlock,
    block_neuron,
)

__all__ = [
    "AttentionChoice",
    "attention_name",
    "attention_types",
    "block_attention",
    "canonical_tensors",
    "check_subnet",
    "choice_net",
    "transformer_key",
    "widest_transformer_spec",
]


class AttentionChoice(nn.Module):
    """A choice block: one attention block per type; only the :attr:`active` one runs.

    Args:
        choices: attention blocks by type name (keys of
            :data:`snn_models.attention.ATTENTIONS`).
        active: the type that runs in :meth:`forward`.

    Example:
        >>> import torch
        >>> choice = AttentionChoice({t: make_attention(t, 8) for t in ("sdsa", "ssa")}, "ssa")
        >>> choice.eval()(torch.rand(2, 3, 5, 8).round()).shape
        torch.Size([2, 3, 5, 8])
    """

    def __init__(self, choices: Mapping[str, AttentionBlock], active: str) -> None:
        super().__init__()
        if active not in choices:
            raise ConfigError(f"attention: {active!r} is not one of {', '.join(choices)}")
        self.choices = nn.ModuleDict(dict(choices))
        self.active = active

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.choices[self.active](x)
        return out

    def extra_repr(self) -> str:
        return f"active={self.active!r}"


def attention_name(block: nn.Module) -> str:
    """The :data:`~snn_models.attention.ATTENTIONS` name of an attention block's class.

    Example:
        >>> attention_name(make_attention("ssa", 8))
        'ssa'
    """
    for name, cls in ATTENTIONS.items():
        if type(block) is cls:
            return name
    raise ConfigError(f"attention: {type(block).__name__} is not an attention type of ATTENTIONS")


def _patch(spec: NetSpec, shape: tuple[int, ...]) -> int:
    if spec.patch is not None:
        return int(spec.patch)
    return IMAGE_PATCH if len(shape) == 3 else SEQUENCE_PATCH


def transformer_key(spec: NetSpec, input_shape: Sequence[int]) -> str:
    """The structure key of a transformer: depth, BatchNorm (always), encoded input shape and
    patch; not its width, heads, MLP widths, attention types, neurons or timesteps.

    Example:
        >>> transformer_key(NetSpec.from_dict({"kind": "transformer", "patch": 2,
        ...                                     "layers": [{}, {}]}), (1, 8, 8))
        'transformer/d2/bn1/in1x8x8/p2'
    """
    shape = encoded_shape(spec.encoder, tuple(int(s) for s in input_shape))
    dims = "x".join(str(s) for s in shape)
    return f"transformer/d{len(spec.layers)}/bn1/in{dims}/p{_patch(spec, shape)}"


def widest_transformer_spec(
    spec: NetSpec, dim: int | None, widths: Sequence[int] | None
) -> NetSpec:
    """``spec`` with model width ``dim`` (None: its own) and each block's MLP hidden width set
    to ``widths`` (None: its own, made explicit), its heads kept where they divide ``dim``
    (else 1: heads hold no weights)."""
    own_dim, heads, ratio = spec.transformer_dims()
    dim = int(dim) if dim is not None else own_dim
    if widths is None:
        widths = [la.width or max(1, round(ratio * own_dim)) for la in spec.layers]
    if len(widths) != len(spec.layers):
        raise ConfigError(f"widths: {len(spec.layers)} layers need {len(spec.layers)} widths")
    d = spec.to_dict()
    d["dim"], d["heads"] = dim, heads if dim % heads == 0 else 1
    d["layers"] = [dict(la, width=int(w)) for la, w in zip(d["layers"], widths, strict=True)]
    return NetSpec.from_dict(d)


def block_attention(spec: NetSpec) -> list[str]:
    """Each block's attention type (``None`` in the spec: the default, ``sdsa``)."""
    return [la.attention if la.attention is not None else DEFAULT_ATTENTION for la in spec.layers]


def attention_types(spec: NetSpec, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The types a supernet of ``spec`` holds: the spec's own and ``extra``, in
    :data:`~snn_models.attention.ATTENTIONS` order.

    Raises:
        ConfigError: an unknown type in ``extra``.

    Example:
        >>> attention_types(NetSpec.from_dict({"kind": "transformer", "layers": [{}]}), ["ssa"])
        ('ssa', 'sdsa')
    """
    extra = [str(t) for t in extra]
    for t in extra:
        if t not in ATTENTIONS:
            raise ConfigError(
                f"attention: unknown attention type {t!r}; choose one of {', '.join(ATTENTIONS)}"
            )
    wanted = set(extra) | set(block_attention(spec))
    return tuple(t for t in ATTENTIONS if t in wanted)


def _blocks(net: nn.Module) -> list[TransformerBlock]:
    return [m for m in net.modules() if isinstance(m, TransformerBlock)]


def choice_net(
    spec: NetSpec, input_shape: Sequence[int], n_classes: int, types: Sequence[str]
) -> SpikingNet:
    """The network of ``spec`` with each block's attention replaced by an
    :class:`AttentionChoice` over ``types`` (its own type active; the others built with the
    block's neuron recipe)."""
    net = build(spec, tuple(int(s) for s in input_shape), n_classes)
    dim, heads, _ = spec.transformer_dims()
    for i, block in enumerate(_blocks(net)):
        own = attention_name(block.attn)
        neuron = block_neuron(spec, i)
        choices = {
            t: block.attn
            if t == own
            else make_attention(t, dim, heads, neuron=neuron, where=f"layers[{i}].attention")
            for t in types
        }
        block.attn = AttentionChoice(choices, own)  # type: ignore[assignment]
    return net


def _parts(net: nn.Module) -> list[tuple[str, str, nn.Module]]:
    """``(path, canonical prefix, module)`` of the embedding, each block and the head."""
    parts: list[tuple[str, str, nn.Module]] = []
    n_blocks = 0
    for path, m in net.named_modules():
        if isinstance(m, PatchEmbed | SequenceEmbed):
            parts.append((path, "embed", m))
        elif isinstance(m, TransformerBlock):
            parts.append((path, f"blocks.{n_blocks}", m))
            n_blocks += 1
    head = getattr(net, "head", None)
    if isinstance(head, nn.Module):
        parts.append(("head", "head", head))
    return parts


def _walk(
    module: nn.Module, path: str, canon: str, out: dict[str, tuple[str, Tensor]], typed: bool
) -> None:
    if isinstance(module, BaseNeuron):  # a neuron's tensors are its own
        return
    if not typed and isinstance(module, AttentionChoice):
        for t, block in module.choices.items():
            _walk(block, f"{path}.choices.{t}", f"{canon}.{t}", out, True)
        return
    if not typed and isinstance(module, AttentionBlock):
        canon, typed = f"{canon}.{attention_name(module)}", True
    for name, tensor in chain(
        module.named_parameters(recurse=False), module.named_buffers(recurse=False)
    ):
        if tensor is not None:
            out[f"{canon}.{name}"] = (f"{path}.{name}", tensor)
    for name, child in module.named_children():
        _walk(child, f"{path}.{name}", f"{canon}.{name}", out, typed)


def canonical_tensors(net: nn.Module) -> dict[str, tuple[str, Tensor]]:
    """Canonical name → ``(name in net, tensor)`` of every shared tensor of a transformer
    (module docstring: ``embed.*``, ``blocks.<i>.*``, ``blocks.<i>.attn.<type>.*``,
    ``head.*``; neurons and the input front excluded).

    Example:
        >>> from snn_models import build
        >>> net = build({"kind": "transformer", "dim": 8, "patch": 4, "encoder": "rate",
        ...              "layers": [{"attention": "ssa"}]}, (1, 8, 8), 3)
        >>> canonical_tensors(net)["blocks.0.attn.ssa.q.linear.module.weight"][0]
        'body.1.attn.q.linear.module.weight'
    """
    out: dict[str, tuple[str, Tensor]] = {}
    for path, canon, module in _parts(net):
        _walk(module, path, canon, out, False)
    return out


def check_subnet(
    model: nn.Module, key: str, input_shape: Sequence[int], types: Sequence[str]
) -> None:
    """Refuse a model that is not a subnet of the transformer supernet ``key`` (for inputs of
    ``input_shape``) holding attention ``types``.

    Raises:
        ConfigError: another structure, or a block whose attention type the supernet lacks.
    """
    spec: Any = getattr(model, "spec", None)
    if not isinstance(spec, NetSpec) or spec.kind != "transformer":
        raise ConfigError(f"the model is not a subnet of supernet {key!r} (not a transformer)")
    if transformer_key(spec, input_shape) != key:
        raise ConfigError(
            f"the model is not a subnet of supernet {key!r} (other depth, patch or input); "
            "build it from a spec of the same structure"
        )
    for i, block in enumerate(_blocks(model)):
        t = attention_name(block.attn)
        if t not in types:
            raise ConfigError(
                f"layers[{i}].attention: {t!r} has no weights in supernet {key!r} (built for "
                f"{', '.join(types)}); build the supernet with attention= listing {t!r}"
            )
