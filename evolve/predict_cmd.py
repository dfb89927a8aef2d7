"""``evolve predict``: run an exported model on a file of samples, with the training preprocessing.

The model is rebuilt from the export's ``model.pt`` (spec + weights, loaded with
``weights_only=True``); the preprocessing comes from its ``model_card.json``: each row of raw
values is multiplied by ``input_scale`` and reshaped to ``input_shape``. Input files:

* ``.npy``: an array ``[N, features]`` or ``[N, *input_shape]`` (``allow_pickle=False``);
* ``.csv`` (comma-separated, one header line) or ``.parquet``: one row per sample; a column
  named ``label`` (if any) holds the true class and is not a feature.

Labels may also come from ``--labels FILE.npy``. With labels, the accuracy is printed.
Predictions go to stdout (``index,prediction``) or to ``--output FILE.csv`` with the scores.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from evolve.errors import UserError

LABEL_COLUMN = "label"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="run an exported model on samples from a .npy, .csv or .parquet file",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        epilog=(
            "examples:\n"
            "  evolve predict --model runs/mine/exports/trial_12 --input samples.csv\n"
            "  evolve predict --model exported/ --input x.npy --labels y.npy --output preds.csv"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", type=Path, required=True, help="an `evolve export` folder")
    p.add_argument("--input", type=Path, required=True, help=".npy, .csv or .parquet samples")
    p.add_argument("--labels", type=Path, help=".npy of true classes (for the accuracy)")
    p.add_argument("--output", type=Path, help="write index,prediction,scores... to this CSV")
    p.set_defaults(func=run)


def load_export(folder: Path) -> tuple[Any, dict[str, Any]]:
    """The model (eval mode) and the model card of an export folder."""
    from evolve import checkpoints

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


def read_samples(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(features [N, ...] as float32, labels [N] or None) from a .npy, .csv or .parquet file."""
    if not path.is_file():
        raise UserError(f"--input {path}: no such file")
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
            raise UserError(f"--input {path}: use a .npy, .csv or .parquet file")
    except UserError:
        raise
    except Exception as e:
        raise UserError(f"--input {path}: cannot read it ({type(e).__name__}: {e})") from None
    if x.ndim < 1 or x.shape[0] == 0:
        raise UserError(f"--input {path}: no samples")
    try:
        x = x.astype(np.float32)
    except (TypeError, ValueError):
        raise UserError(f"--input {path}: features must be numbers") from None
    return x, labels


def read_labels(path: Path) -> np.ndarray:
    """True classes from a ``.npy`` file (``allow_pickle=False``)."""
    if not path.is_file():
        raise UserError(f"--labels {path}: no such file")
    try:
        labels = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise UserError(f"--labels {path}: cannot read it as .npy ({e})") from None
    if not isinstance(labels, np.ndarray):
        raise UserError(f"--labels {path}: holds several arrays; give one .npy array of classes")
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


def _check_output(path: Path) -> None:
    if path.exists():
        raise UserError(f"--output {path} already exists; choose another file or delete it")
    if not path.parent.is_dir():
        raise UserError(f"--output {path}: the folder {path.parent} does not exist; create it")


def run(a: argparse.Namespace) -> int:
    import torch

    if a.output is not None:
        _check_output(a.output)
    model, card = load_export(a.model)
    x, labels = read_samples(a.input)
    shape = tuple(card["data"]["input_shape"])
    n_features = math.prod(shape)
    if x.reshape(len(x), -1).shape[1] != n_features:
        raise UserError(
            f"--input {a.input}: each sample has {x.reshape(len(x), -1).shape[1]} values, the "
            f"model takes {n_features} ({'x'.join(map(str, shape))})"
        )
    if not np.all(np.isfinite(x)):
        raise UserError(f"--input {a.input}: has NaN or infinite values")
    scale = float(card["data"]["preprocessing"]["input_scale"])
    inputs = torch.from_numpy(x.reshape(len(x), *shape) * scale)
    if a.labels is not None:
        labels = _check_labels(read_labels(a.labels), f"--labels {a.labels}")
    elif labels is not None:
        labels = _check_labels(labels, f"--input {a.input} column {LABEL_COLUMN!r}")
    if labels is not None and len(labels) != len(x):
        raise UserError(f"{len(labels)} labels for {len(x)} samples")
    scores = []
    with torch.no_grad():
        for i in range(0, len(inputs), 256):
            scores.append(model(inputs[i : i + 256]))
    logits = torch.cat(scores).numpy()
    preds = logits.argmax(1)
    if a.output is not None:
        cols = ["index", "prediction", *(f"score_{c}" for c in range(logits.shape[1]))]
        rows = np.column_stack([np.arange(len(preds)), preds, logits])
        header = ",".join(cols)
        np.savetxt(a.output, rows, delimiter=",", header=header, comments="", fmt="%.8g")
        print(f"wrote {len(preds)} predictions to {a.output}")
    else:
        print("index,prediction")
        for i, p in enumerate(preds):
            print(f"{i},{int(p)}")
    if labels is not None:
        acc = float((preds == labels.astype(np.int64)).mean())
        print(f"accuracy {acc * 100:.2f} % ({int((preds == labels).sum())}/{len(preds)})")
    return 0


__all__ = ["add_parser", "load_export", "read_samples", "run"]
