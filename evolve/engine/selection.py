"""Selecting on small data: k-fold cross-validation instead of one tiny validation split.

A validation split of 10–30 samples lets many candidates reach accuracy 1.0 there, so picking
the front's most accurate point is luck. With ``selection`` ``kfold`` (automatic, ``auto``, when
the validation split has fewer than :data:`SMALL_VALIDATION` samples) a trial's ``accuracy``
objective is the mean over ``K`` stratified folds of train + validation pooled:

.. math::

    \\mathrm{acc}_{cv} = \\frac{1}{K} \\sum_{k=1}^{K} \\mathrm{acc}(f_{-k}, D_k), \\qquad
    s_{cv} = \\sqrt{\\frac{1}{K} \\sum_k (\\mathrm{acc}(f_{-k}, D_k) - \\mathrm{acc}_{cv})^2}

where :math:`f_{-k}` is the candidate trained (as every trial is: best epoch on its held-out
part) on every fold but :math:`D_k`. The folds are the same for every trial of a run (drawn with
the run's seed), so candidates are compared on the same data. The trial's model, its energy, its
test accuracy and its checkpoint stay those of the usual train → validation training (energy is
measured on that final model); the folds only score. A fold-trained model costs one more
training each: ``K + 1`` trainings per finished trial (a trial stopped early skips the folds).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from evolve.errors import UserError

if TYPE_CHECKING:
    from evolve.data.datasets import Dataset

__all__ = [
    "DEFAULT_FOLDS",
    "SELECTIONS",
    "SMALL_VALIDATION",
    "cross_validate",
    "fold_datasets",
    "fold_indices",
    "resolve_folds",
]

#: ``selection`` values: ``auto`` (k-fold below :data:`SMALL_VALIDATION`), ``holdout``, ``kfold``.
SELECTIONS = ("auto", "holdout", "kfold")
DEFAULT_FOLDS = 5
#: ``auto`` selects on k-fold cross-validation when the validation split is smaller than this.
SMALL_VALIDATION = 100


def _pooled_labels(data: Dataset) -> np.ndarray:
    return np.concatenate([data.train.y.numpy(), data.val.y.numpy()])


def resolve_folds(selection: str | None, folds: int | None, data: Dataset | None = None) -> int:
    """The number of folds a run scores on (0: the usual holdout validation split).

    Args:
        selection: ``auto``, ``holdout`` or ``kfold`` (None: ``auto``).
        folds: K (None: :data:`DEFAULT_FOLDS`); must be >= 2.
        data: The run's data; without it only the settings are checked (``auto`` gives 0).

    Raises:
        UserError: an unknown selection, folds < 2, folds with holdout, or ``kfold`` with a
            class that has fewer than K samples in train + validation.
    """
    selection = selection or "auto"
    if selection not in SELECTIONS:
        raise UserError(f"selection must be one of {', '.join(SELECTIONS)}, got {selection!r}")
    if folds is not None and (isinstance(folds, bool) or int(folds) != folds or folds < 2):
        raise UserError(f"folds must be an integer >= 2, got {folds!r}")
    if selection == "holdout":
        if folds is not None:
            raise UserError("folds applies to selection kfold or auto, not holdout; drop it")
        return 0
    k = int(folds) if folds is not None else DEFAULT_FOLDS
    if data is None:
        return 0
    counts = np.bincount(_pooled_labels(data))
    smallest = int(counts[counts > 0].min()) if counts.any() else 0
    if selection == "auto":
        if len(data.val) >= SMALL_VALIDATION:
            return 0
        # a class too small for K folds: as many folds as it allows (holdout below 2)
        k = min(k, smallest)
        return k if k >= 2 else 0
    if smallest < k:
        raise UserError(
            f"folds must be at most {smallest} for this data (got {k}): a class has only "
            f"{smallest} samples in train + validation; give fewer folds or selection holdout"
        )
    return k


def fold_indices(data: Dataset, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, held-out) index pairs into train + validation pooled (train first), stratified
    by class and shuffled with ``seed``: the same folds for every trial and baseline of a run."""
    from sklearn.model_selection import StratifiedKFold

    y = _pooled_labels(data)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in splitter.split(np.zeros(len(y)), y)]


def fold_datasets(data: Dataset, folds: int, seed: int) -> list[Dataset]:
    """``data`` with its train and validation splits replaced by each fold's (the test split
    and every other field kept), named ``<name>-fold<k>of<K>`` so that what is cached per data
    set (a distilled trial's ANN teacher) is trained once per fold, on that fold only."""
    import torch

    from evolve.data.datasets import Split

    x = torch.cat([data.train.x, data.val.x])
    y = torch.cat([data.train.y, data.val.y])
    out = []
    for k, (tr, te) in enumerate(fold_indices(data, folds, seed)):
        a, b = torch.as_tensor(tr), torch.as_tensor(te)
        name = f"{data.name}-fold{k + 1}of{folds}"
        fold = dataclasses.replace(data, name=name, train=Split(x[a], y[a]), val=Split(x[b], y[b]))
        out.append(fold)
    return out


def spread(accuracies: list[float]) -> dict[str, Any]:
    """Mean and (population) standard deviation of fold accuracies, as trial attributes."""
    mean = sum(accuracies) / len(accuracies)
    std = math.sqrt(sum((a - mean) ** 2 for a in accuracies) / len(accuracies))
    return {
        "cv_folds": len(accuracies),
        "cv_fold_accuracies": [round(a, 6) for a in accuracies],
        "cv_accuracy_mean": mean,
        "cv_accuracy_std": std,
    }


def cross_validate(
    arch: Mapping[str, Any],
    data: Dataset,
    settings: Any,
    evaluate: Callable[..., Any],
) -> dict[str, Any]:
    """Score a candidate on ``settings.folds`` folds: train it on each fold's training part
    with ``evaluate(arch, fold_data, fold_settings)`` (the trial's own evaluation with
    ``score_only``: training and the held-out accuracy, nothing measured that the folds do not
    use), and collect the best held-out accuracy of each.

    Returns:
        Trial attributes: ``cv_folds``, ``cv_fold_accuracies``, ``cv_accuracy_mean``,
        ``cv_accuracy_std`` and ``cv_seconds`` (the folds' training time).
    """
    import time

    t0 = time.perf_counter()
    one = dataclasses.replace(settings, folds=0, score_only=True)
    accuracies = []
    for fold in fold_datasets(data, settings.folds, settings.fold_seed):
        outcome = evaluate(arch, fold, one)
        accuracies.append(float(outcome.attrs["val_accuracy"]))
    return {**spread(accuracies), "cv_seconds": time.perf_counter() - t0}
