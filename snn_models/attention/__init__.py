"""Attention blocks on spikes ``[T, B, N, D]``.

Add one by writing a module here (a subclass of :class:`AttentionBlock` with the equations and its
counting rule in the docstring) and one line in :data:`ATTENTIONS`.

* ``standard``: softmax(QKᵀ/√d)V on real values (MACs).
* ``ssa``: Spikformer's SN((QKᵀ)V·0.125) on spikes, O(N²D) accumulates.
* ``sdsa``: the Spike-driven Transformer's Q ⊙ SN(Σ_tokens K ⊙ V), O(N·D) accumulates.
* ``adaptive``: a learnable gate between ``standard`` and ``sdsa``; only the preferred one runs in
  eval mode.

A per-block choice ("hybrid") is a list of these names, one per transformer block.
"""

from __future__ import annotations

from typing import Any

from snn_models.attention.adaptive import AdaptiveAttention
from snn_models.attention.base import AttentionBlock, NeuronConfig, OpCount, OpSink, Projection
from snn_models.attention.sdsa import SpikeDrivenSelfAttention
from snn_models.attention.ssa import SpikingSelfAttention
from snn_models.attention.standard import StandardAttention
from snn_models.errors import ConfigError

ATTENTIONS: dict[str, type[AttentionBlock]] = {
    "standard": StandardAttention,
    "ssa": SpikingSelfAttention,
    "sdsa": SpikeDrivenSelfAttention,
    "adaptive": AdaptiveAttention,
}


def make_attention(
    kind: str,
    dim: int,
    heads: int = 1,
    *,
    neuron: NeuronConfig | None = None,
    where: str = "attention",
    **kwargs: Any,
) -> AttentionBlock:
    """Build an attention block by name; ``where`` names the config key in error messages.

    Example:
        >>> make_attention("sdsa", 8, heads=2).heads
        2
    """
    try:
        cls = ATTENTIONS[kind]
    except (KeyError, TypeError):
        raise ConfigError(
            f"{where}: unknown attention type {kind!r}; choose one of {', '.join(ATTENTIONS)}"
        ) from None
    try:
        return cls(dim, heads, neuron=neuron, **kwargs)  # type: ignore[call-arg]
    except TypeError as e:
        raise ConfigError(f"{where}: bad argument for {kind!r} attention ({e})") from None


__all__ = [
    "ATTENTIONS",
    "AdaptiveAttention",
    "AttentionBlock",
    "NeuronConfig",
    "OpCount",
    "OpSink",
    "Projection",
    "SpikeDrivenSelfAttention",
    "SpikingSelfAttention",
    "StandardAttention",
    "make_attention",
]
