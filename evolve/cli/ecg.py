"""``evolve ecg``: ECG anomaly detection with a spiking autoencoder, on real MIT-BIH data.

Trains on the normal beats of MIT-BIH record 208 (shipped with snn-evolve, unlabelled), sets the
threshold on its held-out normal beats, and evaluates on sktime's labelled MIT-BIH excerpt; the
method is in :mod:`evolve.apps.ecg.pipeline` (:func:`~evolve.apps.ecg.pipeline.detect_anomalies`).
Writes ``result.json``, ``log.txt`` and three plots into a new run folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from evolve.cli._flags import in_flag_words
from evolve.errors import UserError

# torch, scipy and the pipeline are imported inside run(): `evolve --help` stays fast.

DEFAULTS = {"epochs": 60, "quantile": 0.99, "seed": 0, "timesteps": 8}


#: Keywords of :func:`evolve.apps.ecg.pipeline.detect_anomalies` that start its messages.
def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ecg",
        help="ECG anomaly detection on real MIT-BIH data with a spiking autoencoder",
        description=(
            "Detect abnormal heartbeats with a spiking autoencoder. R peaks are found in MIT-BIH "
            "record 208 (5 min, 360 Hz, unlabelled, shipped with snn-evolve), beats whose shape "
            "and rhythm are typical are taken as normal without labels, the autoencoder learns "
            "them, and the threshold is a quantile of the reconstruction errors of held-out "
            "normal beats (normal data only). It is then evaluated on sktime's labelled MIT-BIH "
            "excerpt (the timeseries extra): detection rate, false-positive rate and energy per "
            "beat measured from the network's spikes. Writes result.json, log.txt and plots "
            "(excerpt.png, scores.png, beats.png) into a new run folder."
        ),
        epilog=(
            "examples:\n"
            "  evolve ecg                                  # runs/ecg-<date-time>/\n"
            "  evolve ecg --epochs 120 --quantile 0.98 --seed 3\n"
            "  evolve ecg --out runs/my-ecg --excerpt my_series.csv   # columns data,label at 360 Hz"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--out",
        type=Path,
        help="the run folder to create (default runs/ecg-<date-time>); new or empty",
    )
    p.add_argument(
        "--epochs", type=int, default=DEFAULTS["epochs"], help="training epochs (default 60)"
    )
    p.add_argument(
        "--quantile",
        type=float,
        default=DEFAULTS["quantile"],
        help="threshold = this quantile of held-out normal scores, in [0.5, 1) (default 0.99)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=DEFAULTS["seed"],
        help="seed of the split and the training (default 0)",
    )
    p.add_argument(
        "--timesteps",
        type=int,
        default=DEFAULTS["timesteps"],
        help="simulation steps T (default 8)",
    )
    p.add_argument(
        "--excerpt",
        type=Path,
        help="labelled CSV (columns data,label; mV at 360 Hz) instead of sktime's MIT-BIH excerpt",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log INFO messages to stderr too")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from evolve.apps.ecg.pipeline import detect_anomalies, summary_lines

    try:
        done = detect_anomalies(
            epochs=a.epochs,
            quantile=a.quantile,
            seed=a.seed,
            timesteps=a.timesteps,
            excerpt=a.excerpt,
            out=a.out,
            progress=True,  # warnings on standard error, as every command shows them
            verbose=a.verbose,
        )
    except UserError as e:
        err = in_flag_words(e, ("quantile", "epochs", "timesteps", "seed", "excerpt", "out"))
        if err is e:
            raise
        raise err from e.__cause__
    for line in summary_lines(done.summary):
        print(line)
    print(f"run folder: {done.run_dir}")
    return 0


__all__ = ["add_parser", "run"]
