r"""Spike-driven self-attention (SDSA), as in the official Spike-driven Transformer code.

Yao et al., "Spike-driven Transformer", NeurIPS 2023 (``MS_SSA_Conv``, mode ``direct_xor``).
With spike input :math:`X \in \{0,1\}^{T\times B\times N\times D}`:

.. math::

    Q = \mathrm{SN}(\mathrm{BN}(X W_Q)),\quad K = \mathrm{SN}(\mathrm{BN}(X W_K)),\quad
    V = \mathrm{SN}(\mathrm{BN}(X W_V))

    \mathrm{SDSA}(Q, K, V) = Q \odot \mathrm{SN}_{0.5}\Big(\sum_{n=1}^{N} (K \odot V)_{n,:}\Big),
    \qquad Y = \mathrm{BN}(\mathrm{SDSA}(Q, K, V)\, W_O)

:math:`\mathrm{SN}_{0.5}` is a LIF neuron (τ = 2) with threshold 0.5 that runs over the T steps
of the per-channel column sums (one value per sample and feature). Everything is a mask or an
addition, and the cost is :math:`O(N D)`. Heads do not change the result (every operation is
per feature); ``heads`` is kept for the common interface.

**Counting rule** (per forward, summed over steps and samples):

* ``kv``: :math:`K \odot V` is a mask (an AND of spikes: free); the column sum over tokens costs
  one accumulate per nonzero element of :math:`K \odot V`:
  :math:`\mathrm{AC}_{kv} = \sum_{t,b,n,d} k_{t,b,n,d}\, v_{t,b,n,d}`.
* ``q_mask``: :math:`Q \odot \mathrm{SN}(\cdot)` is a mask: 0 operations.
* The inner neuron's state update is not counted (as for every neuron).

The equivalent ANN pays :math:`N D` MACs for each of the two terms per step and sample.
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from snn_models.attention.base import AttentionBlock, NeuronConfig, Projection

#: Threshold of the neuron on the column sums (official code: ``talking_heads_lif``).
SDSA_THRESHOLD = 0.5


class SpikeDrivenSelfAttention(AttentionBlock):
    r"""Spike-driven self-attention: :math:`Q \odot \mathrm{SN}_{0.5}(\sum_n K \odot V)`.

    See the module docstring for the equations and the counting rule.

    Args:
        dim: model dimension D.
        heads: number of heads (must divide ``dim``; no effect on the result).
        neuron: recipe of the Q, K, V neurons (default LIF).
        inner_threshold: threshold of the LIF neuron on the column sums. Default 0.5.

    Example:
        >>> import torch
        >>> attn = SpikeDrivenSelfAttention(8, heads=2).eval()
        >>> attn((torch.rand(4, 2, 5, 8) > 0.5).float()).shape
        torch.Size([4, 2, 5, 8])
    """

    OP_TERMS: ClassVar[dict[str, str]] = {"kv": "spikes", "q_mask": "spikes"}

    def __init__(
        self,
        dim: int,
        heads: int = 1,
        *,
        neuron: NeuronConfig | None = None,
        inner_threshold: float = SDSA_THRESHOLD,
    ) -> None:
        super().__init__(dim, heads)
        neuron = neuron if neuron is not None else NeuronConfig()
        self.q, self.k, self.v = Projection(dim, dim), Projection(dim, dim), Projection(dim, dim)
        self.q_sn, self.k_sn, self.v_sn = neuron.make(), neuron.make(), neuron.make()
        self.kv_sn = neuron.inner(inner_threshold).make()
        self.proj = Projection(dim, dim)

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """``q ⊙ SN(Σ_tokens k ⊙ v)`` on spikes ``[T, B, N, D]``; reports ``kv`` and ``q_mask``."""
        kv = k * v
        if self.counting:
            N, D = q.shape[-2:]
            self.report_ops("kv", acs=int(kv.detach().sum()), dense_macs_per_sample=N * D)
            self.report_ops("q_mask", dense_macs_per_sample=N * D)
        return q * self.kv_sn(kv.sum(dim=-2, keepdim=True))

    def forward(self, x: Tensor) -> Tensor:
        q = self.q_sn(self.q(x))
        k = self.k_sn(self.k(x))
        v = self.v_sn(self.v(x))
        return self.proj(self.attend(q, k, v))
