"""``replay``: each task trains on its own data plus a class-balanced buffer of past examples."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evolve.continual_learning.strategies.memory import ReplayBuffer, balanced_loss, with_memory
from evolve.training.trainer import TrainConfig, TrainResult, train

if TYPE_CHECKING:
    from torch import nn

    from evolve.continual_learning.streams import Stream, Task

__all__ = ["Replay"]


class Replay:
    """Experience replay: each task trains on its own data plus a buffer of past examples.

    The training set of task k is ``task_k.train ∪ buffer`` (the buffer holds examples of tasks
    0..k−1, see :class:`~evolve.continual_learning.strategies.memory.ReplayBuffer`); model selection uses
    task k's validation split. After the task, its training examples are offered to the buffer.
    With ``balanced`` (the default) the loss weighs every class of that set equally
    (:func:`~evolve.continual_learning.strategies.memory.balanced_loss`): without it the many new
    examples bias the shared head toward the newest classes (on Split-Digits, buffer 200, MLP
    128-128: ACC 0.90 / BWT −0.07 unbalanced, 0.92 / +0.01 balanced).

    Args:
        buffer_size: most past examples kept (all tasks together), >= 1.
        seed: seed of which examples are kept.
        balanced: class-balanced cross-entropy over task data + buffer.
    """

    name = "replay"

    def __init__(self, buffer_size: int = 200, seed: int = 0, balanced: bool = True) -> None:
        self.buffer = ReplayBuffer(buffer_size, seed)
        self.balanced = bool(balanced)

    def settings(self) -> dict[str, Any]:
        return {
            "buffer_size": self.buffer.size,
            "seed": self.buffer.seed,
            "balanced": self.balanced,
        }

    def start(self, stream: Stream) -> None:
        self.buffer.clear()
        self._n_classes = stream.n_classes

    def train_task(self, model: nn.Module, task: Task, cfg: TrainConfig) -> TrainResult:
        data = with_memory(task.train, self.buffer.split())
        loss_fn = balanced_loss(data.y, self._n_classes) if self.balanced else None
        result = train(
            model, data, task.val, cfg, description=f"{self.name} {task.name}", loss_fn=loss_fn
        )
        self.buffer.add(task.name, task.train)
        return result
