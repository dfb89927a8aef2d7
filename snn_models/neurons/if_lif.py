r"""Integrate-and-fire (IF) and leaky integrate-and-fire (LIF) neurons.

Both follow with tensors time-major ``[T, B, ...]``:

.. math::

    h_t = \beta\, v_{t-1} + x_t, \qquad s_t = H(h_t - \theta)\ \ (H(0) = 0),

    v_t = \begin{cases} h_t (1 - s_t) + v_{reset}\, s_t & \text{hard reset (default)} \\
                        h_t - \theta\, s_t & \text{soft reset} \end{cases}

IF is the case :math:`\beta = 1`; LIF uses :math:`\beta = 1 - 1/\tau` or a given ``decay``.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from snn_models.errors import ConfigError
from snn_models.neurons._kernels import LinearMultiStep, lif_charge
from snn_models.neurons.base import BaseNeuron, StepMode
from snn_models.surrogate import Surrogate


class LIFNode(BaseNeuron):
    r"""Leaky integrate-and-fire neuron.

    :math:`h_t = \beta v_{t-1} + x_t`, spike :math:`s_t = H(h_t - \theta)`, then a hard reset to
    ``v_reset`` (default 0, NIR-compatible) or a soft reset (subtract theta).

    Args:
        decay: membrane decay :math:`\beta \in [0, 1]`; overrides ``tau`` when given.
        tau: membrane time constant in steps; :math:`\beta = 1 - 1/\tau`. Default 2.0
            (:math:`\beta = 0.5`).
        threshold: firing threshold :math:`\theta`. Default 1.0.
        v_reset: value after a hard reset. Default 0.0.
        soft_reset: subtract :math:`\theta` instead of resetting to ``v_reset``.
        learn_decay: make :math:`\beta` trainable (clamped to [0, 1] in the forward pass).
        learn_threshold: make :math:`\theta` trainable.
        surrogate: surrogate gradient (a fresh ``ATan(alpha=2)`` by default).
        detach_reset: no gradient through the reset path (default).
        step_mode: ``"m"`` for ``[T, B, ...]`` input (default) or ``"s"`` for ``[B, ...]``.

    Example:
        >>> import torch
        >>> lif = LIFNode(decay=0.9, threshold=1.0)
        >>> x = torch.full((4, 1, 1), 0.6)   # T=4, B=1, one neuron
        >>> lif(x).flatten().tolist()        # 0.6, 1.14 -> spike, 0.6, 1.14 -> spike
        [0.0, 1.0, 0.0, 1.0]
    """

    search_args: ClassVar[tuple[str, ...]] = ("tau", "v_reset", "soft_reset")

    def __init__(
        self,
        *,
        decay: float | None = None,
        tau: float = 2.0,
        threshold: float = 1.0,
        v_reset: float = 0.0,
        soft_reset: bool = False,
        learn_decay: bool = False,
        learn_threshold: bool = False,
        surrogate: Surrogate | None = None,
        detach_reset: bool = True,
        step_mode: StepMode = "m",
    ) -> None:
        super().__init__(
            threshold=threshold,
            learn_threshold=learn_threshold,
            surrogate=surrogate,
            detach_reset=detach_reset,
            step_mode=step_mode,
        )
        if decay is None:
            if not tau >= 1.0:
                raise ConfigError(f"LIF tau must be >= 1 step, got {tau}")
            decay = 1.0 - 1.0 / tau
        if not 0.0 <= decay <= 1.0:
            raise ConfigError(f"LIF decay must be in [0, 1], got {decay}")
        self.decay: Tensor | float = (
            nn.Parameter(torch.tensor(float(decay))) if learn_decay else float(decay)
        )
        self.v_reset = float(v_reset)
        self.soft_reset = soft_reset

    def _beta(self) -> Tensor | float:
        return self.decay.clamp(0.0, 1.0) if isinstance(self.decay, Tensor) else self.decay

    def multi_step(self, x_seq: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        return LinearMultiStep.apply(
            x_seq,
            v,
            self._beta(),
            self.threshold,
            self.v_reset,
            self.soft_reset,
            self.detach_reset,
            self.surrogate,
        )

    def single_step(self, x: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        h = lif_charge(v, x, self._beta())
        s = self.surrogate(h - self.threshold)
        sr = s.detach() if self.detach_reset else s
        v_new = h - self.threshold * sr if self.soft_reset else h * (1 - sr) + self.v_reset * sr
        return s, v_new

    def extra_repr(self) -> str:
        d = self.decay if isinstance(self.decay, float) else "learnable"
        reset = "soft" if self.soft_reset else f"hard(v_reset={self.v_reset})"
        return f"decay={d}, reset={reset}, " + super().extra_repr()


class IFNode(LIFNode):
    r"""Integrate-and-fire neuron: :class:`LIFNode` with :math:`\beta = 1` (no leak).

    :math:`h_t = v_{t-1} + x_t`, :math:`s_t = H(h_t - \theta)`, hard reset to ``v_reset`` (default)
    or soft reset. Accepts the same arguments as :class:`LIFNode` except the decay ones.

    Example:
        >>> import torch
        >>> IFNode(threshold=1.0)(torch.full((4, 1), 0.4)).flatten().tolist()
        [0.0, 0.0, 1.0, 0.0]
    """

    search_args: ClassVar[tuple[str, ...]] = ("v_reset", "soft_reset")

    def __init__(
        self,
        *,
        threshold: float = 1.0,
        v_reset: float = 0.0,
        soft_reset: bool = False,
        learn_threshold: bool = False,
        surrogate: Surrogate | None = None,
        detach_reset: bool = True,
        step_mode: StepMode = "m",
    ) -> None:
        super().__init__(
            decay=1.0,
            threshold=threshold,
            v_reset=v_reset,
            soft_reset=soft_reset,
            learn_threshold=learn_threshold,
            surrogate=surrogate,
            detach_reset=detach_reset,
            step_mode=step_mode,
        )
