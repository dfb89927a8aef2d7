r"""The STDP rules (:class:`STDPRule`, :class:`RewardSTDPRule`) and their trace and pair maths.

The equations and the ordering within a step are in :mod:`snn_models.plasticity`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from snn_models.errors import ConfigError


# ---------------------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class STDPRule:
    r"""Parameters of the trace-based pair STDP rule (module docstring for the equations).

    Args:
        lr: learning rate :math:`\eta` (a negative value gives anti-Hebbian STDP).
        a_plus: potentiation amplitude :math:`A_+`.
        a_minus: depression amplitude :math:`A_-` (classic: :math:`1.05 A_+`).
        tau_plus: presynaptic trace time constant :math:`\tau_+` in steps.
        tau_minus: postsynaptic trace time constant :math:`\tau_-` in steps.
        w_min: lower weight bound.
        w_max: upper weight bound.

    Raises:
        ConfigError: a non-positive time constant, ``w_min > w_max`` or a non-finite value.
    """

    lr: float = 1e-3
    a_plus: float = 1.0
    a_minus: float = 1.05
    tau_plus: float = 20.0
    tau_minus: float = 20.0
    w_min: float = -1.0
    w_max: float = 1.0

    def __post_init__(self) -> None:
        for key, value in vars(self).items():
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ConfigError(f"stdp.{key}: must be a finite number, got {value!r}")
        for key in ("tau_plus", "tau_minus"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"stdp.{key}: must be > 0 steps, got {getattr(self, key)}")
        if self.w_min > self.w_max:
            raise ConfigError(
                f"stdp.w_min: must be <= w_max, got w_min={self.w_min}, w_max={self.w_max}"
            )

    @property
    def decay_plus(self) -> float:
        r""":math:`\lambda_+ = e^{-1/\tau_+}`."""
        return math.exp(-1.0 / self.tau_plus)

    @property
    def decay_minus(self) -> float:
        r""":math:`\lambda_- = e^{-1/\tau_-}`."""
        return math.exp(-1.0 / self.tau_minus)


@dataclass(frozen=True)
class RewardSTDPRule(STDPRule):
    r"""Reward-modulated STDP: the pair term fills an eligibility trace; a reward applies it.

    Args:
        tau_e: eligibility trace time constant :math:`\tau_e` in steps
            (:math:`\lambda_e = e^{-1/\tau_e}`).
        **others: as :class:`STDPRule`; ``lr`` is :math:`\eta` in :math:`\Delta w = \eta r e`.
    """

    tau_e: float = 100.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tau_e <= 0:
            raise ConfigError(f"stdp.tau_e: must be > 0 steps, got {self.tau_e}")

    @property
    def decay_e(self) -> float:
        r""":math:`\lambda_e = e^{-1/\tau_e}`."""
        return math.exp(-1.0 / self.tau_e)


# ----------------------------------------------------------------------------------- functional
def stdp_traces(spikes: Tensor, decay: float, initial: Tensor | None = None) -> Tensor:
    r"""The trace after every step: :math:`x[t] = \lambda x[t-1] + s[t]`, :math:`x[-1]` = ``initial``.

    Args:
        spikes: ``[T, ...]`` spikes (0/1).
        decay: :math:`\lambda \in (0, 1)`.
        initial: the trace before step 0 (zeros when ``None``), shaped like ``spikes[0]``.

    Returns:
        ``[T, ...]``, the trace at each step *including* that step's spike.

    Example:
        >>> stdp_traces(torch.tensor([1.0, 0.0, 1.0]), 0.5).tolist()
        [1.0, 0.5, 1.25]
    """
    out = torch.empty_like(spikes)
    x = initial if initial is not None else torch.zeros_like(spikes[0])
    for t in range(spikes.shape[0]):
        x = x * decay + spikes[t]
        out[t] = x
    return out


def pair_stdp_term(
    pre: Tensor,
    pre_trace: Tensor,
    post: Tensor,
    post_trace: Tensor,
    a_plus: float,
    a_minus: float,
    time_weights: Tensor | None = None,
) -> Tensor:
    r"""The pair term summed over steps and positions, averaged over the batch.

    .. math::

        \frac{1}{B} \sum_{t, b, p} c_t \left(A_+\, s^{post}_{t b p i}\, x_{t b p j}
        - A_-\, y_{t b p i}\, s^{pre}_{t b p j}\right)

    with :math:`c_t = 1` (plain STDP) or the given ``time_weights`` (R-STDP uses
    :math:`c_t = \lambda_e^{T-1-t}` to fold the eligibility recursion into one product).

    Args:
        pre: presynaptic spikes ``[T, B, P, N]`` (P positions, N inputs).
        pre_trace: :math:`x`, same shape as ``pre``.
        post: postsynaptic spikes ``[T, B, P, M]``.
        post_trace: :math:`y`, same shape as ``post``.
        a_plus: :math:`A_+`.
        a_minus: :math:`A_-`.
        time_weights: optional ``[T]`` weights :math:`c_t`.

    Returns:
        ``[M, N]`` (post × pre, the layout of an ``nn.Linear`` weight).
    """
    T, B, P, N = pre.shape
    M = post.shape[-1]
    if post.shape[:3] != (T, B, P):
        raise ConfigError(
            f"stdp: pre {tuple(pre.shape)} and post {tuple(post.shape)} disagree on [T, B, positions]"
        )
    if time_weights is not None:
        c = time_weights.to(post.dtype).view(T, 1, 1, 1)
        post, post_trace = post * c, post_trace * c
    ltp = post.reshape(-1, M).mT @ pre_trace.reshape(-1, N)
    ltd = post_trace.reshape(-1, M).mT @ pre.reshape(-1, N)
    return (a_plus * ltp - a_minus * ltd) / B


__all__ = ["RewardSTDPRule", "STDPRule", "pair_stdp_term", "stdp_traces"]
