"""The replay memory that ``replay`` and ``replay_stdp`` share: a class-balanced buffer of past
training examples and the class-balanced loss that keeps its few examples from being outvoted."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from evolve.continual_learning.streams import quotas
from evolve.data.datasets import Split
from evolve.errors import UserError

__all__ = ["ReplayBuffer", "balanced_loss", "with_memory"]


class ReplayBuffer:
    """A fixed-size memory of past training examples, balanced over (task, class) groups.

    After each task, every group seen so far gets an equal share of ``size`` slots
    (``⌊size/G⌋`` or one more, G = number of groups; a group with fewer examples leaves its
    spare slots to the others; with fewer slots than groups the oldest groups keep one example
    each). Old groups shrink by dropping their last-stored examples; a new
    group is filled with a seeded random sample of the task's training examples. In a
    class-incremental stream a group is a class, so the buffer is class-balanced; in a
    domain-incremental one each class is also balanced across the tasks that showed it.

    Args:
        size: most examples held, >= 1.
        seed: seed of the random choice of new examples.
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise UserError(f"replay buffer_size must be a positive integer, got {size!r}")
        self.size = size
        self.seed = seed
        self._groups: dict[tuple[str, int], Split] = {}

    def __len__(self) -> int:
        return sum(len(s) for s in self._groups.values())

    def clear(self) -> None:
        """Forget everything."""
        self._groups.clear()

    def class_counts(self) -> dict[int, int]:
        """Examples held per class label."""
        counts: dict[int, int] = {}
        for (_, c), s in self._groups.items():
            counts[c] = counts.get(c, 0) + len(s)
        return dict(sorted(counts.items()))

    def add(self, task_name: str, split: Split) -> None:
        """Store examples of a finished task, shrinking older groups to make room."""
        pools = dict(self._groups)
        rng = np.random.default_rng(self.seed + len(pools))
        for c in torch.unique(split.y).tolist():
            idx = torch.as_tensor(rng.permutation(np.flatnonzero(split.y.numpy() == c)))
            pools[(task_name, int(c))] = Split(split.x[idx], split.y[idx])
        keys = list(pools)
        quota = quotas(self.size, [len(pools[k]) for k in keys])
        self._groups = {
            k: Split(pools[k].x[:q], pools[k].y[:q]) for k, q in zip(keys, quota, strict=True) if q
        }

    def split(self) -> Split | None:
        """Everything held, as one split (``None`` when empty)."""
        if not self._groups:
            return None
        parts = list(self._groups.values())
        return Split(torch.cat([p.x for p in parts]), torch.cat([p.y for p in parts]))


def balanced_loss(y: Tensor, n_classes: int) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """Cross-entropy with each class present in ``y`` weighted by ``N / (K · N_c)``.

    ``N_c`` examples of class c among N with K classes present: every present class weighs as
    much in the loss as if the training set were balanced, so a buffer's few examples of old
    classes are not outvoted by the many of the new task (absent classes weigh 0).
    """
    counts = torch.bincount(y, minlength=n_classes).to(torch.float32)
    present = counts > 0
    weight = torch.where(
        present, counts.sum() / (counts.clamp_min(1.0) * present.sum()), torch.zeros(())
    )

    def loss(x: Tensor, target: Tensor, out: Tensor) -> Tensor:
        return F.cross_entropy(out, target, weight=weight.to(out.dtype))

    return loss


def with_memory(data: Split, memory: Split | None) -> Split:
    """``data`` with the buffer's examples appended (``data`` itself when there are none)."""
    if memory is None:
        return data
    return Split(torch.cat([data.x, memory.x]), torch.cat([data.y, memory.y]))
