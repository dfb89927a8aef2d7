r"""Bistable integrate-and-fire (BIF): a discrete quadratic integrate-and-fire neuron.

.. math::

    h_t = \mathrm{clamp}\!\left(v_{t-1} + \frac{x_t + a_0 (v_{t-1} - v_{rest})(v_{t-1} - v_c)}{\tau},
          \ v_{min}, v_{max}\right), \qquad s_t = H(h_t - \theta), \qquad
    v_t = h_t (1 - s_t) + v_{reset}\, s_t

With no input the quadratic term has two fixed points: :math:`v_{rest}` (stable) and
:math:`v_c` (unstable). Below :math:`v_c` the membrane relaxes to rest; above it, it accelerates
up to :math:`\theta` and fires. Where the neuron lands after a spike decides its character:

* ``v_reset < v_c`` — **monostable**: after a spike it falls back to rest, like an IF neuron with a
  non-linear leak.
* ``v_reset > v_c`` — **bistable**: after a spike it is already past the unstable point, so it
  climbs back to threshold and fires again with *no input at all*: a periodic orbit coexisting
  with the resting state (Izhikevich 2007, QIF). One kick switches it on; inhibitory input is
  needed to switch it off. That memory costs spikes (energy) and can lock a network, so watch
  :meth:`health` (runaway > 95 %, silent < 5 % firing).

The default ``v_reset = 0.6 > v_c = 0.5`` is bistable; :attr:`is_bistable` says which regime a
neuron is in. Parameters must satisfy ``v_min < v_rest < v_c < theta`` and
``v_reset < theta`` (checked). SpikingJelly's ``QIFNode`` forbids ``v_reset > v_c``, which is why
this one is written here.

The membrane starts near the unstable point :math:`v_c`: exactly :math:`v_c` in eval mode, and
:math:`v_c` plus Gaussian noise of std ``init_noise`` in training mode, so that the input decides on
which side of the threshold ridge each neuron falls.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from snn_models.errors import ConfigError
from snn_models.neurons._kernels import BIFConstants, BIFMultiStep, bif_charge, bif_drive
from snn_models.neurons.base import BaseNeuron, StepMode
from snn_models.surrogate import Surrogate


class BIFNode(BaseNeuron):
    r"""Bistable integrate-and-fire neuron (quadratic membrane, see the module docstring).

    Args:
        tau: membrane time constant in steps (> 0). Default 2.0.
        a0: strength of the quadratic term (> 0). Default 1.0.
        v_rest: stable fixed point. Default 0.0.
        v_c: unstable fixed point (the "threshold ridge"). Default 0.5.
        threshold: spike when the membrane is strictly above it. Default 1.0.
        v_reset: membrane after a spike; above ``v_c`` makes the neuron bistable. Default 0.6.
        v_min, v_max: clamp range of the membrane, for numerical safety. Default -1.0, 2.0.
        init_noise: std of the noise added to the initial membrane ``v_c`` in training mode.
        learn_threshold, surrogate, detach_reset, step_mode: as in :class:`LIFNode`.

    Example:
        >>> import torch
        >>> bif = BIFNode().eval()              # bistable: v_reset 0.6 > v_c 0.5
        >>> x = torch.zeros(40, 1, 1)
        >>> x[0] = 3.0                          # one kick, then no input
        >>> int(bif(x).sum()) > 3               # keeps firing on its own
        True
    """

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
        tau: float = 2.0,
        a0: float = 1.0,
        v_rest: float = 0.0,
        v_c: float = 0.5,
        threshold: float = 1.0,
        v_reset: float = 0.6,
        v_min: float = -1.0,
        v_max: float = 2.0,
        init_noise: float = 0.01,
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
        if not tau > 0 or not a0 > 0:
            raise ConfigError(f"BIF needs tau > 0 and a0 > 0, got tau={tau}, a0={a0}")
        if not v_min < v_rest < v_c < threshold:
            raise ConfigError(
                "BIF needs v_min < v_rest < v_c < threshold, got "
                f"v_min={v_min}, v_rest={v_rest}, v_c={v_c}, threshold={threshold}"
            )
        if not (v_min <= v_reset < threshold and threshold < v_max):
            raise ConfigError(
                f"BIF needs v_min <= v_reset < threshold < v_max, got v_reset={v_reset}, "
                f"threshold={threshold}, v_max={v_max}"
            )
        if init_noise < 0:
            raise ConfigError(f"BIF init_noise must be >= 0, got {init_noise}")
        self.consts = BIFConstants(
            tau=float(tau),
            a0=float(a0),
            v_rest=float(v_rest),
            v_c=float(v_c),
            v_reset=float(v_reset),
            v_min=float(v_min),
            v_max=float(v_max),
        )
        self.a0 = float(a0)
        self.init_noise = float(init_noise)

    @property
    def is_bistable(self) -> bool:
        """True when a spike leaves the membrane above the unstable point (self-sustained firing)."""
        return self.consts.v_reset > self.consts.v_c

    def initial_v(self, like: Tensor) -> Tensor:
        v = torch.full_like(like, self.consts.v_c)
        if self.training and self.init_noise > 0:
            v.add_(torch.randn_like(like), alpha=self.init_noise)
        return v

    def multi_step(self, x_seq: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        return BIFMultiStep.apply(
            x_seq, v, self.threshold, self.consts, self.detach_reset, self.surrogate
        )

    def single_step(self, x: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        h = bif_charge(v, bif_drive(x, self.consts), self.consts)
        s = self.surrogate(h - self.threshold)
        sr = s.detach() if self.detach_reset else s
        return s, h * (1 - sr) + self.consts.v_reset * sr

    def extra_repr(self) -> str:
        p = self.consts
        return (
            f"tau={p.tau}, a0={self.a0}, v_rest={p.v_rest}, v_c={p.v_c}, v_reset={p.v_reset}, "
            f"bistable={self.is_bistable}, " + super().extra_repr()
        )
