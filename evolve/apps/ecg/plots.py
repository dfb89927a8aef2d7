"""The figures of an ECG run: the excerpt with labelled and flagged beats, the score
distributions with the threshold, and the mean normal beat beside the abnormal ones."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from evolve.apps.ecg.signals import FS, PRE_S

if TYPE_CHECKING:
    from evolve.apps.ecg.pipeline import ECGResult

#: The files :func:`save_plots` writes, in order.
PLOTS = ("excerpt.png", "scores.png", "beats.png")


def save_plots(result: ECGResult, folder: Path) -> list[Path]:
    """The excerpt with labelled and flagged beats, the score distributions with the threshold,
    and the mean normal beat beside the abnormal ones."""
    d, ev, ex = result.detector, result.evaluation, result.excerpt
    thr = d.threshold
    paths = [folder / name for name in PLOTS]

    # 1. the excerpt
    t = np.arange(len(ex.signal)) / FS
    fig = Figure(figsize=(14, 6))
    ax, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
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

    # 2. score distributions
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
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

    # 3. mean normal beat vs abnormal ones
    tb = (np.arange(d.beats.raw.shape[1]) / FS - PRE_S) * 1000
    fig = Figure(figsize=(12, 4))
    axes = fig.subplots(1, 2, sharex=True)
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
    return paths


__all__ = ["PLOTS", "save_plots"]
