"""Simple baselines beside the front: what a non-spiking classic reaches on the same splits.

A search shows when a spiking network is not the right tool only if it is set beside what a
simple model reaches on the same data. Once per run (``baselines.json`` in the run folder) and
from :func:`baselines`, scikit-learn models are fitted on the training split and scored on the
validation and test splits the search uses (and, when the run selects on k-fold
cross-validation, on the same folds: :mod:`evolve.engine.selection`):

* tabular data (one feature vector per sample): logistic regression and an MLP with the
  hidden widths of the space's default model (a "same-size" ANN), both on standardised
  features (the scaler fitted on the training part only);
* series (``[C, L]`` per sample): 1-nearest-neighbour with the Euclidean distance and a ridge
  classifier (``RidgeClassifierCV``, α chosen by leave-one-out on the training part), both on
  the raw series flattened;
* images (and anything else): logistic regression on standardised pixels.

The kind is the data set's ``kind`` when it declares one, else its sample shape: 1-D tabular,
2-D series, 3-D or more image. The fit is capped at :data:`MAX_TRAIN` training samples (a
stratified subset, recorded as ``capped``), so it stays a few seconds on any data set.

Example:
    >>> import evolve
    >>> b = evolve.baselines("digits")
    >>> b["kind"], [m["name"] for m in b["models"]]
    ('image', ['logistic_regression'])
    >>> b["models"][0]["test_accuracy"] > 0.9
    True
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from evolve.errors import translated

if TYPE_CHECKING:
    from evolve.data.datasets import Dataset

__all__ = [
    "BASELINES_FILE",
    "MAX_TRAIN",
    "baselines",
    "compute_baselines",
    "data_kind",
    "default_widths",
    "read_baselines",
    "record_baselines",
]

BASELINES_FILE = "baselines.json"
#: At most this many training samples are fitted (a stratified subset beyond).
MAX_TRAIN = 5000
#: The MLP's hidden widths when the space's default model has none (a CNN, say).
DEFAULT_HIDDEN = (128,)
KINDS = ("tabular", "series", "image")


def data_kind(data: Dataset) -> str:
    """``tabular``, ``series`` or ``image``: the data set's declared ``kind`` if it is one of
    these, else from the sample shape (1-D tabular, 2-D series, 3-D or more image)."""
    kind = getattr(data, "kind", None)
    if kind in KINDS:
        return str(kind)
    dims = len(data.input_shape)
    return "tabular" if dims <= 1 else "series" if dims == 2 else "image"


def default_widths(arch: Mapping[str, Any]) -> tuple[int, ...]:
    """The hidden widths (``layer.N.width``) of a space sample, in layer order; empty if none."""
    items = []
    for key, value in arch.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "layer" and parts[2] == "width" and parts[1].isdigit():
            items.append((int(parts[1]), int(value)))
    return tuple(w for _, w in sorted(items))


def _arrays(data: Dataset) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    def flat(split: Any) -> tuple[np.ndarray, np.ndarray]:
        x = split.x.numpy().reshape(len(split), -1).astype(np.float64)
        return x, split.y.numpy()

    return {"train": flat(data.train), "val": flat(data.val), "test": flat(data.test)}


def _models(kind: str, hidden: Sequence[int], seed: int) -> list[tuple[str, str, Any]]:
    """(name, label, unfitted estimator) for a data kind."""
    from sklearn.linear_model import LogisticRegression, RidgeClassifierCV
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    if kind == "series":
        return [
            ("1nn_euclidean", "1-NN (Euclidean)", KNeighborsClassifier(n_neighbors=1)),
            ("ridge", "ridge classifier", RidgeClassifierCV(alphas=np.logspace(-3, 3, 10))),
        ]
    if kind == "tabular":
        mlp = MLPClassifier(hidden_layer_sizes=tuple(hidden), max_iter=300, random_state=seed)
        widths = "-".join(str(w) for w in hidden)
        return [
            ("logistic_regression", "logistic regression", logistic),
            ("mlp", f"MLP {widths} (ANN, same widths)", make_pipeline(StandardScaler(), mlp)),
        ]
    return [("logistic_regression", "logistic regression", logistic)]


def _cap(
    x: np.ndarray, y: np.ndarray, limit: int, seed: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    if len(y) <= limit:
        return x, y, False
    from sklearn.model_selection import train_test_split

    try:
        x, _, y, _ = train_test_split(x, y, train_size=limit, stratify=y, random_state=seed)
    except ValueError:  # a class too small to stratify: a plain random subset
        x, _, y, _ = train_test_split(x, y, train_size=limit, random_state=seed)
    return x, y, True


def _fit_score(
    estimator: Any, train: tuple[np.ndarray, np.ndarray], *tests: tuple[np.ndarray, np.ndarray]
) -> list[float]:
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    model = clone(estimator)
    # one BLAS thread: small fits are slower with a thread per core fighting the search's
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(*train)
    return [float(model.score(x, y)) for x, y in tests]


def compute_baselines(
    data: Dataset,
    *,
    hidden: Sequence[int] = (),
    folds: int = 0,
    seed: int = 0,
    max_train: int = MAX_TRAIN,
) -> dict[str, Any]:
    """Fit the baselines of ``data``'s kind on its training split, score them on its
    validation and test splits (and, with ``folds`` >= 2, on the run's folds of train +
    validation: mean and standard deviation of the held-out accuracy).

    Args:
        data: The data set, with the search's splits.
        hidden: The MLP's hidden widths (tabular data; empty: :data:`DEFAULT_HIDDEN`).
        folds: K of the run's k-fold selection (0: none).
        seed: The run's seed (the MLP's initialisation, the folds, the capped subset).
        max_train: Fit on at most this many training samples.

    Returns:
        JSON-ready: ``kind``, ``dataset``, ``train_samples``, ``capped``, ``folds`` and
        ``models``: one dict per baseline with ``name``, ``label``, ``val_accuracy``,
        ``test_accuracy``, ``seconds`` (and ``cv_accuracy_mean``, ``cv_accuracy_std``,
        ``cv_fold_accuracies`` with folds).
    """
    kind = data_kind(data)
    arrays = _arrays(data)
    x_tr, y_tr, capped = _cap(*arrays["train"], max_train, seed)
    fold_sets = []
    if folds >= 2:
        from evolve.engine.selection import fold_indices

        x_all = np.concatenate([arrays["train"][0], arrays["val"][0]])
        y_all = np.concatenate([arrays["train"][1], arrays["val"][1]])
        for tr, te in fold_indices(data, folds, seed):
            xa, ya, _ = _cap(x_all[tr], y_all[tr], max_train, seed)
            fold_sets.append(((xa, ya), (x_all[te], y_all[te])))
    models = []
    for name, label, estimator in _models(kind, hidden or DEFAULT_HIDDEN, seed):
        t0 = time.perf_counter()
        val, test = _fit_score(estimator, (x_tr, y_tr), arrays["val"], arrays["test"])
        row: dict[str, Any] = {
            "name": name,
            "label": label,
            "val_accuracy": val,
            "test_accuracy": test,
        }
        if fold_sets:
            from evolve.engine.selection import spread

            accs = [_fit_score(estimator, a, b)[0] for a, b in fold_sets]
            cv = spread(accs)
            row.update({k: cv[k] for k in cv if k != "cv_folds"})
        row["seconds"] = round(time.perf_counter() - t0, 3)
        models.append(row)
    return {
        "kind": kind,
        "dataset": data.name,
        "train_samples": len(y_tr),
        "capped": capped,
        "folds": folds if folds >= 2 else 0,
        "models": models,
    }


def baselines(
    dataset: Any = "digits",
    *,
    space: str | None = None,
    selection: str | None = None,
    folds: int | None = None,
    seed: int = 0,
    data_dir: str | Path | None = None,
) -> dict[str, Any]:
    """The simple baselines of a data set, on the splits a search with ``seed`` uses.

    Args:
        dataset: A data set name or file, ``(x, y)`` arrays, or an :class:`evolve.data.Dataset`
            (as :func:`evolve.search` takes).
        space: A space whose default model gives the MLP's widths (tabular data).
        selection, folds: Score on k-fold cross-validation as a search would
            (:func:`evolve.engine.selection.resolve_folds`; ``auto`` by default).
        seed: The split seed.
        data_dir: Folder holding the data set's files.

    Returns:
        What :func:`compute_baselines` returns.

    Raises:
        UserError: a data set or space that cannot be loaded, bad selection settings.
    """
    from evolve.data.arrays import as_dataset
    from evolve.engine.selection import resolve_folds

    with translated():
        data = as_dataset(dataset, seed=seed, data_dir=data_dir)
        hidden: tuple[int, ...] = ()
        if space is not None:
            from search_spaces import load_space

            hidden = default_widths(load_space(space).default())
        k = resolve_folds(selection, folds, data)
        return compute_baselines(data, hidden=hidden, folds=k, seed=seed)


def read_baselines(run_dir: str | Path) -> dict[str, Any] | None:
    """A run folder's recorded baselines (``baselines.json``), or None (none recorded, or the
    file is unreadable)."""
    import json

    path = Path(run_dir) / BASELINES_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("models"), list) else None


def record_baselines(
    run_dir: Path, data: Dataset, arch: Mapping[str, Any], *, folds: int, seed: int
) -> dict[str, Any] | None:
    """Compute the baselines once for a run and write ``baselines.json`` (kept if already
    there). A failure is logged as a warning and never stops the search.

    Args:
        run_dir: The run folder.
        data: The run's data set.
        arch: The space's default sample (the MLP's widths).
        folds: The run's k-fold selection (0: holdout).
        seed: The run's seed.
    """
    from evolve.store.runfolder import write_json
    from evolve.store.runlog import logger

    recorded = read_baselines(run_dir)
    if recorded is not None:
        return recorded
    try:
        result = compute_baselines(data, hidden=default_widths(arch), folds=folds, seed=seed)
    except Exception as e:  # a baseline is a comparison, never a reason to stop the search
        logger.warning("baselines skipped: {}: {}", type(e).__name__, e)
        return None
    write_json(run_dir / BASELINES_FILE, result)
    logger.info(
        "baselines ({} data, fitted on {} samples{}): {}",
        result["kind"],
        result["train_samples"],
        ", capped" if result["capped"] else "",
        "; ".join(
            f"{m['label']} test {m['test_accuracy']:.4f} ({m['seconds']:.1f}s)"
            for m in result["models"]
        ),
    )
    return result


def comparable_accuracy(model: Mapping[str, Any]) -> float:
    """The baseline's accuracy in the front's terms: its k-fold mean when the run selects on
    folds, else its validation accuracy."""
    value = model.get("cv_accuracy_mean", model.get("val_accuracy"))
    return float(value) if isinstance(value, int | float) else math.nan
