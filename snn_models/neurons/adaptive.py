r"""A neuron whose dynamics can move between LIF and BIF during training.

.. math::

    h_t = (1 - m)\,(\beta v_{t-1} + x_t) + m\,\mathrm{BIF}(v_{t-1}, x_t), \qquad
    s_t = H(h_t - \theta), \qquad v_t = h_t (1 - s_t) + m\,v^{BIF}_{reset}\, s_t

with :math:`\mathrm{BIF}(v, x) = \mathrm{clamp}(v + (x + a_0 (v - v_{rest})(v - v_c))/\tau)` the
update of :class:`~snn_models.neurons.BIFNode`. The mix :math:`m \in [0, 1]` is set from outside
by a training-time controller (``evolve.training.selector.NeuronSelector``): ``m = 0`` is exactly a
:class:`~snn_models.neurons.LIFNode` (same fused kernel), ``m = 1`` exactly a ``BIFNode``, and
values in between are the warm-up path from one to the other (run step by step with autograd).
Spikes stay binary at every ``m``, so the energy model counts them like any other.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from snn_models.errors import ConfigError
from snn_models.neurons._kernels import (
    BIFMultiStep,
    LinearMultiStep,
    bif_charge,
    bif_drive,
    lif_charge,
)
from snn_models.neurons.base import BaseNeuron, StepMode
from snn_models.neurons.bif import BIFNode
from snn_models.surrogate import Surrogate


class AdaptiveNode(BaseNeuron):
    r"""LIF ↔ BIF switchable neuron (see the module docstring for the equations).

    Args:
        start: ``"lif"`` (default) or ``"bif"``: the initial mix 0 or 1.
        decay: LIF decay beta (default ``1 - 1/tau``); tau: LIF time constant in steps.
        threshold, learn_threshold, surrogate, detach_reset, step_mode: as in :class:`LIFNode`.
        **bif_kwargs: BIF parameters (``v_c``, ``v_reset``, ``a0``, ...), validated as in
            :class:`BIFNode`; the BIF ``tau`` is ``bif_tau``.

    Example:
        >>> import torch
        >>> n = AdaptiveNode().eval()
        >>> n.kind
        'lif'
        >>> n.set_mix(1.0)
        >>> n.kind
        'bif'
    """

    #: ``tau`` (its LIF side) and the BIF parameters it forwards to :class:`BIFNode` through
    #: ``**bif_kwargs`` (``bif_tau`` is not searched).
    search_args: ClassVar[tuple[str, ...]] = (
        "tau",
        "a0",
        "v_rest",
        "v_c",
        "v_reset",
        "v_min",
        "v_max",
        "init_noise",
    )

    def __init__(
        self,
        *,
        start: str = "lif",
        decay: float | None = None,
        tau: float = 2.0,
        threshold: float = 1.0,
        learn_threshold: bool = False,
        surrogate: Surrogate | None = None,
        detach_reset: bool = True,
        step_mode: StepMode = "m",
        bif_tau: float = 2.0,
        **bif_kwargs: Any,
    ) -> None:
        super().__init__(
            threshold=threshold,
            learn_threshold=learn_threshold,
            surrogate=surrogate,
            detach_reset=detach_reset,
            step_mode=step_mode,
        )
        if start not in ("lif", "bif"):
            raise ConfigError(f"adaptive neuron start must be 'lif' or 'bif', got {start!r}")
        if decay is None:
            decay = 1.0 - 1.0 / tau
        if not 0.0 <= decay <= 1.0:
            raise ConfigError(f"adaptive neuron decay must be in [0, 1], got {decay}")
        self.decay = float(decay)
        # validates the BIF parameters against this threshold, exactly as a BIFNode would
        self.consts = BIFNode(threshold=threshold, tau=bif_tau, **bif_kwargs).consts
        # a buffer, so that saving/restoring the weights (best-epoch selection) restores it too
        self._mix: Tensor
        self.register_buffer("_mix", torch.tensor(0.0 if start == "lif" else 1.0))
        # its value as a Python float, kept in step with the buffer (set_mix, load_state_dict):
        # the branches below read this, so tracing and torch.export (ONNX) see a constant
        # instead of converting a tensor to a number
        self._mix_value = float(self._mix)

    @property
    def mix(self) -> float:
        """The BIF share ``m`` of the dynamics (0 = LIF, 1 = BIF)."""
        return self._mix_value

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._mix_value = float(self._mix)

    @property
    def kind(self) -> str:
        """``"lif"``, ``"bif"`` or ``"lif~bif"`` (in between, while warming up)."""
        return "lif" if self.mix == 0.0 else "bif" if self.mix == 1.0 else "lif~bif"

    def set_mix(self, mix: float) -> None:
        """Set the BIF share ``m`` of the dynamics (0 = LIF, 1 = BIF)."""
        if not 0.0 <= mix <= 1.0:
            raise ConfigError(f"adaptive neuron mix must be in [0, 1], got {mix}")
        self._mix.fill_(float(mix))
        self._mix_value = float(mix)

    def initial_v(self, like: Tensor) -> Tensor:
        if self.mix == 0.0:
            return torch.zeros_like(like)
        return torch.full_like(like, self.mix * self.consts.v_c)

    def multi_step(self, x_seq: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        if self.mix == 0.0:
            out: tuple[Tensor, Tensor] = LinearMultiStep.apply(
                x_seq, v, self.decay, self.threshold, 0.0, False, self.detach_reset, self.surrogate
            )
            return out
        if self.mix == 1.0:
            out = BIFMultiStep.apply(
                x_seq, v, self.threshold, self.consts, self.detach_reset, self.surrogate
            )
            return out
        spikes = []
        for t in range(x_seq.shape[0]):
            s, v = self.single_step(x_seq[t], v)
            spikes.append(s)
        return torch.stack(spikes), v

    def single_step(self, x: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        p, m = self.consts, self.mix
        if m == 0.0:
            h = lif_charge(v, x, self.decay)
            v_reset = 0.0
        elif m == 1.0:
            h = bif_charge(v, bif_drive(x, p), p)
            v_reset = p.v_reset
        else:
            h_lif = lif_charge(v, x, self.decay)
            h_bif = bif_charge(v, bif_drive(x, p), p)
            h = (1 - m) * h_lif + m * h_bif
            v_reset = m * p.v_reset
        s = self.surrogate(h - self.threshold)
        sr = s.detach() if self.detach_reset else s
        return s, h * (1 - sr) + v_reset * sr

    def extra_repr(self) -> str:
        return f"mix={self.mix}, decay={self.decay}, " + super().extra_repr()
