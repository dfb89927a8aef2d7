"""Signal processing of ECG recordings: filtering, R peaks, beats and the normal-beat rule
(steps 1-4 and the beat classes of step 7 in :mod:`evolve.apps.ecg.pipeline`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from evolve.errors import DataError

FS = 360
"""Sampling rate of both recordings (MIT-BIH), Hz."""
PRE_S = 0.25
POST_S = 0.45
DECIMATE = 4
RR_NEIGHBOURS = 8
RR_SCALE = 4.0
MIN_CORR = 0.95
RR_TOL = 0.15

Array = NDArray[np.float64]


def bandpass(x: Array, lo: float, hi: float, fs: int = FS, order: int = 2) -> Array:
    """Zero-phase Butterworth band-pass (``sosfiltfilt``)."""
    sos = signal.butter(order, [lo, hi], btype="band", fs=fs, output="sos")
    return np.asarray(signal.sosfiltfilt(sos, x), dtype=np.float64)


def detect_r_peaks(x: Array, fs: int = FS) -> NDArray[np.int64]:
    """Sample indices of the R peaks of ``x`` (mV); see step 2 of the module docstring."""
    f = bandpass(x, 3.0, 15.0, fs)
    n = int(0.15 * fs)
    env = np.convolve(np.gradient(f) ** 2, np.ones(n) / n, mode="same")
    block = 2 * fs
    m = max(len(env) // block, 1)
    ref = float(np.median(env[: m * block].reshape(m, -1).max(axis=1)))
    peaks, _ = signal.find_peaks(env, height=0.3 * ref, distance=int(0.2 * fs))
    clean = np.abs(bandpass(x, 0.5, 40.0, fs))
    w = int(0.08 * fs)
    refined = [a + int(np.argmax(clean[a : p + w])) for p in peaks for a in [max(p - w, 0)]]
    return np.unique(np.asarray(refined, dtype=np.int64))


@dataclass(frozen=True)
class Beats:
    """Segmented beats of one record.

    Attributes:
        peaks: R-peak sample index of each kept beat, ``[n]``.
        waves: normalised, decimated beat windows, ``[n, 63]``.
        rr_prev, rr_next: RR interval before/after the beat divided by the local median RR.
        raw: the filtered (0.5-40 Hz) windows at 360 Hz in mV, ``[n, 252]`` (for plots).
        r_amplitude: the record's median R amplitude (mV) the waves are divided by.
        template: the record's dominant beat, ``[63]``: the median wave of the beats that
            :func:`select_normal_beats` keeps (all beats when fewer than 5 are kept).
    """

    peaks: NDArray[np.int64]
    waves: Array
    rr_prev: Array
    rr_next: Array
    raw: Array
    r_amplitude: float
    template: Array

    def __len__(self) -> int:
        return len(self.peaks)

    @property
    def features(self) -> Array:
        """Model input ``[n, 65]``: the wave minus the record's template, and the two scaled RR
        deviations."""
        rr = RR_SCALE * (np.stack([self.rr_prev, self.rr_next], axis=1) - 1.0)
        return np.concatenate([self.waves - self.template, rr], axis=1)

    def subset(self, mask: NDArray[np.bool_]) -> Beats:
        return Beats(
            self.peaks[mask],
            self.waves[mask],
            self.rr_prev[mask],
            self.rr_next[mask],
            self.raw[mask],
            self.r_amplitude,
            self.template,
        )


def window_bounds(fs: int = FS) -> tuple[int, int]:
    """Samples before and after the R peak in a beat window."""
    return round(PRE_S * fs), round(POST_S * fs)


def segment_beats(x: Array, peaks: NDArray[np.int64], fs: int = FS) -> Beats:
    """Cut, normalise and describe the beats around ``peaks``; see step 3 of the docstring."""
    pre, post = window_bounds(fs)
    clean = bandpass(x, 0.5, 40.0, fs)
    rr = np.diff(peaks).astype(np.float64)
    keep = [
        i for i in range(1, len(peaks) - 1) if peaks[i] - pre >= 0 and peaks[i] + post <= len(x)
    ]
    if not keep:
        raise DataError("no complete beat found: the series is too short or has no R peaks")
    idx = np.asarray(keep)
    raw = np.stack([clean[peaks[i] - pre : peaks[i] + post] for i in idx])
    local = np.array(
        [np.median(rr[max(i - RR_NEIGHBOURS, 0) : i + RR_NEIGHBOURS]) for i in idx],
        dtype=np.float64,
    )
    n_blocks = raw.shape[1] // DECIMATE
    waves = raw[:, : n_blocks * DECIMATE].reshape(len(idx), n_blocks, DECIMATE).mean(axis=2)
    waves = waves - np.median(waves, axis=1, keepdims=True)
    r_amp = float(np.median(np.abs(waves[:, round(pre / DECIMATE)])))
    r_amp = max(r_amp, 1e-3)
    beats = Beats(
        peaks=peaks[idx],
        waves=waves / r_amp,
        rr_prev=rr[idx - 1] / local,
        rr_next=rr[idx] / local,
        raw=raw,
        r_amplitude=r_amp,
        template=np.zeros(n_blocks),
    )
    normal = select_normal_beats(beats)
    ref = beats.waves[normal] if normal.sum() >= 5 else beats.waves
    return dataclasses.replace(beats, template=np.median(ref, axis=0))


def select_normal_beats(
    beats: Beats, min_corr: float = MIN_CORR, rr_tol: float = RR_TOL
) -> NDArray[np.bool_]:
    """Beats taken as normal without labels: shaped like the median beat, in regular rhythm."""
    template = np.median(beats.waves, axis=0)
    w = beats.waves - beats.waves.mean(axis=1, keepdims=True)
    t = template - template.mean()
    corr = (w @ t) / (np.linalg.norm(w, axis=1) * np.linalg.norm(t) + 1e-12)
    regular = (np.abs(beats.rr_prev - 1) <= rr_tol) & (np.abs(beats.rr_next - 1) <= rr_tol)
    return np.asarray((corr >= min_corr) & regular, dtype=np.bool_)


def beat_classes(
    peaks: NDArray[np.int64], labels: NDArray[np.int64], fs: int = FS
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]]:
    """``(abnormal, normal, border)`` masks of beats against per-sample labels (step 7)."""
    pre, post = window_bounds(fs)
    abnormal = labels[peaks] == 1
    touches = np.array([labels[p - pre : p + post].any() for p in peaks], dtype=np.bool_)
    return abnormal, ~touches, touches & ~abnormal


__all__ = [
    "DECIMATE",
    "FS",
    "MIN_CORR",
    "POST_S",
    "PRE_S",
    "RR_NEIGHBOURS",
    "RR_SCALE",
    "RR_TOL",
    "Array",
    "Beats",
    "bandpass",
    "beat_classes",
    "detect_r_peaks",
    "segment_beats",
    "select_normal_beats",
    "window_bounds",
]
