r"""Standard (softmax) multi-head attention on real values, fed by spikes.

Vaswani et al., "Attention Is All You Need", NeurIPS 2017. With spike input
:math:`X \in \{0,1\}^{T\times B\times N\times D}` and, per head h (head width d = D/H):

.. math::

    Q = \mathrm{BN}(X W_Q),\quad K = \mathrm{BN}(X W_K),\quad V = \mathrm{BN}(X W_V)
    \quad (\text{real-valued})

    \mathrm{Attn}(Q, K, V) = \mathrm{concat}_h\ \mathrm{softmax}\!\Big(\frac{Q_h K_h^\top}{\sqrt d}\Big) V_h,
    \qquad Y = \mathrm{BN}(\mathrm{Attn}(Q, K, V)\, W_O)

Q, K and V are real, so both products are multiply-accumulates, and so is the output projection
(its input is real; the energy meter's hook sees that). Cost :math:`O(N^2 D)` MACs.

**Counting rule** (per forward, summed over steps, samples and heads):

* ``qk``: :math:`Q_h K_h^\top`: :math:`N \cdot N \cdot d` MACs per head, i.e. :math:`N^2 D` per
  step and sample.
* ``av``: :math:`\mathrm{softmax}(\cdot) V_h`: likewise :math:`N^2 D` MACs per step and sample.
* Not counted (stated so nobody has to guess): the softmax's exponentials and divisions and the
  1/√d scale (it folds into :math:`W_Q`).

The equivalent ANN pays the same :math:`N^2 D` MACs per term per sample (at one step).
"""

from __future__ import annotations

import math
from typing import ClassVar

from torch import Tensor

from snn_models.attention.base import AttentionBlock, NeuronConfig, Projection


class StandardAttention(AttentionBlock):
    r"""Softmax attention :math:`\mathrm{softmax}(QK^\top/\sqrt d)V` on real-valued Q, K, V.

    See the module docstring for the equations and the counting rule.

    Args:
        dim: model dimension D.
        heads: number of heads H (must divide ``dim``).
        neuron: accepted for the common interface; this block has no neurons.

    Example:
        >>> import torch
        >>> attn = StandardAttention(8, heads=2).eval()
        >>> attn((torch.rand(4, 2, 5, 8) > 0.5).float()).shape
        torch.Size([4, 2, 5, 8])
    """

    OP_TERMS: ClassVar[dict[str, str]] = {"qk": "real", "av": "real"}

    def __init__(self, dim: int, heads: int = 1, *, neuron: NeuronConfig | None = None) -> None:
        super().__init__(dim, heads)
        self.q, self.k, self.v = Projection(dim, dim), Projection(dim, dim), Projection(dim, dim)
        self.proj = Projection(dim, dim)

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """``softmax(q kᵀ/√d) v`` per head on ``[T, B, N, D]``; reports ``qk`` and ``av``."""
        qh, kh, vh = self.split_heads(q), self.split_heads(k), self.split_heads(v)
        if self.counting:
            T, B, N, D = q.shape
            self.report_ops("qk", macs=T * B * N * N * D, dense_macs_per_sample=N * N * D)
            self.report_ops("av", macs=T * B * N * N * D, dense_macs_per_sample=N * N * D)
        scores = (qh @ kh.transpose(-2, -1)) / math.sqrt(qh.shape[-1])
        return self.merge_heads(scores.softmax(dim=-1) @ vh)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.attend(self.q(x), self.k(x), self.v(x)))
