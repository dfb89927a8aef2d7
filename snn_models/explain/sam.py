r"""The spike activation map itself: contribution scores and per-step maps of one sample.

The definition (Kim & Panda 2021) is in :mod:`snn_models.explain`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

GAMMA = 0.5


def neuronal_contribution(spikes: Tensor, gamma: float = GAMMA) -> Tensor:
    r""":math:`NCS_t` for every step: ``spikes`` ``[T, ...]`` of 0/1 → the same shape.

    Computed by the recursion :math:`NCS_t = e^{-\gamma} NCS_{t-1} + s_t` (:math:`NCS_{-1} = 0`),
    which equals the sum over earlier and current spike times.
    """
    if spikes.dim() < 1 or spikes.shape[0] == 0:
        raise ValueError(f"spikes must be [T, ...] with T >= 1, got {tuple(spikes.shape)}")
    if not gamma >= 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    decay = math.exp(-gamma)
    out = torch.empty_like(spikes, dtype=torch.float32)
    trace = torch.zeros_like(spikes[0], dtype=torch.float32)
    for t in range(spikes.shape[0]):
        trace = trace * decay + spikes[t].float()
        out[t] = trace
    return out


def spike_activation_map(spikes: Tensor, gamma: float = GAMMA, *, normalize: bool = True) -> Tensor:
    """SAM of one sample's feature maps: ``spikes`` ``[T, C, H, W]`` → ``[T, H, W]``.

    Args:
        spikes: the spikes of one layer for one sample (time first, channels second).
        gamma: the decay of the contribution score per step.
        normalize: scale each step's map to [0, 1] by its maximum.
    """
    if spikes.dim() != 4:
        raise ValueError(f"spikes must be [T, C, H, W] for one sample, got {tuple(spikes.shape)}")
    ncs = neuronal_contribution(spikes, gamma)
    sam = (ncs * spikes.float()).sum(dim=1)
    if normalize:
        peak = sam.flatten(1).amax(dim=1).clamp_min(1e-12).view(-1, 1, 1)
        sam = torch.where(sam.flatten(1).amax(dim=1).view(-1, 1, 1) > 0, sam / peak, sam)
    return sam


__all__ = ["GAMMA", "neuronal_contribution", "spike_activation_map"]
