"""``evolve predict``: run an exported model on a file of samples, with the training preprocessing.

The model is rebuilt from the export's ``model.pt`` (spec + weights, loaded with
``weights_only=True``); the preprocessing comes from its ``model_card.json``: each row of raw
values is multiplied by ``input_scale`` and reshaped to ``input_shape``. Input files:

* ``.npy``: an array ``[N, features]`` or ``[N, *input_shape]`` (``allow_pickle=False``);
* ``.csv`` (comma-separated, one header line) or ``.parquet``: one row per sample; a column
  named ``label`` (if any) holds the true class and is not a feature.

Labels may also come from ``--labels FILE.npy``. With labels, the accuracy is printed.
Classes are named as in the training data (the card's ``class_names``); a label the model never
saw, or feature columns other than the training columns, are refused.
Predictions go to stdout (``index,prediction``) or to ``--out FILE.csv`` with the scores.
The work is :func:`evolve.export.predict.predict`.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from evolve.cli._flags import add_flag, spelled
from evolve.errors import UserError

#: The library names its arguments at the start of a message; the user typed these flags.
_ARGUMENT = re.compile(r"^(inputs|labels|output) ")
_FLAG = {"inputs": "--input", "labels": "--labels"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="run an exported model on samples from a .npy, .csv or .parquet file",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        epilog=(
            "examples:\n"
            "  evolve predict --model runs/mine/exports/trial_0 --input samples.csv\n"
            "  evolve predict --model exported/ --input x.npy --labels y.npy --out preds.csv"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", type=Path, required=True, help="an `evolve export` folder")
    p.add_argument("--input", type=Path, required=True, help=".npy, .csv or .parquet samples")
    p.add_argument("--labels", type=Path, help=".npy of true classes (for the accuracy)")
    add_flag(
        p,
        "--out",
        aliases=("--output",),
        type=Path,
        help="write index,prediction,scores... to this new CSV file",
    )
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from evolve.export.predict import predict

    try:
        result = predict(a.model, a.input, a.labels, output=a.out)
    except UserError as e:
        flags = {**_FLAG, "output": spelled(a, "out", "--out")}  # as typed: --out or --output
        said = _ARGUMENT.sub(lambda m: flags[m.group(1)] + " ", str(e))
        if said == str(e):
            raise
        raise type(e)(said) from e
    if result.output is not None:
        print(f"wrote {len(result.predictions)} predictions to {result.output}")
    else:
        print("index,prediction")
        for i, name in enumerate(result.names):
            print(f"{i},{name}")
    if result.accuracy is not None:
        print(
            f"accuracy {result.accuracy * 100:.2f} % ({result.n_correct}/{len(result.predictions)})"
        )
    return 0


__all__ = ["add_parser", "run"]
