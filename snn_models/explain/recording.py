r"""Recording a network: every spiking layer's spikes and membrane at every step of one pass.

How the membrane is read (pre-reset, from the surrogate's argument) is in
:mod:`snn_models.explain`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from snn_models.functional import neuron_kinds, reset_net, spiking_layers, step_loop
from snn_models.neurons.base import BaseNeuron

# --------------------------------------------------------------------------- recording


@dataclass
class Activity:
    """What one forward pass did, per spiking layer, in the order the layers first ran.

    Attributes:
        spikes: layer name → spikes ``[T, B, ...]`` (0/1 floats). A layer called k times in one
            pass has k·T steps, concatenated in call order.
        membrane: layer name → membrane ``[T, B, ...]`` at each step; pre-reset :math:`h_t` where
            :attr:`pre_reset` says so, else the post-reset state (a neuron that never calls its
            surrogate spike function).
        pre_reset: layer name → whether :attr:`membrane` is the pre-reset potential.
        thresholds: layer name → firing threshold :math:`\\theta`.
        kinds: layer name → neuron type (``if``, ``lif``, ``bif``, ``adaptive``).
        input: the model input ``[B, ...]``.
        output: the model output (class scores ``[B, C]`` for a SpikingNet).
        synapse: name of the first ``nn.Linear`` of the model (in module order), or ``None``.
        synapse_input: what that layer received in its first call: ``[B, F]`` (direct
            encoding: the static input) or ``[T·B, F]`` (time-distributed: encoded spikes).
    """

    spikes: dict[str, Tensor]
    membrane: dict[str, Tensor]
    pre_reset: dict[str, bool]
    thresholds: dict[str, float]
    kinds: dict[str, str]
    input: Tensor
    output: Tensor
    synapse: str | None = None
    synapse_input: Tensor | None = field(default=None, repr=False)

    @property
    def layers(self) -> list[str]:
        """The spiking layers that ran, in order."""
        return list(self.spikes)

    @property
    def timesteps(self) -> int:
        """T of the first layer (0 if no spiking layer ran)."""
        return int(next(iter(self.spikes.values())).shape[0]) if self.spikes else 0

    def _pick(self, t: Tensor, sample: int | None) -> Tensor:
        return t if sample is None else t[:, sample : sample + 1]

    def rates(self, sample: int | None = None) -> dict[str, float]:
        """Mean firing rate of each layer over T, the batch (or one ``sample``) and its neurons."""
        return {n: float(self._pick(s, sample).mean()) for n, s in self.spikes.items()}

    def step_rates(self, sample: int | None = None) -> dict[str, list[float]]:
        """Firing rate of each layer at each step (mean over the batch or one ``sample``)."""
        return {
            n: [float(v) for v in self._pick(s, sample).flatten(1).mean(dim=1)]
            for n, s in self.spikes.items()
        }


def _threshold(n: BaseNeuron) -> float:
    th = n.threshold
    return float(th.detach()) if isinstance(th, Tensor) else float(th)


@dataclass
class _Store:
    spikes: dict[str, list[Tensor]] = field(default_factory=dict)
    membrane: dict[str, list[Tensor]] = field(default_factory=dict)
    pre_reset: dict[str, list[bool]] = field(default_factory=dict)
    synapse: dict[str, Tensor] = field(default_factory=dict)


@contextlib.contextmanager
def _recording(model: nn.Module) -> Iterator[_Store]:
    """Wrap every neuron's ``single_step`` (an instance attribute, deleted afterwards) and hook the
    first ``nn.Linear``; everything is removed on exit, even on error."""
    store = _Store()
    neurons = spiking_layers(model)
    own = {name: n.__dict__.get("single_step") for name, n in neurons.items()}
    handles: list[torch.utils.hooks.RemovableHandle] = []

    def wrap(name: str, n: BaseNeuron) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
        step: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]] = own[name] or n.single_step

        def recorded(x: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
            seen: list[Tensor] = []
            hook = n.surrogate.register_forward_pre_hook(
                lambda _m, args: seen.append(args[0].detach())
            )
            try:
                s, v_new = step(x, v)
            finally:
                hook.remove()
            ok = len(seen) == 1 and seen[0].shape == s.shape
            store.spikes.setdefault(name, []).append(s.detach())
            store.membrane.setdefault(name, []).append(
                seen[0] + _threshold(n) if ok else v_new.detach().clone()
            )
            store.pre_reset.setdefault(name, []).append(ok)
            return s, v_new

        return recorded

    def keep_input(key: str) -> Callable[[nn.Module, tuple[Any, ...]], None]:
        def hook(_m: nn.Module, args: tuple[Any, ...]) -> None:
            store.synapse.setdefault(key, args[0].detach())

        return hook

    try:
        for name, n in neurons.items():
            n.__dict__["single_step"] = wrap(name, n)  # shadows the class method
        for key, m in model.named_modules():
            if isinstance(m, nn.Linear):
                handles.append(m.register_forward_pre_hook(keep_input(key)))
                break
        yield store
    finally:
        for h in handles:
            h.remove()
        for name, n in neurons.items():
            if own[name] is None:
                n.__dict__.pop("single_step", None)
            else:
                n.__dict__["single_step"] = own[name]


def record_activity(model: nn.Module, x: Tensor) -> Activity:
    """Run ``model`` once on ``x`` and record every spiking layer's spikes and membrane per step.

    The state of every neuron is reset first. The pass runs without gradients, in the neurons'
    step loop (spikes identical to the fused kernels); the model's training mode is left as is
    (call ``model.eval()`` first: a BIF neuron's initial membrane is noisy in training mode, and
    BatchNorm uses batch statistics). Memory grows with T × batch × neurons: record a few samples.

    Args:
        model: any module containing :class:`~snn_models.neurons.base.BaseNeuron` layers (a
            :class:`~snn_models.SpikingNet` takes ``[B, ...]``; a bare neuron ``[T, B, ...]``).
        x: the input batch.

    Returns:
        An :class:`Activity`; no hook or wrapper stays on the model.

    Example:
        >>> from snn_models import build
        >>> net = build({"kind": "mlp", "timesteps": 3, "layers": [{"width": 8}]}, (4,), 2).eval()
        >>> act = record_activity(net, torch.rand(5, 4))
        >>> act.layers, tuple(act.spikes["body.0"].shape), tuple(act.membrane["body.0"].shape)
        (['body.0'], (3, 5, 8), (3, 5, 8))
    """
    neurons = spiking_layers(model)
    for n in neurons.values():
        n.reset()
    reset_net(model)
    with torch.no_grad(), step_loop(model), _recording(model) as store:
        out = model(x)
    kinds = neuron_kinds(model)
    syn = next(iter(store.synapse.items()), None)
    return Activity(
        spikes={k: torch.stack(v) for k, v in store.spikes.items()},
        membrane={k: torch.stack(v) for k, v in store.membrane.items()},
        pre_reset={k: all(v) for k, v in store.pre_reset.items()},
        thresholds={k: _threshold(neurons[k]) for k in store.spikes},
        kinds={k: kinds[k] for k in store.spikes},
        input=x.detach(),
        output=out.detach() if isinstance(out, Tensor) else out,
        synapse=syn[0] if syn else None,
        synapse_input=syn[1] if syn else None,
    )


def most_active(activity: Activity, layer: str, k: int, sample: int = 0) -> list[int]:
    """Flat indices (over the neurons of one sample) of the ``k`` neurons of ``layer`` that
    spiked most often; ties go to the higher peak membrane, then the lower index."""
    s = activity.spikes[layer][:, sample].flatten(1)
    peak = activity.membrane[layer][:, sample].flatten(1).amax(dim=0)
    count = s.sum(dim=0)
    order = sorted(range(s.shape[1]), key=lambda i: (-float(count[i]), -float(peak[i]), i))
    return order[: max(0, k)]


__all__ = ["Activity", "most_active", "record_activity"]
