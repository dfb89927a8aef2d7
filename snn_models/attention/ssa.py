r"""Spiking self-attention (SSA), as in Spikformer.

Zhou et al., "Spikformer: When Spiking Neural Network Meets Transformer", ICLR 2023. With spike
input :math:`X \in \{0,1\}^{T\times B\times N\times D}` and, per head h (head width d = D/H):

.. math::

    Q = \mathrm{SN}(\mathrm{BN}(X W_Q)),\quad K = \mathrm{SN}(\mathrm{BN}(X W_K)),\quad
    V = \mathrm{SN}(\mathrm{BN}(X W_V))

    \mathrm{SSA}(Q, K, V) = \mathrm{SN}_{0.5}\big(\mathrm{concat}_h\,(Q_h K_h^\top)\, V_h \cdot s\big),
    \qquad s = 0.125, \qquad Y = \mathrm{BN}(\mathrm{SSA}(Q, K, V)\, W_O)

No softmax: Q and K are non-negative spikes, so :math:`Q_h K_h^\top` is already a non-negative
attention map (integer coincidence counts). :math:`\mathrm{SN}_{0.5}` is a LIF neuron (τ = 2)
with threshold 0.5, as Spikformer's ``attn_lif``. Cost :math:`O(N^2 D)`.

**Counting rule** (per forward, summed over steps, samples and heads; only the additions the
binary operands actually need):

* ``qk``: :math:`A = Q_h K_h^\top` with binary Q, K: each product is an AND (free) and each
  coincidence :math:`q_{i,c} = k_{j,c} = 1` is one accumulate:
  :math:`\mathrm{AC}_{qk} = \sum_{i,j,c} q_{i,c}\, k_{j,c} = \sum_{i,j} A_{i,j}`.
* ``av``: :math:`A V_h` with binary V: each product :math:`A_{i,j} v_{j,c}` is either 0 or
  :math:`A_{i,j}` (a selection, free), and each selected nonzero value is one accumulate:
  :math:`\mathrm{AC}_{av} = \sum_{i,j,c} [A_{i,j} \neq 0]\, v_{j,c}`.
* The scale s = 1/8 is a power of two (a shift, or folded into the threshold): not counted. The
  inner neuron's state update is not counted (as for every neuron).

The equivalent ANN pays :math:`N^2 D` MACs for each of the two terms per step and sample.
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from snn_models.attention.base import AttentionBlock, NeuronConfig, Projection

#: Spikformer's fixed attention scale.
SSA_SCALE = 0.125
#: Threshold of the neuron after the attention product (Spikformer's ``attn_lif``).
SSA_THRESHOLD = 0.5


class SpikingSelfAttention(AttentionBlock):
    r"""Spikformer's SSA: :math:`\mathrm{SN}_{0.5}((Q K^\top) V \cdot 0.125)`, multi-head.

    See the module docstring for the equations and the counting rule.

    Args:
        dim: model dimension D.
        heads: number of heads H (must divide ``dim``).
        neuron: recipe of the Q, K, V neurons (default LIF).
        scale: the constant s. Default 0.125.
        inner_threshold: threshold of the LIF neuron after the product. Default 0.5.

    Example:
        >>> import torch
        >>> attn = SpikingSelfAttention(8, heads=2).eval()
        >>> attn((torch.rand(4, 2, 5, 8) > 0.5).float()).shape
        torch.Size([4, 2, 5, 8])
    """

    OP_TERMS: ClassVar[dict[str, str]] = {"qk": "spikes", "av": "spikes"}

    def __init__(
        self,
        dim: int,
        heads: int = 1,
        *,
        neuron: NeuronConfig | None = None,
        scale: float = SSA_SCALE,
        inner_threshold: float = SSA_THRESHOLD,
    ) -> None:
        super().__init__(dim, heads)
        neuron = neuron if neuron is not None else NeuronConfig()
        self.scale = float(scale)
        self.q, self.k, self.v = Projection(dim, dim), Projection(dim, dim), Projection(dim, dim)
        self.q_sn, self.k_sn, self.v_sn = neuron.make(), neuron.make(), neuron.make()
        self.attn_sn = neuron.inner(inner_threshold).make()
        self.proj = Projection(dim, dim)

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """``SN((q kᵀ) v · s)`` per head on spikes ``[T, B, N, D]``; reports ``qk`` and ``av``."""
        qh, kh, vh = self.split_heads(q), self.split_heads(k), self.split_heads(v)
        a = qh @ kh.transpose(-2, -1)  # [T, B, H, N, N] coincidence counts
        if self.counting:
            N, D = q.shape[-2:]
            ad = a.detach()
            selected = (ad != 0).to(vh.dtype) * vh.detach().sum(-1).unsqueeze(-2)
            self.report_ops("qk", acs=int(ad.sum()), dense_macs_per_sample=N * N * D)
            self.report_ops("av", acs=int(selected.sum()), dense_macs_per_sample=N * N * D)
        y = self.merge_heads(a @ vh) * self.scale
        return self.attn_sn(y)

    def forward(self, x: Tensor) -> Tensor:
        q = self.q_sn(self.q(x))
        k = self.k_sn(self.k(x))
        v = self.v_sn(self.v(x))
        return self.proj(self.attend(q, k, v))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", scale={self.scale}"
