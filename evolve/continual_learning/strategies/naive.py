"""``naive``: plain fine-tuning on the current task only (the forgetting baseline)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evolve.training.trainer import TrainConfig, TrainResult, train

if TYPE_CHECKING:
    from torch import nn

    from evolve.continual_learning.streams import Stream, Task

__all__ = ["Naive"]


class Naive:
    """Plain fine-tuning: train on the current task only (the forgetting baseline).

    Uses :func:`evolve.training.trainer.train` on the task's train split, keeping the epoch
    with the best accuracy on the task's validation split.
    """

    name = "naive"

    def settings(self) -> dict[str, Any]:
        return {}

    def start(self, stream: Stream) -> None:
        return None

    def train_task(self, model: nn.Module, task: Task, cfg: TrainConfig) -> TrainResult:
        return train(model, task.train, task.val, cfg, description=f"{self.name} {task.name}")
