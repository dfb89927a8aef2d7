"""The GEM metrics of an accuracy matrix: ACC, BWT and forgetting.

With ``R[i][j]`` the test accuracy on task j after training on tasks 0..i (T tasks, 0-based),
:func:`continual_metrics` derives (GEM, Lopez-Paz & Ranzato 2017; forgetting as in Chaudhry et
al. 2018, the "max-based" forgetting of Avalanche):

    ACC          = 1/T     · Σ_{j=0}^{T−1} R[T−1][j]
    BWT          = 1/(T−1) · Σ_{j=0}^{T−2} (R[T−1][j] − R[j][j])
    forgetting_j = max_{l∈{0..T−2}} R[l][j] − R[T−1][j]            for j < T−1
    forgetting   = 1/(T−1) · Σ_{j=0}^{T−2} forgetting_j

(with a single task, BWT and forgetting are 0: nothing came before). Importing this module does
not import torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from evolve.errors import UserError

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["ContinualMetrics", "continual_metrics"]


@dataclass(frozen=True)
class ContinualMetrics:
    """The GEM summary of an accuracy matrix (see :func:`continual_metrics`).

    Attributes:
        acc: average final accuracy over all tasks, in [0, 1].
        bwt: backward transfer, in [−1, 1]; negative means training later tasks hurt earlier ones.
        forgetting: mean of ``forgetting_per_task``, in [−1, 1]; 0.0 with a single task.
        forgetting_per_task: ``forgetting_j`` for each task j < T−1 (the last task cannot be
            forgotten yet).
        curves: ``curves[j][i] = R[i][j]``: the accuracy of task j after each training stage i
            (stages before task j was trained included).
    """

    acc: float
    bwt: float
    forgetting: float
    forgetting_per_task: tuple[float, ...]
    curves: tuple[tuple[float, ...], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: plain floats and lists."""
        return {
            "acc": self.acc,
            "bwt": self.bwt,
            "forgetting": self.forgetting,
            "forgetting_per_task": list(self.forgetting_per_task),
            "curves": [list(c) for c in self.curves],
        }


def _as_matrix(r: Sequence[Sequence[float]] | np.ndarray | Tensor) -> np.ndarray:
    """R as a float64 T×T array, or a UserError naming what is wrong with it."""
    if hasattr(r, "detach"):  # a tensor (torch is not imported for the check)
        r = r.detach().cpu().numpy()
    try:
        m = np.asarray(r, dtype=np.float64)
    except (ValueError, TypeError):
        raise UserError(
            "accuracy matrix R must be T×T numbers (one row of T task accuracies per training "
            "stage); got ragged or non-numeric rows"
        ) from None
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise UserError(
            f"accuracy matrix R must be square T×T with T >= 1 (R[i][j] = accuracy on task j "
            f"after training task i); got shape {m.shape}"
        )
    if not np.all(np.isfinite(m)):
        raise UserError(
            "accuracy matrix R must hold accuracies in [0, 1]; it has NaN or infinite entries"
        )
    if m.min() < 0.0 or m.max() > 1.0:
        raise UserError(
            f"accuracy matrix R must hold accuracies in [0, 1] (fractions, not percent); got "
            f"values from {m.min():g} to {m.max():g}"
        )
    return m


def continual_metrics(r: Sequence[Sequence[float]] | np.ndarray | Tensor) -> ContinualMetrics:
    """ACC, BWT and forgetting of an accuracy matrix R (GEM; Chaudhry et al. forgetting).

    With ``R[i][j]`` the accuracy on task j after training task i (T tasks, 0-based)::

        ACC          = 1/T     · Σ_{j=0}^{T−1} R[T−1][j]
        BWT          = 1/(T−1) · Σ_{j=0}^{T−2} (R[T−1][j] − R[j][j])
        forgetting_j = max_{l∈{0..T−2}} R[l][j] − R[T−1][j]        (j < T−1)
        forgetting   = 1/(T−1) · Σ_{j=0}^{T−2} forgetting_j

    With T = 1, BWT and forgetting are 0.0 and ``forgetting_per_task`` is empty.

    Args:
        r: the T×T matrix (nested sequences, a NumPy array or a tensor) of accuracies in [0, 1].

    Returns:
        The :class:`ContinualMetrics`, including each task's accuracy curve (column j of R).

    Raises:
        UserError: R is empty, not square, ragged, or holds values outside [0, 1].

    Example:
        >>> m = continual_metrics([[0.9, 0.1], [0.6, 0.8]])
        >>> round(m.acc, 4), round(m.bwt, 4), round(m.forgetting, 4)
        (0.7, -0.3, 0.3)
    """
    m = _as_matrix(r)
    t = m.shape[0]
    last = m[t - 1]
    acc = float(last.mean())
    if t == 1:
        bwt, per_task = 0.0, np.zeros(0)
    else:
        bwt = float(np.mean(last[: t - 1] - np.diag(m)[: t - 1]))
        per_task = m[: t - 1, : t - 1].max(axis=0) - last[: t - 1]
    return ContinualMetrics(
        acc=acc,
        bwt=bwt,
        forgetting=float(per_task.mean()) if per_task.size else 0.0,
        forgetting_per_task=tuple(float(f) for f in per_task),
        curves=tuple(tuple(float(v) for v in m[:, j]) for j in range(t)),
    )
