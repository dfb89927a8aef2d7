"""The shape every spiking neuron module shares.

A neuron declares its state with :meth:`BaseNeuron.register_state` and gets one uniform
:meth:`reset` (SpikingJelly's memory pattern, without a global instance list). ``step_mode``
switches between single-step input ``[B, ...]`` (state carried between calls) and multi-step input
``[T, B, ...]`` (all T steps in one fused autograd Function).

Each forward pass records the layer's mean firing rate in :attr:`last_spike_rate` (a detached
0-dim tensor), which the runaway/silence monitor and ``evolve train`` read.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from snn_models.errors import ConfigError
from snn_models.surrogate import ATan, Surrogate

StepMode = Literal["s", "m"]

#: A layer firing more often than this is "runaway".
RUNAWAY_RATE = 0.95
#: A layer firing less often than this is "silent".
SILENT_RATE = 0.05


class BaseNeuron(nn.Module):
    """Common state handling, step modes and monitoring for spiking neurons.

    Args:
        threshold: firing threshold theta (spike when the membrane is strictly above it).
        learn_threshold: make theta a trainable parameter.
        surrogate: surrogate-gradient module; a fresh :class:`ATan` when ``None``.
        detach_reset: cut the gradient through the reset (default, as in most SNN recipes).
        step_mode: ``"s"`` for ``[B, ...]`` input, ``"m"`` for ``[T, B, ...]`` (default).

    Attributes:
        search_args: the constructor arguments a search may set per layer, as the flat key
            ``layer.<i>.<name>`` (they reach the neuron through ``LayerSpec.neuron_args``). Each
            subclass declares its own, explicitly; each must be a keyword its constructor accepts
            (the neuron contract test checks it). Arguments that are
            :class:`~snn_models.config.LayerSpec` fields (``threshold``, ``decay``,
            ``learn_threshold``, ...) are set through those fields and are not listed here.
    """

    search_args: ClassVar[tuple[str, ...]] = ()

    v: Tensor | None

    def __init__(
        self,
        *,
        threshold: float = 1.0,
        learn_threshold: bool = False,
        surrogate: Surrogate | None = None,
        detach_reset: bool = True,
        step_mode: StepMode = "m",
    ) -> None:
        super().__init__()
        if step_mode not in ("s", "m"):
            raise ConfigError(f"step_mode must be 's' or 'm', got {step_mode!r}")
        self.step_mode: StepMode = step_mode
        self.surrogate = surrogate if surrogate is not None else ATan()
        self.detach_reset = detach_reset
        self.threshold: Tensor | float
        if learn_threshold:
            self.threshold = nn.Parameter(torch.tensor(float(threshold)))
        else:
            self.threshold = float(threshold)
        self._state_defaults: dict[str, Any] = {}
        #: run multi-step input as a loop of :meth:`single_step` (plain tensor ops that
        #: TorchScript and ONNX can record) instead of the fused autograd kernel; see
        #: :func:`snn_models.functional.step_loop`
        self.step_loop = False
        self.last_spike_rate: Tensor | None = None
        self.register_state("v", None)

    # ------------------------------------------------------------------ state
    def register_state(self, name: str, default: Any) -> None:
        """Declare a piece of state; :meth:`reset` restores it to ``default``."""
        self._state_defaults[name] = default
        setattr(self, name, default)

    def reset(self) -> None:
        """Forget all state (call between independent samples or batches)."""
        for name, default in self._state_defaults.items():
            setattr(self, name, default)
        self.last_spike_rate = None

    # ------------------------------------------------------------------ forward
    def forward(self, x: Tensor) -> Tensor:
        if self.step_mode == "m":
            if x.dim() < 2:
                raise ConfigError(
                    f"multi-step input must be [T, B, ...], got shape {tuple(x.shape)}"
                )
            v0 = self.v if self.v is not None else self.initial_v(x[0])
            if self.step_loop:  # traceable: plain ops, one step at a time (export)
                v, steps = v0, []
                for t in range(x.shape[0]):
                    s, v = self.single_step(x[t], v)
                    steps.append(s)
                spikes, self.v = torch.stack(steps), v
            else:
                spikes, self.v = self.multi_step(x, v0)
        else:
            v0 = self.v if self.v is not None else self.initial_v(x)
            spikes, self.v = self.single_step(x, v0)
        self.last_spike_rate = spikes.detach().mean()
        return spikes

    def initial_v(self, like: Tensor) -> Tensor:
        """The membrane at the start of a sequence (zeros unless a neuron overrides it)."""
        return torch.zeros_like(like)

    def multi_step(self, x_seq: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """All T steps at once; returns (spikes [T, B, ...], final membrane)."""
        raise NotImplementedError

    def single_step(self, x: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """One step with plain autograd; returns (spikes [B, ...], new membrane)."""
        raise NotImplementedError

    def health(self) -> str:
        """``"runaway"``, ``"silent"`` or ``"ok"`` from the last forward's firing rate."""
        if self.last_spike_rate is None:
            return "unknown"
        rate = float(self.last_spike_rate)
        if rate > RUNAWAY_RATE:
            return "runaway"
        if rate < SILENT_RATE:
            return "silent"
        return "ok"

    def extra_repr(self) -> str:
        th = self.threshold if isinstance(self.threshold, float) else "learnable"
        return f"threshold={th}, detach_reset={self.detach_reset}, step_mode={self.step_mode!r}"
