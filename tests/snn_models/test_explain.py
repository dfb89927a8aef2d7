"""Spike activation maps equal a hand computation (DESIGN.md §4, gamma = 0.5)."""

from __future__ import annotations

import math

import pytest
import torch

from snn_models.explain import neuronal_contribution, spike_activation_map


def test_sam_matches_a_hand_computation_on_a_tiny_spike_train() -> None:
    # T = 4, C = 2 channels, one row of 2 positions (H = 1, W = 2)
    s = torch.zeros(4, 2, 1, 2)
    s[0, 0, 0, 0] = 1  # channel 0, position (0,0): spikes at t = 0, 2, 3
    s[2, 0, 0, 0] = 1
    s[3, 0, 0, 0] = 1
    s[3, 1, 0, 0] = 1  # channel 1, position (0,0): first spike at t = 3
    s[1, 1, 0, 1] = 1  # channel 1, position (0,1): spikes at t = 1 and 3
    s[3, 1, 0, 1] = 1
    e = math.exp(-0.5)
    raw = spike_activation_map(s, normalize=False)
    # t = 0: only (0,0) ch0 spikes, NCS = 1
    assert raw[0].flatten().tolist() == pytest.approx([1.0, 0.0])
    # t = 1: only (0,1) ch1 spikes, NCS = 1; (0,0) is silent: contributes nothing
    assert raw[1].flatten().tolist() == pytest.approx([0.0, 1.0])
    # t = 2: (0,0) ch0 spikes again: NCS = e^{-1} (t'=0) + 1 (t'=2); (0,1) silent
    assert raw[2].flatten().tolist() == pytest.approx([e**2 + 1.0, 0.0])
    # t = 3: (0,0): ch0 NCS = e^{-1.5} + e^{-0.5} + 1, ch1 NCS = 1; (0,1): ch1 e^{-1} + 1
    assert raw[3].flatten().tolist() == pytest.approx([e**3 + e + 1.0 + 1.0, e**2 + 1.0])
    norm = spike_activation_map(s)
    assert norm[3].flatten().tolist() == pytest.approx([1.0, (e**2 + 1) / (e**3 + e + 2)])
    assert float(norm.max()) == pytest.approx(1.0)


def test_silence_gives_a_zero_map_and_bad_shapes_are_refused() -> None:
    assert torch.equal(spike_activation_map(torch.zeros(3, 2, 2, 2)), torch.zeros(3, 2, 2))
    ncs = neuronal_contribution(torch.tensor([1.0, 0.0, 0.0, 1.0]))
    e = math.exp(-0.5)
    assert ncs.tolist() == pytest.approx([1.0, e, e**2, e**3 + 1.0])  # silent steps only decay
    with pytest.raises(ValueError, match=r"\[T, C, H, W\]"):
        spike_activation_map(torch.zeros(3, 2))
