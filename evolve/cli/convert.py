"""``evolve convert``: ANN→SNN conversion of a ReLU MLP/CNN, accuracy and energy against T."""

from __future__ import annotations

import argparse
from pathlib import Path

from evolve.cli._flags import add_flag, in_flag_words
from evolve.errors import UserError


#: Keywords of :func:`evolve.training.convert.convert` that start its messages → the flag.
def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="convert a trained ReLU network to IF neurons and report accuracy against T",
        description=(
            "Train the ANN twin of an MLP/CNN architecture (or load a trained one with --ann), "
            "fold its BatchNorms, normalise each layer by the percentile of its ReLU activations "
            "on training data, run it as soft-reset IF neurons, and print test accuracy, energy "
            "and spikes per inference for each number of time steps T. Writes result.json, "
            "ann.pt, log.txt (and accuracy_vs_T.png with matplotlib) into a new run folder."
        ),
        epilog=(
            "examples:\n"
            "  evolve convert                                 # MLP twin on digits\n"
            "  evolve convert --arch cnn --timesteps 8,16,32,64,128\n"
            "  evolve convert --ann runs/teachers/digits-mlp-w256-s0.pt\n"
            "  evolve convert --ann runs/teachers/digits-mlp-w256-s0.pt --percentile 100"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_flag(
        p,
        "--dataset",
        aliases=("--data",),
        default="digits",
        help="digits (default), fashion-mnist, or .npz",
    )
    p.add_argument("--data-dir", type=Path, help="folder holding the data set's files")
    p.add_argument("--arch", default="mlp", help="preset (mlp, cnn) or a YAML architecture file")
    p.add_argument(
        "--ann", type=Path, help="a trained ANN: ann.pt from this command or a teacher's .pt"
    )
    p.add_argument(
        "--timesteps", default="8,16,32,64", help="comma-separated T values (default 8,16,32,64)"
    )
    p.add_argument(
        "--percentile",
        type=float,
        default=99.9,
        help="activation percentile for each layer's scale; 100 = max (default 99.9)",
    )
    p.add_argument("--epochs", type=int, default=20, help="ANN training epochs (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and training")
    p.add_argument("--out", type=Path, default=Path("runs"), help="where run folders go")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log INFO messages to stderr too")
    p.set_defaults(func=run)


def _timesteps(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"--timesteps: cannot read {text!r}; give integers, e.g. 8,16,32") from None
    if not values or min(values) < 1:
        raise UserError(f"--timesteps: give positive integers, e.g. 8,16,32 (got {text!r})")
    return values


def run(a: argparse.Namespace) -> int:
    from evolve.training.convert import convert

    try:
        r = convert(
            a.arch,
            a.dataset,
            ann=a.ann,
            timesteps=_timesteps(a.timesteps),
            percentile=a.percentile,
            epochs=a.epochs,
            seed=a.seed,
            data_dir=a.data_dir,
            out=a.out,
            progress=not a.no_progress,
            verbose=a.verbose,
        )
    except UserError as e:
        err = in_flag_words(e, ("arch", "ann", "percentile", "epochs", "timesteps"))
        if err is e:
            raise
        raise err from e.__cause__
    print(f"evolve convert: {r.dataset}, {r.spec['kind']} ({r.source}), percentile {r.percentile}")
    print(f"  ANN        test {100 * r.ann_test_accuracy:6.2f} %  energy {r.ann_energy_uj:.4f} uJ")
    for row in r.rows:
        print(
            f"  SNN T={row.timesteps:<4d} test {100 * row.test_accuracy:6.2f} %  energy "
            f"{row.energy_uj:.4f} uJ ({row.ratio_to_ann:.2f}x ANN)  "
            f"{row.spikes_per_inference:,.0f} spikes"
        )
    print(f"  run folder {r.run_dir}")
    return 0
