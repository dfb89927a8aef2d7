r"""Adaptive attention: a learnable gate between standard attention and SDSA.

.. math::

    \alpha = \sigma(g), \qquad
    Y_{train} = \alpha\, \mathrm{Standard}(X) + (1 - \alpha)\, \mathrm{SDSA}(X), \qquad
    Y_{eval} = \begin{cases} \mathrm{Standard}(X) & \alpha > 0.5 \\
                             \mathrm{SDSA}(X) & \text{otherwise} \end{cases}

The two branches are complete blocks with their own weights (:class:`StandardAttention` and
:class:`SpikeDrivenSelfAttention`). While training, both run and the gate learns which one the task
needs. In eval mode only the preferred branch runs, so the energy meter counts only it (the other
branch's layers stay at zero). A tie (α = 0.5, the initial value for ``init_gate = 0``) prefers
SDSA, the cheaper branch.

**Counting rule:** the branches report their own terms (see their modules); the gate itself, a
scalar mix, is not counted.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from snn_models.attention.base import AttentionBlock, NeuronConfig
from snn_models.attention.sdsa import SDSA_THRESHOLD, SpikeDrivenSelfAttention
from snn_models.attention.standard import StandardAttention

Branch = Literal["standard", "sdsa"]


class AdaptiveAttention(AttentionBlock):
    r"""Gate :math:`\alpha = \sigma(g)` mixing standard attention (α) and SDSA (1 − α).

    See the module docstring for the equations.

    Args:
        dim: model dimension D.
        heads: number of heads H (must divide ``dim``).
        neuron: recipe of the SDSA branch's Q, K, V neurons (default LIF).
        init_gate: initial gate logit g (0: α = 0.5).
        inner_threshold: threshold of the SDSA branch's inner neuron. Default 0.5.

    Attributes:
        standard, sdsa: the two branches.
        gate: the logit g (a trainable scalar).

    Example:
        >>> import torch
        >>> attn = AdaptiveAttention(8, heads=2, init_gate=2.0).eval()
        >>> attn.preference()
        'standard'
        >>> attn((torch.rand(4, 2, 5, 8) > 0.5).float()).shape
        torch.Size([4, 2, 5, 8])
    """

    OP_TERMS: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        dim: int,
        heads: int = 1,
        *,
        neuron: NeuronConfig | None = None,
        init_gate: float = 0.0,
        inner_threshold: float = SDSA_THRESHOLD,
    ) -> None:
        super().__init__(dim, heads)
        self.standard = StandardAttention(dim, heads)
        self.sdsa = SpikeDrivenSelfAttention(
            dim, heads, neuron=neuron, inner_threshold=inner_threshold
        )
        self.gate = nn.Parameter(torch.tensor(float(init_gate)))

    @property
    def alpha(self) -> Tensor:
        """The weight of the standard branch, σ(g)."""
        return torch.sigmoid(self.gate)

    def preference(self) -> Branch:
        """``"standard"`` when α > 0.5, else ``"sdsa"`` (the branch that runs in eval mode)."""
        return "standard" if float(self.gate.detach()) > 0.0 else "sdsa"

    #: The eval-mode branch as a Python value, fixed when ``eval()`` is called (and on every
    #: eager eval call), so that tracing and torch.export (ONNX) see a constant instead of
    #: reading the gate's value.
    _branch: Branch = "sdsa"

    def train(self, mode: bool = True) -> AdaptiveAttention:
        self._branch = self.preference()
        return super().train(mode)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            exporting = torch.jit.is_tracing() or torch.compiler.is_exporting()
            branch = self._branch if exporting else self.preference()
            if not exporting:
                self._branch = branch
            return self.standard(x) if branch == "standard" else self.sdsa(x)
        a = self.alpha
        return a * self.standard(x) + (1 - a) * self.sdsa(x)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", alpha={float(self.alpha.detach()):.3f}"
