"""Training and evaluation of one spiking network with surrogate gradients.

The trainer orchestrates; the model, its neurons and the energy meter live in ``snn_models``.
The best epoch on the validation split is kept (weights restored at the end), so the test split
is touched exactly once per trained model.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from evolve.data.datasets import Split
from evolve.errors import UserError
from evolve.store.runlog import logger


@dataclass(frozen=True)
class TrainConfig:
    """How to train (not what): optimiser settings, epochs, batch size, seed."""

    epochs: int = 20
    #: Samples per optimiser step; ``None``: :func:`auto_batch_size` of the training split.
    batch_size: int | None = None
    lr: float = 2e-3
    weight_decay: float = 0.0
    seed: int = 0
    progress: bool = True
    clip_grad_norm: float = 100.0  # gradients above this norm are "exploding": clipped and counted
    #: Divergence rules (off by default; search trials turn them on, see :func:`train`):
    #: fail an epoch in which more than this fraction of the steps had to be clipped while the
    #: loss rose (``None``: never)...
    max_clipped_fraction: float | None = None
    #: ...and an epoch whose mean loss exceeds this many times the first step's loss (or 1).
    max_loss_growth: float | None = None

    def validate(self) -> None:
        if self.epochs < 1:
            raise UserError(f"--epochs must be >= 1, got {self.epochs}")
        if self.batch_size is not None and self.batch_size < 1:
            raise UserError(f"--batch-size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise UserError(f"--lr must be > 0, got {self.lr}")


#: The default mini-batch of a training split of :data:`BATCH_STEPS` x 64 samples or more.
DEFAULT_BATCH_SIZE = 64
#: Optimiser steps per epoch that :func:`auto_batch_size` keeps on small training splits...
BATCH_STEPS = 8
#: ...with mini-batches never smaller than this.
MIN_BATCH_SIZE = 8


def auto_batch_size(n_train: int) -> int:
    """The mini-batch for ``n_train`` training samples when none is given.

    64 (:data:`DEFAULT_BATCH_SIZE`), or on a small split the largest power of two that still
    gives :data:`BATCH_STEPS` optimiser steps per epoch, never below :data:`MIN_BATCH_SIZE`: with
    64 a 40-series UCR training split would take one step per epoch and a 105-row table two, far
    too few for a spiking network to learn in tens of epochs.

    >>> [auto_batch_size(n) for n in (40, 105, 300, 512, 60_000)]
    [8, 8, 32, 64, 64]
    """
    fit = max(1, n_train // BATCH_STEPS)
    return max(MIN_BATCH_SIZE, min(DEFAULT_BATCH_SIZE, 1 << (fit.bit_length() - 1)))


def resolved(cfg: TrainConfig, n_train: int) -> TrainConfig:
    """``cfg`` with its batch size given (:func:`auto_batch_size` of ``n_train`` when None)."""
    if cfg.batch_size is not None:
        return cfg
    return dataclasses.replace(cfg, batch_size=auto_batch_size(n_train))


@dataclass
class EpochRecord:
    epoch: int
    loss: float
    train_acc: float
    val_acc: float
    seconds: float


@dataclass
class TrainResult:
    """What training produced: per-epoch history, the best epoch and its validation accuracy."""

    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = -1
    best_val_acc: float = 0.0
    seconds: float = 0.0
    stopped_early: bool = False
    exploding_grad_steps: int = 0  # steps whose gradient norm exceeded clip_grad_norm (clipped)
    vanishing_grad_steps: int = 0  # steps whose gradient norm was below VANISHING_GRAD
    max_grad_norm: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: A gradient norm below this is "vanishing" (recorded, not changed).
VANISHING_GRAD = 1e-6


class Diverged(FloatingPointError):
    """Training diverged; the message says how and when (epoch, step)."""


class LossDiverged(Diverged):
    """The loss became NaN or infinite, exploded, or the weights stopped being finite."""


class GradientsExploded(Diverged):
    """A gradient norm was not finite, or most steps of an epoch were clipped as the loss rose."""


#: Called after every epoch with the record; return True to stop training.
EpochCallback = Callable[[EpochRecord], bool]
#: Called after every optimiser step (e.g. a memory check); raises to abort training.
StepCheck = Callable[[int, int], None]
#: ``loss_fn(x, y, out)``: the training loss of a batch (default: cross-entropy of ``out``).
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``model`` on ``split`` (eval mode; training mode restored after)."""
    was_training = model.training
    model.eval()
    correct = 0
    try:
        for x, y in split.batches(batch_size):
            correct += int((model(x).argmax(1) == y).sum())
    finally:
        model.train(was_training)
    return correct / max(len(split), 1)


def train(
    model: nn.Module,
    train_split: Split,
    val_split: Split,
    cfg: TrainConfig,
    *,
    on_epoch: EpochCallback | None = None,
    description: str = "train",
    loss_fn: LossFn | None = None,
    step_check: StepCheck | None = None,
    epoch_split: Callable[[int], Split] | None = None,
) -> TrainResult:
    """Train ``model`` with Adam + cosine decay on cross-entropy of its time-averaged output
    (or on ``loss_fn``, e.g. a :class:`~evolve.training.distill.Distiller`).

    The weights of the epoch with the best validation accuracy are restored before returning.
    ``step_check(epoch, step)`` runs after every optimiser step; what it raises ends training.
    ``epoch_split(epoch)``, when given, is the split epoch ``epoch`` trains on instead of
    ``train_split`` (a growing data fraction: :mod:`evolve.training.subsets`).

    Divergence (always): a loss that is NaN or infinite raises :class:`LossDiverged` ("loss
    became NaN at epoch E (step S)"), a gradient norm that is not finite raises
    :class:`GradientsExploded` before the step is taken, and weights that stop being finite by
    the end of an epoch raise :class:`LossDiverged`. With ``cfg.max_loss_growth`` an epoch whose
    mean loss is more than that many times the first step's loss (or than that many times 1, if
    the first loss was below 1) raises :class:`LossDiverged` ("loss exploded"). With ``cfg.max_clipped_fraction`` an epoch in which more than that
    fraction of the steps had a gradient norm above ``cfg.clip_grad_norm`` (clipped) *and* whose
    mean loss is above the previous epoch's (for the first epoch: above the first step's loss)
    raises :class:`GradientsExploded`: clipping that keeps training on track is fine, clipping
    while the loss climbs is an explosion.
    """
    cfg.validate()
    batch_size = cfg.batch_size or auto_batch_size(len(train_split))
    torch.manual_seed(cfg.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    result = TrainResult()
    best_state: dict[str, torch.Tensor] | None = None
    start = time.perf_counter()
    bar = tqdm(
        range(cfg.epochs), desc=description, unit="epoch", disable=not cfg.progress, leave=False
    )
    first_loss: float | None = None
    previous_loss: float | None = None
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        total_loss, correct, seen, steps, clipped = 0.0, 0, 0, 0, 0
        split = train_split if epoch_split is None else epoch_split(epoch)
        for step, (x, y) in enumerate(
            split.batches(batch_size, shuffle=True, seed=cfg.seed * 100_003 + epoch)
        ):
            out = model(x)
            loss = F.cross_entropy(out, y) if loss_fn is None else loss_fn(x, y, out)
            value = float(loss.item())
            if not math.isfinite(value):
                what = "NaN" if math.isnan(value) else "inf"
                raise LossDiverged(f"loss became {what} at epoch {epoch} (step {step})")
            if first_loss is None:
                first_loss = value
            opt.zero_grad(set_to_none=True)
            loss.backward()
            norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.clip_grad_norm))
            if not math.isfinite(norm):
                raise GradientsExploded(
                    f"gradients exploded at epoch {epoch} (step {step}): gradient norm is {norm}"
                )
            result.max_grad_norm = max(result.max_grad_norm, norm)
            if norm > cfg.clip_grad_norm:
                result.exploding_grad_steps += 1
                clipped += 1
            elif norm < VANISHING_GRAD:
                result.vanishing_grad_steps += 1
            opt.step()
            total_loss += value * len(y)
            correct += int((out.argmax(1) == y).sum())
            seen += len(y)
            steps += 1
            if step_check is not None:
                step_check(epoch, step)
        mean_loss = total_loss / max(seen, 1)
        _check_divergence(model, cfg, epoch, mean_loss, first_loss, previous_loss, clipped, steps)
        previous_loss = mean_loss
        sched.step()
        val_acc = evaluate(model, val_split)
        rec = EpochRecord(
            epoch, mean_loss, correct / max(seen, 1), val_acc, time.perf_counter() - t0
        )
        result.history.append(rec)
        logger.info(
            "epoch {} loss {:.4f} train_acc {:.4f} val_acc {:.4f} ({:.1f}s)",
            epoch,
            rec.loss,
            rec.train_acc,
            rec.val_acc,
            rec.seconds,
        )
        bar.set_postfix(loss=f"{rec.loss:.3f}", val=f"{val_acc:.3f}")
        if val_acc > result.best_val_acc or best_state is None:
            result.best_val_acc, result.best_epoch = val_acc, epoch
            best_state = copy.deepcopy(model.state_dict())
        if on_epoch is not None and on_epoch(rec):
            result.stopped_early = True
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    result.seconds = time.perf_counter() - start
    return result


def _check_divergence(
    model: nn.Module,
    cfg: TrainConfig,
    epoch: int,
    mean_loss: float,
    first_loss: float | None,
    previous_loss: float | None,
    clipped: int,
    steps: int,
) -> None:
    """The end-of-epoch divergence rules of :func:`train`."""
    for name, p in model.named_parameters():
        if not bool(torch.isfinite(p).all()):
            raise LossDiverged(f"weights became NaN or inf at epoch {epoch} ({name})")
    if first_loss is None:
        return
    growth = cfg.max_loss_growth
    if growth is not None and mean_loss > growth * max(first_loss, 1.0):
        raise LossDiverged(
            f"loss exploded at epoch {epoch}: mean {mean_loss:.4g}, over {growth:g}x the first "
            f"step's {first_loss:.4g}"
        )
    fraction = cfg.max_clipped_fraction
    reference = first_loss if previous_loss is None else previous_loss
    if fraction is not None and steps and clipped > fraction * steps and mean_loss > reference:
        raise GradientsExploded(
            f"gradients exploded at epoch {epoch}: {clipped}/{steps} steps clipped (norm > "
            f"{cfg.clip_grad_norm:g}) while the loss rose from {reference:.4g} to {mean_loss:.4g}"
        )
