"""Multi-fidelity over the fraction of training data (``fidelity_resource="data"``).

With ``asha``/``hyperband`` (:mod:`agents.fidelity`) a trial is judged at rungs of
``r·η^k`` epochs. With the *data* resource the rungs stay where they are, but the epochs a
trial trains before its bracket's ``k``-th rung (0-based) see only a fraction ``η^(k-K)`` of the
training split, ``K`` being the number of rungs of the bracket; after its last rung a trial
trains on all of it. Epoch ``e`` (0-based) lies before rung ``L`` when ``e < L``:

.. math::

    f(e) = \\eta^{\\,k(e) - K}, \\qquad k(e) = |\\{L \\in \\text{rungs} : L \\le e\\}|

So a trial stopped at its first rung has trained ``r`` epochs on ``η^-K`` of the data (cheap),
and a promoted trial goes on with the same weights on more of it. The subsets are *nested*
(the ``1/9`` subset lies inside the ``1/3`` subset) and *stratified* (each class keeps its
share, at least one sample each): one seeded permutation per class, of which a fraction ``f``
takes the first ``ceil(f·n_c)``. They are drawn from the run's seed and the labels only, so
every trial, ``--join`` process and Ray worker of a run trains on the same samples at the same
rung. Validation (rung decisions, the selected epoch) and the energy measurement always use the
full validation split.

Example:
    >>> epoch_fractions((1, 3), max_epochs=6, reduction_factor=3)
    (0.1111111111111111, 0.3333333333333333, 0.3333333333333333, 1.0, 1.0, 1.0)
    >>> epoch_fractions((), max_epochs=2, reduction_factor=3)
    (1.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from evolve.data.datasets import Split
from evolve.errors import UserError

__all__ = [
    "FIDELITY_RESOURCES",
    "DataFidelity",
    "data_fidelity",
    "epoch_fractions",
    "epoch_splits",
    "nested_subsets",
]

#: What a multi-fidelity scheduler's rungs ration: training epochs only, or also the fraction
#: of the training split seen before each rung.
FIDELITY_RESOURCES = ("epochs", "data")


def epoch_fractions(
    rungs: Sequence[int], *, max_epochs: int, reduction_factor: int
) -> tuple[float, ...]:
    """The fraction of the training split each epoch ``0 .. max_epochs-1`` trains on, for a
    bracket with ``rungs`` (epochs, ascending): ``η^(k-K)`` before the ``k``-th rung, ``1``
    after the last (see the module docstring)."""
    total = len(rungs)
    return tuple(
        1.0 / reduction_factor ** (total - sum(1 for level in rungs if level <= e))
        for e in range(max_epochs)
    )


@dataclass(frozen=True)
class DataFidelity:
    """The training-data schedule of a run: per Hyperband bracket, the fraction of the
    training split each epoch uses; trial ``n`` is in bracket ``n mod len(brackets)``.

    Attributes:
        brackets: Per bracket, one fraction per epoch (an epoch past the end uses all data).
        seed: The run's seed, which draws the subsets (the same for every trial).
    """

    brackets: tuple[tuple[float, ...], ...]
    seed: int = 0

    def of_trial(self, number: int) -> tuple[float, ...]:
        """The per-epoch fractions of trial ``number``."""
        return self.brackets[number % len(self.brackets)]

    @classmethod
    def of(cls, scheduler: Any, seed: int = 0) -> DataFidelity:
        """The schedule of an :class:`agents.fidelity.MultiObjectiveASHA` (its levels,
        brackets, ``η`` and ``max_epochs``)."""
        return cls(
            tuple(
                epoch_fractions(
                    scheduler.rungs_of(b),
                    max_epochs=scheduler.max_epochs,
                    reduction_factor=scheduler.reduction_factor,
                )
                for b in range(scheduler.n_brackets)
            ),
            seed,
        )


def data_fidelity(
    resource: str, fidelity: str, scheduler: Any, *, seed: int
) -> DataFidelity | None:
    """The data schedule a run's settings ask for (``None``: every epoch uses all data).

    Raises:
        UserError: an unknown resource, or ``data`` with a fidelity that has no rungs.
    """
    if resource not in FIDELITY_RESOURCES:
        raise UserError(
            f"fidelity_resource must be one of {', '.join(FIDELITY_RESOURCES)}, got {resource!r}"
        )
    if resource == "epochs":
        return None
    if not hasattr(scheduler, "rungs_of"):
        raise UserError(
            f"fidelity_resource must be epochs with fidelity {fidelity}; "
            "for data give fidelity asha or hyperband"
        )
    return DataFidelity.of(scheduler, seed)


def nested_subsets(
    labels: torch.Tensor, fractions: Iterable[float], seed: int
) -> dict[float, torch.Tensor]:
    """Sorted sample indices of a nested, stratified subset of ``labels`` per fraction.

    Every class gets one permutation drawn with ``seed``; the subset of fraction ``f`` holds
    the first ``max(1, ceil(f·n_c))`` samples of each class's permutation (all of them for
    ``f >= 1``), so a smaller fraction's subset lies inside a larger one's.

    Example:
        >>> subsets = nested_subsets(torch.tensor([0, 0, 0, 1, 1, 1, 1, 1, 1]), [1 / 3, 1], 0)
        >>> [len(subsets[f]) for f in (1 / 3, 1)]
        [3, 9]
    """
    generator = torch.Generator().manual_seed(seed)
    orders = []
    for c in torch.unique(labels).tolist():  # ascending class order: reproducible
        members = torch.nonzero(labels == c).flatten()
        orders.append(members[torch.randperm(len(members), generator=generator)])
    out = {}
    for f in fractions:
        if f >= 1:
            out[f] = torch.arange(len(labels))
            continue
        taken = [o[: min(len(o), max(1, math.ceil(f * len(o) - 1e-9)))] for o in orders]
        out[f] = torch.sort(torch.cat(taken)).values
    return out


def epoch_splits(split: Split, fractions: Sequence[float], seed: int) -> Callable[[int], Split]:
    """``epoch → the Split that epoch trains on`` (for :func:`evolve.training.trainer.train`):
    the nested subset of ``fractions[epoch]`` (all of ``split`` past the end or at 1)."""
    subsets = nested_subsets(split.y, set(fractions), seed)
    cache = {f: split if f >= 1 else Split(split.x[i], split.y[i]) for f, i in subsets.items()}

    def at(epoch: int) -> Split:
        return cache[fractions[epoch]] if epoch < len(fractions) else split

    return at
