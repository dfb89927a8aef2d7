r"""What every attention block shares: the interface, token projections, fresh neurons, op reports.

**Interface.** An attention block maps spikes ``[T, B, N, D]`` (T steps, B samples, N tokens,
D features) to a real-valued ``[T, B, N, D]`` tensor that the transformer adds to its membrane
stream. Every block computes Q, K, V with token-wise projections of the input, combines them in
:meth:`AttentionBlock.attend` (the part that differs between types), and ends with an output
projection (linear + BatchNorm, as in Spikformer).

**Operation reports.** The projections are ``nn.Linear`` modules, so the energy meter's hooks
count them (SOPs on spikes, MACs on real values). The products *inside* attention (QKᵀ, AV,
K ⊙ V, ...) are not modules; a block reports them itself with :meth:`AttentionBlock.report_ops`.
Reports go to :attr:`AttentionBlock.op_sink`, a callable that :class:`snn_models.EnergyMeter`
installs for the duration of its ``with`` block and removes afterwards. Outside a meter the sink
is ``None``: nothing is counted, nothing is stored, and counting costs nothing during training.
Each block lists the terms it reports in :attr:`AttentionBlock.OP_TERMS` (term → ``"spikes"`` for
accumulates on binary operands, ``"real"`` for multiply-accumulates).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from torch import Tensor, nn

from snn_models.errors import ConfigError
from snn_models.layers import TimeDistributed
from snn_models.neurons import BaseNeuron, make_neuron
from snn_models.surrogate import make_surrogate


@dataclass(frozen=True)
class OpCount:
    """Operations of one attention term in one forward pass (all steps and samples of the batch).

    Attributes:
        term: the term's name, a key of the block's :attr:`AttentionBlock.OP_TERMS`.
        acs: accumulates (additions) actually needed, priced like SOPs (E_AC each).
        macs: multiply-accumulates, priced E_MAC each.
        dense_macs_per_sample: MACs of the same term computed densely, for one step of one
            sample: what the equivalent ANN pays.
    """

    term: str
    acs: int = 0
    macs: int = 0
    dense_macs_per_sample: int = 0


OpSink = Callable[[OpCount], None]


@dataclass(frozen=True)
class NeuronConfig:
    """A recipe for fresh neurons (plain data: each :meth:`make` builds a new neuron and surrogate).

    Attributes:
        kind: a key of :data:`snn_models.neurons.NEURONS` (``if``, ``lif``, ``bif``).
        kwargs: constructor arguments of the neuron (``threshold``, ``decay``, ...).
        surrogate: surrogate-gradient name (``atan``, ``sigmoid``, ``triangle``).
        surrogate_alpha: its shape parameter (``None``: its default).
        where: the config key named in error messages.

    Example:
        >>> cfg = NeuronConfig("if", {"threshold": 0.8})
        >>> a, b = cfg.make(), cfg.make()
        >>> a is not b and a.surrogate is not b.surrogate and a.threshold == 0.8
        True
    """

    kind: str = "lif"
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    surrogate: str = "atan"
    surrogate_alpha: float | None = None
    where: str = "neuron"

    def make(self, **overrides: Any) -> BaseNeuron:
        """A new neuron; ``overrides`` replace entries of :attr:`kwargs`."""
        kw = {**self.kwargs, **overrides}
        kw["surrogate"] = make_surrogate(self.surrogate, self.surrogate_alpha)
        try:
            return make_neuron(self.kind, where=self.where, **kw)
        except ConfigError as e:
            if str(e).startswith(f"{self.where}:"):
                raise
            raise ConfigError(f"{self.where}: {e}") from None

    def inner(self, threshold: float) -> NeuronConfig:
        """The neuron inside SSA/SDSA: LIF with τ = 2 (decay 0.5) and the given threshold, as in
        the official Spikformer and Spike-driven Transformer code; same surrogate as this one."""
        return NeuronConfig(
            "lif",
            {"threshold": threshold, "decay": 0.5},
            self.surrogate,
            self.surrogate_alpha,
            f"{self.where} (attention-internal)",
        )


class Projection(nn.Module):
    """Token-wise linear map (no bias) followed by BatchNorm over features.

    ``[T, B, N, n_in] -> [T, B, N, n_out]`` (also ``[T, B, n_in]``). The ``nn.Linear`` sits inside
    a :class:`~snn_models.layers.TimeDistributed`, so the energy meter sees ``[T*B, N, n_in]`` and
    counts it per step per sample like any other synaptic layer.

    Example:
        >>> import torch
        >>> Projection(4, 6)(torch.ones(2, 3, 5, 4)).shape
        torch.Size([2, 3, 5, 6])
    """

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.linear = TimeDistributed(nn.Linear(n_in, n_out, bias=False))
        self.bn = nn.BatchNorm1d(n_out)

    def forward(self, x: Tensor) -> Tensor:
        y = self.linear(x)
        return self.bn(y.reshape(-1, y.shape[-1])).reshape(y.shape)


class AttentionBlock(nn.Module):
    """Base class of attention blocks: spikes ``[T, B, N, D]`` in, real ``[T, B, N, D]`` out.

    Args:
        dim: model dimension D (>= 1).
        heads: number of heads H; must divide ``dim``.

    Attributes:
        OP_TERMS: the terms the block reports, each mapped to ``"spikes"`` (accumulates on binary
            operands) or ``"real"`` (multiply-accumulates).
        op_sink: where :meth:`report_ops` sends counts; set by the energy meter, else ``None``.
    """

    OP_TERMS: ClassVar[dict[str, str]] = {}

    def __init__(self, dim: int, heads: int = 1) -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ConfigError(f"dim: must be a positive integer, got {dim!r}")
        if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
            raise ConfigError(f"heads: must be a positive integer, got {heads!r}")
        if dim % heads:
            raise ConfigError(f"heads: {heads} does not divide dim {dim}; choose a divisor of dim")
        self.dim = dim
        self.heads = heads
        self.op_sink: OpSink | None = None

    @property
    def counting(self) -> bool:
        """True while an energy meter listens (compute counts only then)."""
        return self.op_sink is not None

    def report_ops(
        self, term: str, *, acs: int = 0, macs: int = 0, dense_macs_per_sample: int = 0
    ) -> None:
        """Send the counts of one term to the installed sink (a no-op without one)."""
        if self.op_sink is not None:
            self.op_sink(OpCount(term, int(acs), int(macs), int(dense_macs_per_sample)))

    def split_heads(self, x: Tensor) -> Tensor:
        """``[T, B, N, D] -> [T, B, H, N, D/H]``."""
        T, B, N, D = x.shape
        return x.reshape(T, B, N, self.heads, D // self.heads).transpose(2, 3)

    def merge_heads(self, x: Tensor) -> Tensor:
        """``[T, B, H, N, D/H] -> [T, B, N, D]``."""
        T, B, H, N, d = x.shape
        return x.transpose(2, 3).reshape(T, B, N, H * d)

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """The attention proper on projected ``q, k, v`` (``[T, B, N, D]`` each)."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.heads}"
