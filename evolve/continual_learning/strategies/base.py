"""The interface every continual-learning strategy implements (no torch needed to import it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from torch import nn

    from evolve.continual_learning.streams import Stream, Task
    from evolve.training.trainer import TrainConfig, TrainResult

__all__ = ["Strategy"]


class Strategy(Protocol):
    """How a model learns one task after another. One object per stream run.

    A strategy is a class whose constructor takes its options as keywords (``buffer_size``,
    ``stdp_lr``, ..., and ``seed`` if it draws anything), registered by name in
    :data:`evolve.continual_learning.strategies.STRATEGIES`.

    Attributes:
        name: the strategy's registry name.
    """

    name: str

    def settings(self) -> dict[str, Any]:
        """The strategy's own choices as JSON-ready data (e.g. ``{"buffer_size": 200}``)."""
        ...

    def start(self, stream: Stream) -> None:
        """Called once before the first task: clear any state from an earlier stream."""
        ...

    def train_task(self, model: nn.Module, task: Task, cfg: TrainConfig) -> TrainResult:
        """Train ``model`` in place on ``task`` (plus whatever the strategy remembers)."""
        ...
