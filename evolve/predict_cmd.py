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
        tuple(int(d) for d in card["data"]["input_shape"])
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{card_path}: not a readable model card ({e}); re-export") from None
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


def run(a: argparse.Namespace) -> int:
    import torch

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
        labels = np.load(a.labels, allow_pickle=False) if a.labels.is_file() else None
        if labels is None:
            raise UserError(f"--labels {a.labels}: no such file")
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
