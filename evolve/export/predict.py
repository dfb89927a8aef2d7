"""Run an exported model on samples, with the preprocessing it was trained with.

The model is rebuilt from the export's ``model.pt`` (spec + weights, loaded with
``weights_only=True``); the preprocessing comes from its ``model_card.json``: each row of raw
values is multiplied by ``input_scale`` and reshaped to ``input_shape``. Samples come as an
array or a file:

* ``.npy``: an array ``[N, features]`` or ``[N, *input_shape]`` (``allow_pickle=False``);
* ``.csv`` (comma-separated, one header line) or ``.parquet``: one row per sample; a column
  named ``label`` (if any) holds the true class and is not a feature. A model trained on a table
  of features takes only the same feature columns, by name and in the same order (the card's
  ``feature_names``).

Classes are named as in the training data (the card's ``class_names``: ``cat``/``dog``, the
UCR archive's ``1``/``2``, ...): predictions carry their names, and true labels are read by
name (:mod:`evolve.data.labels`); a label the model never saw is refused. A card without class
names (an older export, an imported NIR graph) names its classes ``0``..``K-1``.

Error messages name the argument they are about (``inputs``, ``labels``, ``output``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evolve.errors import UserError, translated

__all__ = [
    "LABEL_COLUMN",
    "Prediction",
    "card_classes",
    "load_export",
    "predict",
    "read_labels",
    "read_samples",
]

#: The column of a ``.csv``/``.parquet`` file that holds the true classes.
LABEL_COLUMN = "label"
#: Samples run through the model at once.
BATCH = 256


@dataclass(frozen=True)
class Prediction:
    """What :func:`predict` found.

    Attributes:
        predictions: The predicted class index of each sample ``[N]``.
        scores: The model's class scores (logits) ``[N, n_classes]``.
        labels: The true class indices ``[N]`` when given, else ``None``.
        accuracy: The fraction predicted right when labels were given, else ``None``.
        n_correct: How many were predicted right when labels were given, else ``None``.
        output: The CSV written (``index,prediction,score_<class>,...``), or ``None``.
        classes: The class names in index order (the model card's ``class_names``).
    """

    predictions: np.ndarray
    scores: np.ndarray
    labels: np.ndarray | None = None
    accuracy: float | None = None
    n_correct: int | None = None
    output: Path | None = None
    classes: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        """The predicted class of each sample, by name."""
        return [self.classes[int(i)] if self.classes else str(int(i)) for i in self.predictions]


def load_export(folder: str | Path) -> tuple[Any, dict[str, Any]]:
    """The model (eval mode) and the model card of an export folder.

    Raises:
        UserError: Not an export folder, an unreadable model card, or a damaged ``model.pt``.
    """
    from evolve.store import checkpoints

    folder = Path(folder)
    card_path, weights = folder / "model_card.json", folder / "model.pt"
    if not card_path.is_file() or not weights.is_file():
        raise UserError(
            f"{folder} is not an export folder (needs model_card.json and model.pt); "
            "create one with `evolve export`"
        )
    try:
        card = json.loads(card_path.read_text())
        shape = [int(d) for d in card["data"]["input_shape"]]
        scale = float(card["data"]["preprocessing"]["input_scale"])
        if not shape or min(shape) < 1 or not math.isfinite(scale):
            raise ValueError(f"input_shape {shape}, input_scale {scale}")
    except (ValueError, KeyError, TypeError, OSError) as e:
        what = f"{type(e).__name__}: {e}" if isinstance(e, KeyError) else str(e)
        raise UserError(f"{card_path}: not a readable model card ({what}); re-export") from None
    return checkpoints.read(weights).model, card


def card_classes(card: dict[str, Any]) -> tuple[str, ...]:
    """The class names a model card records, in index order (``"0"``.. when it records none).

    Raises:
        UserError: class names that do not match the card's ``n_classes``.
    """
    data = card.get("data", {})
    n = int(data.get("n_classes", 0) or 0)
    names = data.get("class_names")
    if not names:
        return tuple(str(i) for i in range(n))
    if not isinstance(names, list) or (n and len(names) != n):
        raise UserError(f"model card: class_names {names!r} do not match {n} classes; re-export")
    return tuple(str(c) for c in names)


def read_samples(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(features [N, ...] as float32, labels [N] or None) from a .npy, .csv or .parquet file.

    Raises:
        UserError: A missing or unreadable file, another suffix, no samples, or non-numbers.
    """
    x, labels, _ = _read(path)
    return x, labels


def _read(path: str | Path) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """:func:`read_samples` and the feature column names of a table (``None`` for ``.npy``)."""
    path = Path(path)
    columns = None
    if not path.is_file():
        raise UserError(f"inputs {path}: no such file")
    suffix = path.suffix.lower()
    labels = None
    try:
        if suffix == ".npy":
            x = np.load(path, allow_pickle=False)
        elif suffix in (".csv", ".parquet"):
            import pandas as pd

            df = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
            if LABEL_COLUMN in df.columns:
                labels = df.pop(LABEL_COLUMN).to_numpy()
            columns = [str(c) for c in df.columns]
            x = df.to_numpy()
        else:
            raise UserError(f"inputs {path}: use a .npy, .csv or .parquet file")
    except UserError:
        raise
    except Exception as e:
        raise UserError(f"inputs {path}: cannot read it ({type(e).__name__}: {e})") from None
    return _features(x, f"inputs {path}"), labels, columns


def _features(x: Any, where: str) -> np.ndarray:
    """``x`` as a float32 array of at least one sample, or a UserError naming ``where``."""
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[0] == 0:
        raise UserError(f"{where}: no samples")
    try:
        return x.astype(np.float32)
    except (TypeError, ValueError):
        raise UserError(f"{where}: features must be numbers") from None


def read_labels(path: str | Path) -> np.ndarray:
    """True classes from a ``.npy`` file (``allow_pickle=False``).

    Raises:
        UserError: A missing or unreadable file, or one holding several arrays.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"labels {path}: no such file")
    try:
        labels = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise UserError(f"labels {path}: cannot read it as .npy ({e})") from None
    if not isinstance(labels, np.ndarray):
        raise UserError(f"labels {path}: holds several arrays; give one .npy array of classes")
    return labels


def _check_labels(labels: np.ndarray, classes: tuple[str, ...], where: str) -> np.ndarray:
    """Labels (class names, or whole numbers naming classes) as class indices, or a UserError
    naming where they came from (an unknown class among them, say)."""
    from evolve.data.labels import encode

    if labels.ndim != 1:
        raise UserError(
            f"{where}: labels must be one class per sample, got an array of shape {labels.shape}"
        )
    return encode(labels, classes, where)


def _check_columns(columns: list[str] | None, card: dict[str, Any], where: str) -> None:
    """A table's feature columns against the columns the model was trained on (by name, in
    order); nothing to check for an array or a model trained on no table of features.

    Raises:
        UserError: the columns differ (the first difference is named).
    """
    trained = card.get("data", {}).get("feature_names")
    if columns is None or not trained or list(columns) == list(trained):
        return
    missing = [c for c in trained if c not in columns]
    extra = [c for c in columns if c not in trained]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"lacks {', '.join(map(repr, missing[:3]))}")
        if extra:
            parts.append(f"has unknown {', '.join(map(repr, extra[:3]))}")
        what = " and ".join(parts)
    else:
        i = next(i for i, (a, b) in enumerate(zip(columns, trained, strict=True)) if a != b)
        what = f"has {columns[i]!r} as feature column {i + 1}, where the model reads {trained[i]!r}"
    shown = ", ".join(trained[:6]) + (", ..." if len(trained) > 6 else "")
    raise UserError(
        f"{where}: its feature columns differ from the training columns: it {what}; give the "
        f"columns {shown} in this order (and {LABEL_COLUMN!r} for the classes)"
    )


def _check_output(path: str | Path) -> Path:
    """``path`` if a new CSV file can be written there, else a UserError.

    Raises:
        UserError: ``path`` exists, or its folder does not.
    """
    path = Path(path)
    if path.exists():
        raise UserError(f"output {path} already exists; choose another file or delete it")
    if not path.parent.is_dir():
        raise UserError(f"output {path}: the folder {path.parent} does not exist; create it")
    return path


def predict(
    model: str | Path,
    inputs: str | Path | np.ndarray,
    labels: str | Path | np.ndarray | None = None,
    *,
    output: str | Path | None = None,
) -> Prediction:
    """Run an exported model on samples; with labels, measure its accuracy.

    Args:
        model: An export folder (``evolve export``, :func:`evolve.export_trial` or
            :func:`evolve.import_nir`).
        inputs: Raw samples: an array ``[N, features]`` or ``[N, *input_shape]``, or a
            ``.npy``, ``.csv`` or ``.parquet`` file (a ``label`` column holds true classes).
        labels: True classes: an array ``[N]`` or a ``.npy`` file (instead of a ``label``
            column).
        output: Also write ``index,prediction,score_0,...`` to this new CSV file.

    Returns:
        The predictions, the class scores and, with labels, the accuracy.

    Raises:
        UserError: Not an export folder or a damaged one; unreadable samples or labels; samples
            of the wrong size or with NaN; not one label per sample; ``output`` exists.

    Example:
        >>> result = predict("runs/mine/exports/trial_3", "samples.csv")  # doctest: +SKIP
        >>> result.predictions[:5], result.accuracy                     # doctest: +SKIP
    """
    import torch

    with translated():
        out = _check_output(output) if output is not None else None
        net, card = load_export(model)
        classes = card_classes(card)
        if isinstance(inputs, str | Path):
            x, found, columns = _read(inputs)
            where = f"inputs {inputs}"
            _check_columns(columns, card, where)
        else:
            x, found, where = _features(inputs, "inputs"), None, "inputs"
        shape = tuple(card["data"]["input_shape"])
        n_features = math.prod(shape)
        if x.reshape(len(x), -1).shape[1] != n_features:
            raise UserError(
                f"{where}: each sample has {x.reshape(len(x), -1).shape[1]} values, the "
                f"model takes {n_features} ({'x'.join(map(str, shape))})"
            )
        if not np.all(np.isfinite(x)):
            raise UserError(f"{where}: has NaN or infinite values")
        scale = float(card["data"]["preprocessing"]["input_scale"])
        batch = torch.from_numpy(x.reshape(len(x), *shape) * scale)
        truth = None
        if isinstance(labels, str | Path):
            truth = _check_labels(read_labels(labels), classes, f"labels {labels}")
        elif labels is not None:
            truth = _check_labels(np.asarray(labels), classes, "labels")
        elif found is not None:
            truth = _check_labels(found, classes, f"{where} column {LABEL_COLUMN!r}")
        if truth is not None and len(truth) != len(x):
            raise UserError(f"{len(truth)} labels for {len(x)} samples")
        scores = []
        with torch.no_grad():
            for i in range(0, len(batch), BATCH):
                scores.append(net(batch[i : i + BATCH]))
        logits = torch.cat(scores).numpy()
        preds = logits.argmax(1)
        if out is not None:
            _write_csv(out, preds, logits, classes)
    if truth is None:
        return Prediction(predictions=preds, scores=logits, output=out, classes=classes)
    right = preds == truth
    return Prediction(
        predictions=preds,
        scores=logits,
        labels=truth,
        accuracy=float(right.mean()),
        n_correct=int(right.sum()),
        output=out,
        classes=classes,
    )


def _write_csv(path: Path, preds: np.ndarray, logits: np.ndarray, classes: tuple[str, ...]) -> None:
    """``index,prediction,score_<class>,...``: the predicted class by name, one score per class
    (quoted where a name holds a comma)."""
    import csv

    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "prediction", *(f"score_{c}" for c in classes)])
        for i, (p, row) in enumerate(zip(preds, logits, strict=True)):
            w.writerow([i, classes[int(p)], *(f"{v:.8g}" for v in row)])
