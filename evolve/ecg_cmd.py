"""``evolve ecg``: ECG anomaly detection with a spiking autoencoder, on real MIT-BIH data.

Trains on the normal beats of MIT-BIH record 208 (shipped with snn-evolve, unlabelled), sets the
threshold on its held-out normal beats, and evaluates on sktime's labelled MIT-BIH excerpt; the
method is in :mod:`evolve.ecg`. Writes ``result.json``, ``log.txt`` and three plots into a new
run folder.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from evolve.errors import UserError

# torch, scipy and the pipeline are imported inside run(): `evolve --help` stays fast.
if TYPE_CHECKING:
    from evolve.ecg import ECGResult

DEFAULTS = {"epochs": 60, "quantile": 0.99, "seed": 0, "timesteps": 8}
PLOTS = ("excerpt.png", "scores.png", "beats.png")


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


def _run_dir(out: Path | None) -> Path:
    from evolve.runfolder import new_run_dir

    if out is None:
        return new_run_dir(Path("runs"), "ecg")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out} already exists; choose another folder or delete it")
    out.mkdir(parents=True, exist_ok=True)
    return out


def run(a: argparse.Namespace) -> int:
    from evolve.ecg import ECGSettings, load_excerpt, run_pipeline
    from evolve.runfolder import configure_logging, write_json

    settings = ECGSettings(epochs=a.epochs, quantile=a.quantile, seed=a.seed, timesteps=a.timesteps)
    settings.validate()  # before any folder is made
    if not 0 <= a.seed < 2**32:
        raise UserError(f"--seed must be a whole number in 0..{2**32 - 1}, got {a.seed}")
    if a.excerpt is not None and not a.excerpt.is_file():
        raise UserError(f"--excerpt {a.excerpt}: file not found; give a CSV with data,label")
    with warnings.catch_warnings():  # numpy warns about an empty file; the error says it
        warnings.simplefilter("ignore", UserWarning)
        excerpt = load_excerpt(a.excerpt)
    run_dir = _run_dir(a.out)
    sink = configure_logging(run_dir, verbose=a.verbose)
    try:
        logger.info(f"evolve ecg: {settings}")
        result = run_pipeline(settings, excerpt=excerpt)
        summary = result.summary()
        summary["command"] = "evolve ecg"
        summary["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
        plots = save_plots(result, run_dir)
        summary["plots"] = [p.name for p in plots]
        write_json(run_dir / "result.json", summary)
        for line in summary_lines(summary):
            logger.info(line)
    finally:
        logger.remove(sink)
    for line in summary_lines(summary):
        print(line)
    print(f"run folder: {run_dir}")
    return 0


def summary_lines(s: dict[str, Any]) -> list[str]:
    """The short report printed at the end (and logged)."""
    r, e, en = s["record_208"], s["excerpt"], s["energy"]
    detected = "yes" if e["anomaly_detected"] else "NO"
    return [
        f"record 208: {r['n_beats']} beats, {r['n_normal_selected']} taken as normal "
        f"({r['n_train']} train, {r['n_heldout']} held out); threshold "
        f"{r['threshold']:.4g} = q{s['settings']['quantile']:g} of held-out normal scores",
        f"record 208 beats the rule rejects (mostly PVCs) flagged: {r['rejected_flag_rate']:.0%}",
        f"excerpt: {e['n_beats']} beats ({e['n_abnormal']} abnormal, {e['n_normal']} normal, "
        f"{e['n_border']} border); labelled anomaly detected: {detected}",
        f"detection rate {e['detection_rate']:.2f}, false-positive rate "
        f"{e['false_positive_rate']:.3f} ({e['false_positives']}/{e['n_normal']} normal beats)",
        f"energy per beat {en['energy_per_beat_uj']:.4g} uJ (equal-size ANN "
        f"{en['ann_energy_per_beat_uj']:.4g} uJ, {en['profile']}); {s['seconds']:.1f} s",
    ]


def save_plots(result: ECGResult, folder: Path) -> list[Path]:
    """The excerpt with labelled and flagged beats, the score distributions with the threshold,
    and the mean normal beat beside the abnormal ones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from evolve.ecg import FS, PRE_S

    d, ev, ex = result.detector, result.evaluation, result.excerpt
    thr = d.threshold
    paths = [folder / name for name in PLOTS]

    # 1. the excerpt
    t = np.arange(len(ex.signal)) / FS
    fig, (ax, ax2) = plt.subplots(
        2, 1, figsize=(14, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.plot(t, ex.signal, lw=0.7, color="0.2")
    assert ex.labels is not None
    ax.fill_between(
        t,
        ex.signal.min(),
        ex.signal.max(),
        where=ex.labels == 1,
        color="tab:orange",
        alpha=0.3,
        label="labelled anomaly",
    )
    pk = ev.beats.peaks
    ok = ~ev.flagged
    ax.plot(pk[ok] / FS, ex.signal[pk[ok]], "o", ms=5, color="tab:green", label="beat, not flagged")
    ax.plot(
        pk[ev.flagged] / FS,
        ex.signal[pk[ev.flagged]],
        "v",
        ms=9,
        color="tab:red",
        label="beat flagged",
    )
    ax.set_ylabel("ECG (mV)")
    ax.set_title(
        f"{ex.name}: detection rate {ev.detection_rate:.2f}, false-positive rate "
        f"{ev.false_positive_rate:.3f}"
    )
    ax.legend(loc="lower left", fontsize=8)
    ax2.bar(pk / FS, ev.scores / thr, width=0.15, color=np.where(ev.flagged, "tab:red", "0.5"))
    ax2.axhline(1.0, color="tab:red", ls="--", lw=1)
    ax2.set_yscale("log")
    ax2.set_ylabel("score / threshold")
    ax2.set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(paths[0], dpi=100)
    plt.close(fig)

    # 2. score distributions
    fig, ax = plt.subplots(figsize=(8, 4.5))
    groups = [
        (d.train_scores, "record 208 normal (train)", "tab:blue"),
        (d.heldout_scores, "record 208 normal (held out)", "tab:cyan"),
        (d.rejected_scores, "record 208 rejected by the rule (mostly PVCs)", "tab:purple"),
        (ev.scores[ev.normal], "excerpt normal", "tab:green"),
    ]
    allv = np.concatenate([g[0] for g in groups] + [ev.scores])
    top = min(allv.max(), 100 * thr)  # artefacts of record 208 score far higher: last bin
    bins = np.logspace(np.log10(allv.min() * 0.9), np.log10(top * 1.1), 40).tolist()
    for v, label, colour in groups:
        ax.hist(
            np.clip(v, None, top),
            bins=bins,
            alpha=0.5,
            label=f"{label} (n={len(v)})",
            color=colour,
            density=True,
        )
    for v in ev.scores[ev.abnormal]:
        ax.axvline(v, color="tab:red", lw=2, label="excerpt abnormal")
    ax.axvline(thr, color="k", ls="--", label=f"threshold (q{d.settings.quantile:g})")
    ax.set_xscale("log")
    ax.set_xlabel("anomaly score (reconstruction MSE)")
    ax.set_ylabel("density")
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=True))
    ax.legend(uniq.values(), uniq.keys(), fontsize=7)
    fig.tight_layout()
    fig.savefig(paths[1], dpi=100)
    plt.close(fig)

    # 3. mean normal beat vs abnormal ones
    tb = (np.arange(d.beats.raw.shape[1]) / FS - PRE_S) * 1000
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharex=True)
    m, s = d.beats.raw[d.normal_mask].mean(axis=0), d.beats.raw[d.normal_mask].std(axis=0)
    axes[0].plot(tb, m, color="tab:blue", label="mean normal beat (± 1 sd)")
    axes[0].fill_between(tb, m - s, m + s, color="tab:blue", alpha=0.2)
    rej = np.flatnonzero(~d.normal_mask)
    if len(rej):
        k = rej[int(np.argsort(d.rejected_scores)[int(0.9 * (len(rej) - 1))])]
        axes[0].plot(
            tb, d.beats.raw[k], color="tab:purple", label="a rejected beat (90th-percentile score)"
        )
    axes[0].set_title("record 208 (training record)")
    normal = ev.beats.raw[ev.normal]
    axes[1].plot(tb, normal.mean(axis=0), color="tab:green", label="mean normal beat")
    for i in np.flatnonzero(ev.abnormal):
        axes[1].plot(
            tb,
            ev.beats.raw[i],
            color="tab:red",
            label=f"abnormal beat at {ev.beats.peaks[i] / FS:.2f} s, score {ev.scores[i] / thr:.1f}x",
        )
    axes[1].set_title(f"{ex.name} (evaluation)")
    for axis in axes:
        axis.set_xlabel("time from R peak (ms)")
        axis.set_ylabel("filtered ECG (mV)")
        axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(paths[2], dpi=100)
    plt.close(fig)
    return paths


__all__ = ["add_parser", "run", "save_plots", "summary_lines"]
