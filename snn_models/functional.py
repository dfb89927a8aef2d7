"""Helpers over whole networks: one reset path, step modes, firing rates."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn

from snn_models.neurons.base import BaseNeuron, StepMode


def spiking_layers(model: nn.Module) -> dict[str, BaseNeuron]:
    """All neuron modules of ``model`` by their qualified name, in forward order."""
    return {name: m for name, m in model.named_modules() if isinstance(m, BaseNeuron)}


def neuron_kinds(model: nn.Module) -> dict[str, str]:
    """The :data:`~snn_models.neurons.NEURONS` name (``if``, ``lif``, ...) of each neuron layer."""
    from snn_models.neurons import NEURONS

    names = {cls: name for name, cls in NEURONS.items()}
    return {n: names.get(type(m), type(m).__name__) for n, m in spiking_layers(model).items()}


def attention_blocks(model: nn.Module) -> dict[str, str]:
    """The :data:`~snn_models.attention.ATTENTIONS` name of each outermost attention block.

    The branches inside an ``adaptive`` block are not listed on their own.
    """
    from snn_models.attention import ATTENTIONS, AttentionBlock

    names = {cls: name for name, cls in ATTENTIONS.items()}
    found: dict[str, str] = {}
    for n, m in model.named_modules():
        if isinstance(m, AttentionBlock) and not any(n.startswith(f + ".") for f in found):
            found[n] = names.get(type(m), type(m).__name__)
    return found


def reset_net(model: nn.Module) -> None:
    """Reset the state of every stateful module (anything with a ``reset()`` method)."""
    for m in model.modules():
        reset = getattr(m, "reset", None)
        if m is not model and callable(reset):
            reset()


def set_step_mode(model: nn.Module, mode: StepMode) -> None:
    """Switch every neuron of ``model`` to single-step (``"s"``) or multi-step (``"m"``)."""
    for m in spiking_layers(model).values():
        m.step_mode = mode


def firing_rates(model: nn.Module) -> dict[str, float]:
    """Mean firing rate of each neuron layer during the last forward pass."""
    return {
        name: float(m.last_spike_rate)
        for name, m in spiking_layers(model).items()
        if m.last_spike_rate is not None
    }


@contextlib.contextmanager
def step_loop(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, every neuron of ``model`` runs its steps as a loop of plain tensor ops
    (:meth:`~snn_models.neurons.base.BaseNeuron.single_step`) instead of its fused autograd
    kernel, so that ``torch.jit.trace`` and ``torch.onnx.export`` record them."""
    neurons = [m for m in model.modules() if isinstance(m, BaseNeuron)]
    before = [n.step_loop for n in neurons]
    for n in neurons:
        n.step_loop = True
    try:
        yield model
    finally:
        for n, b in zip(neurons, before, strict=True):
            n.step_loop = b
