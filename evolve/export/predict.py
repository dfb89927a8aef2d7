"""Run an exported model on samples, with the preprocessing it was trained with.

The model is rebuilt from the export's ``model.pt`` (spec + weights, loaded with
``weights_only=True``); the preprocessing comes from its ``model_card.json``: each row of raw
values is multiplied by ``input_scale`` and reshaped to ``input_shape``. Samples come as an
array or a file:

* ``.npy``: an array ``[N, features]`` or ``[N, *input_shape]`` (``allow_pickle=False``);
* ``.csv`` (comma-separated, one header line) or ``.parquet``: one row per sample; a column
  named ``label`` (if any) holds the true class and is not a feature.

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

__all__ = ["LABEL_COLUMN", "Prediction", "load_export", "predict", "read_labels", "read_samples"]

#: The column of a ``.csv``/``.parquet`` file that holds the true classes.
LABEL_COLUMN = "label"
#: Samples run through the model at once.
BATCH = 256


@dataclass(frozen=True)
class Prediction:
    """What :func:`predict` found.

    Attributes:
        predictions: The predicted class of each sample ``[N]``.
        scores: The model's class scores (logits) ``[N, n_classes]``.
        labels: The true classes ``[N]`` when given, else ``None``.
        accuracy: The fraction predicted right when labels were given, else ``None``.
        n_correct: How many were predicted right when labels were given, else ``None``.
        output: The CSV written (``index,prediction,score_0,...``), or ``None``.
    """

    predictions: np.ndarray
    scores: np.ndarray
    labels: np.ndarray | None = None
    accuracy: float | None = None
    n_correct: int | None = None
    output: Path | None = None


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


def read_samples(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(features [N, ...] as float32, labels [N] or None) from a .npy, .csv or .parquet file.

    Raises:
        UserError: A missing or unreadable file, another suffix, no samples, or non-numbers.
    """
    path = Path(path)
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
            x = df.to_numpy()
        else:
            raise UserError(f"inputs {path}: use a .npy, .csv or .parquet file")
    except UserError:
        raise
    except Exception as e:
        raise UserError(f"inputs {path}: cannot read it ({type(e).__name__}: {e})") from None
    return _features(x, f"inputs {path}"), labels


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


def _check_labels(labels: np.ndarray, where: str) -> np.ndarray:
    """Labels as class indices, or a UserError naming where they came from."""
    if labels.ndim != 1 or not (
        np.issubdtype(labels.dtype, np.integer)
        or (np.issubdtype(labels.dtype, np.floating) and np.all(np.mod(labels, 1) == 0))
    ):
        raise UserError(
            f"{where}: labels must be one whole number (a class index) per sample, "
            f"got {labels.dtype} of shape {labels.shape}"
        )
    return labels.astype(np.int64)


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
        if isinstance(inputs, str | Path):
            x, found = read_samples(inputs)
            where = f"inputs {inputs}"
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
            truth = _check_labels(read_labels(labels), f"labels {labels}")
        elif labels is not None:
            truth = _check_labels(np.asarray(labels), "labels")
        elif found is not None:
            truth = _check_labels(found, f"{where} column {LABEL_COLUMN!r}")
        if truth is not None and len(truth) != len(x):
            raise UserError(f"{len(truth)} labels for {len(x)} samples")
        scores = []
        with torch.no_grad():
            for i in range(0, len(batch), BATCH):
                scores.append(net(batch[i : i + BATCH]))
        logits = torch.cat(scores).numpy()
        preds = logits.argmax(1)
        if out is not None:
            cols = ["index", "prediction", *(f"score_{c}" for c in range(logits.shape[1]))]
            rows = np.column_stack([np.arange(len(preds)), preds, logits])
            header = ",".join(cols)
            np.savetxt(out, rows, delimiter=",", header=header, comments="", fmt="%.8g")
    if truth is None:
        return Prediction(predictions=preds, scores=logits, output=out)
    right = preds == truth
    return Prediction(
        predictions=preds,
        scores=logits,
        labels=truth,
        accuracy=float(right.mean()),
        n_correct=int(right.sum()),
        output=out,
    )
