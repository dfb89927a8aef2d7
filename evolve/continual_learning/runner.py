"""Running one stream: train a model on its tasks in order and fill the accuracy matrix R."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from evolve.continual_learning.metrics import ContinualMetrics, continual_metrics
from evolve.errors import UserError
from evolve.store.runlog import logger
from evolve.training.trainer import TrainConfig, evaluate

if TYPE_CHECKING:
    from evolve.continual_learning.strategies.base import Strategy
    from evolve.continual_learning.streams import Stream

__all__ = ["ContinualResult", "StageRecord", "run_stream"]


@dataclass(frozen=True)
class StageRecord:
    """One training stage: the task trained, how long it took, and its own best validation."""

    stage: int
    task: str
    train_seconds: float
    eval_seconds: float
    epochs: int
    best_val_acc: float


@dataclass(frozen=True)
class ContinualResult:
    """What a stream run produced; :meth:`to_dict` is JSON-ready.

    Attributes:
        stream, strategy: names; ``settings`` the strategy's own choices.
        tasks: task names in training order.
        r: the accuracy matrix, ``r[i][j]`` = test accuracy on task j after training task i.
        metrics: :func:`~evolve.continual_learning.metrics.continual_metrics` of ``r``.
        r_val, metrics_val: the same on the tasks' validation splits — what a search may
            select on without touching the test splits.
        stages: per-stage timings and validation accuracy.
        seconds: wall time of the whole run.
    """

    stream: str
    strategy: str
    settings: dict[str, Any]
    tasks: tuple[str, ...]
    r: tuple[tuple[float, ...], ...]
    metrics: ContinualMetrics
    r_val: tuple[tuple[float, ...], ...] = ()
    metrics_val: ContinualMetrics | None = None
    stages: tuple[StageRecord, ...] = field(default_factory=tuple)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "strategy": self.strategy,
            "settings": dict(self.settings),
            "tasks": list(self.tasks),
            "R": [list(row) for row in self.r],
            **self.metrics.to_dict(),
            "R_val": [list(row) for row in self.r_val],
            "val": None if self.metrics_val is None else self.metrics_val.to_dict(),
            "stages": [asdict(s) for s in self.stages],
            "seconds": self.seconds,
        }


def _check_head(model: nn.Module, stream: Stream) -> None:
    """A model whose output size differs from the stream's head fails here, not mid-training."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(stream.tasks[0].test.x[:1])
    finally:
        model.train(was_training)
    if out.ndim != 2 or out.shape[1] != stream.n_classes:
        raise UserError(
            f"model outputs {tuple(out.shape[1:])} scores but stream {stream.name!r} has "
            f"{stream.n_classes} classes; build it with n_classes={stream.n_classes}"
        )


def run_stream(
    model: nn.Module, stream: Stream, strategy: Strategy, cfg: TrainConfig
) -> ContinualResult:
    """Train ``model`` on the stream's tasks in order and fill the accuracy matrix R.

    After training stage i (task i, with ``cfg`` re-seeded to ``cfg.seed + i``), the model is
    evaluated on the test split of every task j of the stream: ``R[i][j]`` (and on the
    validation splits: ``r_val``). The model is trained in place; its final weights are those
    after the last task.

    Args:
        model: a network with ``stream.n_classes`` outputs (e.g. ``snn_models.build(spec,
            stream.input_shape, stream.n_classes)``).
        stream: the tasks (see :func:`~evolve.continual_learning.streams.make_stream`).
        strategy: how each task is learned (see
            :data:`~evolve.continual_learning.strategies.STRATEGIES`).
        cfg: training settings used for every task (``epochs`` is per task).

    Returns:
        The :class:`ContinualResult`: R, its metrics, and per-stage timings.

    Raises:
        UserError: an empty stream, a bad ``cfg``, or a model head that does not fit the stream.
    """
    cfg.validate()
    if not stream.tasks:
        raise UserError(f"stream {stream.name!r} has no tasks; give n_tasks >= 1")
    _check_head(model, stream)
    strategy.start(stream)
    n = len(stream.tasks)
    r = np.zeros((n, n))
    r_val = np.zeros((n, n))
    stages = []
    start = time.perf_counter()
    bar = tqdm(
        stream.tasks, desc=f"{strategy.name} {stream.name}", unit="task", disable=not cfg.progress
    )
    for i, task in enumerate(bar):
        t0 = time.perf_counter()
        res = strategy.train_task(model, task, replace(cfg, seed=cfg.seed + i))
        t1 = time.perf_counter()
        for j, other in enumerate(stream.tasks):
            r[i, j] = evaluate(model, other.test)
            r_val[i, j] = evaluate(model, other.val)
        t2 = time.perf_counter()
        stages.append(
            StageRecord(i, task.name, t1 - t0, t2 - t1, len(res.history), res.best_val_acc)
        )
        logger.info(
            "continual {} {} stage {} ({}): mean test acc so far {:.4f} ({:.1f}s train)",
            stream.name,
            strategy.name,
            i,
            task.name,
            float(r[i, : i + 1].mean()),
            t1 - t0,
        )
        bar.set_postfix(acc=f"{r[i, : i + 1].mean():.3f}")
    bar.close()
    return ContinualResult(
        stream=stream.name,
        strategy=strategy.name,
        settings=strategy.settings(),
        tasks=tuple(t.name for t in stream.tasks),
        r=tuple(tuple(float(v) for v in row) for row in r),
        metrics=continual_metrics(r),
        r_val=tuple(tuple(float(v) for v in row) for row in r_val),
        metrics_val=continual_metrics(r_val),
        stages=tuple(stages),
        seconds=time.perf_counter() - start,
    )
