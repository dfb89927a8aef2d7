"""``stdp``: hidden layers adapt by unsupervised online STDP; only the readout learns by
gradient (the scheme of an on-chip learner, where backpropagation is not available)."""

from __future__ import annotations

import functools
import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from evolve.continual_learning.strategies.memory import ReplayBuffer, balanced_loss, with_memory
from evolve.data.datasets import Split
from evolve.errors import UserError
from evolve.training.trainer import TrainConfig, TrainResult, auto_batch_size, train
from snn_models.errors import ConfigError
from snn_models.layers import TimeDistributed
from snn_models.neurons.base import BaseNeuron
from snn_models.plasticity import STDPRule, attach_stdp

if TYPE_CHECKING:
    from evolve.continual_learning.streams import Stream, Task

__all__ = ["CALIBRATION_SAMPLES", "STDPReadout", "calibrate_rates", "feature_layers"]

#: Training inputs of the first task used to calibrate the feature layers' firing rates.
CALIBRATION_SAMPLES = 512


def feature_layers(model: nn.Module) -> list[tuple[str, nn.Linear | nn.Conv2d, BaseNeuron]]:
    """The synaptic layers before the readout, in forward order, each with the neuron it drives.

    For a :class:`~snn_models.architectures.SpikingNet` MLP or CNN: the stem's layer (direct
    encoding) and every ``Linear``/``Conv2d`` of the body, paired with the next spiking neuron
    (after its BatchNorm, if any). The head is not a feature layer.

    Raises:
        ConfigError: not an MLP/CNN ``SpikingNet`` (e.g. a transformer, whose attention has no
            STDP rule here), or a feature layer that drives no spiking neuron.
    """
    from snn_models.kinds import KINDS, feedforward_kinds

    spec = getattr(model, "spec", None)
    kind = KINDS.get(getattr(spec, "kind", None))  # type: ignore[arg-type]
    if kind is None or not kind.feedforward:
        raise ConfigError(
            f"STDP strategies need a spiking MLP or CNN (kind: {'|'.join(feedforward_kinds())}); "
            "attention blocks have no "
            "STDP rule — use naive or replay for a transformer"
        )
    chain: list[tuple[str, nn.Module]] = []
    for part in ("stem", "body"):
        chain += [(f"{part}.{n}", m) for n, m in getattr(model, part).named_children()]
    out: list[tuple[str, nn.Linear | nn.Conv2d, BaseNeuron]] = []
    for i, (name, module) in enumerate(chain):
        inner = module.module if isinstance(module, TimeDistributed) else module
        if not isinstance(inner, nn.Linear | nn.Conv2d):
            continue
        neuron = next(
            (m for _, m in chain[i + 1 :] if isinstance(m, BaseNeuron)),
            None,
        )
        if neuron is None:
            raise ConfigError(f"feature layer {name!r} drives no spiking neuron")
        out.append((name, inner, neuron))
    return out


def _record_rate(into: list[float], module: nn.Module, args: Any, out: Tensor) -> None:
    into.append(float(out.float().mean()))


@torch.no_grad()
def calibrate_rates(
    model: nn.Module, x: Tensor, target_rate: float, *, steps: int = 24
) -> dict[str, dict[str, float]]:
    r"""Scale each feature layer so that its neuron fires at ``target_rate`` on ``x``.

    Layer by layer in forward order (each layer sees the already-calibrated ones before it), a
    gain :math:`g` multiplies the layer's weight and bias; :math:`\log g` is found by bisection
    on [log 1e-2, log 1e3] so that the mean firing rate of the neuron it drives on ``x`` is
    ``target_rate`` (the rate rises with g). Like threshold balancing in ANN→SNN conversion,
    this makes random, untrained layers neither silent nor saturated.

    Returns:
        ``{layer: {"gain": g, "rate": rate reached}}``.
    """
    was_training = model.training
    model.eval()
    result: dict[str, dict[str, float]] = {}
    try:
        for name, layer, neuron in feature_layers(model):
            seen: list[float] = []
            handle = neuron.register_forward_hook(functools.partial(_record_rate, seen))
            params = [p for p in (layer.weight, layer.bias) if p is not None]
            start = [p.detach().clone() for p in params]
            lo, hi = math.log(1e-2), math.log(1e3)
            try:
                for _ in range(steps):
                    mid = (lo + hi) / 2
                    for p, p0 in zip(params, start, strict=True):
                        p.copy_(p0 * math.exp(mid))
                    seen.clear()
                    model(x)
                    lo, hi = (mid, hi) if seen[-1] < target_rate else (lo, mid)
                gain = math.exp(hi)
                for p, p0 in zip(params, start, strict=True):
                    p.copy_(p0 * gain)
                seen.clear()
                model(x)
            finally:
                handle.remove()
            result[name] = {"gain": gain, "rate": seen[-1]}
    finally:
        model.train(was_training)
    return result


class STDPReadout:
    """Hidden layers adapt by online STDP, unsupervised; only the readout learns by gradient.

    The scheme of an on-chip learner (where backpropagation is not available): the feature
    layers (stem and hidden synaptic layers) never receive gradients. Before the first task
    they are calibrated to fire at ``feature_rate`` on that task's inputs
    (:func:`calibrate_rates`). On every task, the hidden layers with spiking input then adapt
    by pair STDP (:mod:`snn_models.plasticity`, L2-normalised rows so the calibration holds)
    over ``stdp_epochs`` passes of the task's training inputs — no labels, no autograd — and
    finally the readout (the head) is trained with class-balanced cross-entropy on the task's
    data (plus the replay buffer, when ``buffer_size`` is given) at ``readout_lr`` — a linear
    classifier on fixed features takes a higher rate than a whole network (the run's ``lr`` is
    not used; epochs and batch size are). ``stdp_lr = 0`` keeps the
    calibrated random features fixed: the ablation that isolates what STDP itself adds.

    Args:
        stdp_lr: STDP learning rate η (0 switches STDP off).
        stdp_epochs: passes of STDP over each task's training inputs.
        a_plus, a_minus: the pair rule's amplitudes (``a_plus > a_minus``: Hebbian on net).
        feature_rate: mean firing rate the calibration aims at, in (0, 1).
        readout_lr: Adam learning rate of the readout.
        buffer_size: replay buffer for the readout (``None``: no replay).
        seed: seed of the replay buffer.

    Raises:
        ConfigError (at the first task): the model is not an MLP/CNN, or has no hidden layer
            with spiking input for STDP to adapt while ``stdp_lr > 0``.
    """

    name = "stdp"

    def __init__(
        self,
        stdp_lr: float = 1e-2,
        stdp_epochs: int = 1,
        a_plus: float = 1.0,
        a_minus: float = 1.05,
        feature_rate: float = 0.1,
        readout_lr: float = 3e-2,
        buffer_size: int | None = None,
        seed: int = 0,
    ) -> None:
        if not (isinstance(readout_lr, int | float) and readout_lr > 0):
            raise UserError(f"readout_lr must be > 0, got {readout_lr!r}")
        if not (isinstance(stdp_lr, int | float) and stdp_lr >= 0):
            raise UserError(f"stdp_lr must be >= 0, got {stdp_lr!r}")
        if isinstance(stdp_epochs, bool) or not isinstance(stdp_epochs, int) or stdp_epochs < 1:
            raise UserError(f"stdp_epochs must be a positive integer, got {stdp_epochs!r}")
        if not 0 < feature_rate < 1:
            raise UserError(f"feature_rate must be in (0, 1), got {feature_rate!r}")
        self.rule = STDPRule(lr=float(stdp_lr), a_plus=a_plus, a_minus=a_minus)
        self.stdp_epochs = stdp_epochs
        self.feature_rate = float(feature_rate)
        self.readout_lr = float(readout_lr)
        self.buffer = None if buffer_size is None else ReplayBuffer(buffer_size, seed)
        self.calibration: dict[str, dict[str, float]] = {}

    def settings(self) -> dict[str, Any]:
        return {
            "stdp_lr": self.rule.lr,
            "stdp_epochs": self.stdp_epochs,
            "a_plus": self.rule.a_plus,
            "a_minus": self.rule.a_minus,
            "feature_rate": self.feature_rate,
            "readout_lr": self.readout_lr,
            "buffer_size": None if self.buffer is None else self.buffer.size,
        }

    def start(self, stream: Stream) -> None:
        self._n_classes = stream.n_classes
        self._first = True
        self.calibration = {}
        if self.buffer is not None:
            self.buffer.clear()

    def train_task(self, model: nn.Module, task: Task, cfg: TrainConfig) -> TrainResult:
        head = getattr(model, "head", None)
        if not isinstance(head, nn.Module):
            raise ConfigError("STDP strategies need a SpikingNet (a model with a head)")
        grad = {p: p.requires_grad for p in model.parameters()}
        try:
            for p in model.parameters():
                p.requires_grad_(False)
            if self._first:
                self.calibration = calibrate_rates(
                    model, task.train.x[:CALIBRATION_SAMPLES], self.feature_rate
                )
                self._first = False
            if self.rule.lr > 0:
                self._adapt(model, task.train, cfg)
            for p in head.parameters():
                p.requires_grad_(True)
            memory = None if self.buffer is None else self.buffer.split()
            data = with_memory(task.train, memory)
            result = train(
                model,
                data,
                task.val,
                replace(cfg, lr=self.readout_lr),
                description=f"{self.name} {task.name}",
                loss_fn=balanced_loss(data.y, self._n_classes),
            )
        finally:
            for p, g in grad.items():
                p.requires_grad_(g)
        if self.buffer is not None:
            self.buffer.add(task.name, task.train)
        return result

    @torch.no_grad()
    def _adapt(self, model: nn.Module, data: Split, cfg: TrainConfig) -> None:
        """Unsupervised STDP passes over ``data``'s inputs (eval mode: BatchNorm stats frozen)."""
        ctrl = attach_stdp(model, self.rule, normalize="l2", name="_continual_stdp")
        was_training = model.training
        model.eval()
        try:
            for epoch in range(self.stdp_epochs):
                batch = cfg.batch_size or auto_batch_size(len(data))
                for x, _ in data.batches(batch, shuffle=True, seed=cfg.seed + epoch):
                    model(x)
        finally:
            ctrl.detach()
            model.train(was_training)
