r"""ECG anomaly detection with a spiking autoencoder, end to end on real MIT-BIH data.

The detector learns what a normal heartbeat looks like from an *unlabelled* recording and flags
beats it cannot reconstruct; it is then checked against a recording with a labelled anomaly.

**Data** (nothing is downloaded; DESIGN.md §5).

* Training: MIT-BIH Arrhythmia Database record 208, lead MLII, a 5-minute excerpt at 360 Hz as
  shipped by SciPy ≤ 1.14.1 (``evolve/data/ecg/ecg.dat``, ODC-By 1.0; see ``SOURCE.md`` there).
  It is PVC-rich (about a third of its beats are premature ventricular contractions) and carries
  no labels here.
* Evaluation: sktime's ``datasets/data/mitdb/mitdb.csv``, 7500 samples of another MIT-BIH
  recording with ``label == 1`` on one premature beat (samples 6936-7287). Its sampling rate is not
  stated; its values are in mV (steps of 0.005 mV = 1/200, the MIT-BIH ADC gain) and at 360 Hz
  its median RR interval is 0.82 s (73 bpm) with QRS complexes as narrow as record 208's normal
  ones, so it is read at 360 Hz;
  :func:`load_excerpt` refuses a series whose heart rate at 360 Hz is implausible.

**Method.**

1. *Filtering.* A zero-phase 2nd-order Butterworth band-pass 0.5-40 Hz (``sosfiltfilt``) removes
   baseline wander and mains noise; it is the signal beats are cut from.
2. *R peaks.* Pan-Tompkins style: band-pass 3-15 Hz (the QRS band, wide enough for the slow
   ventricular complexes of PVCs), derivative, square, 150 ms moving average
   :math:`e[n]`. Peaks of :math:`e` above :math:`0.3\,\tilde e` are QRS complexes, where
   :math:`\tilde e` is the median over 2-s blocks of the block maximum (robust to the large
   artefacts and PVCs that a global maximum would let set the threshold), at least 200 ms apart
   (the refractory period of the ventricles). Each R peak is then placed at the largest
   :math:`|x|` of the filtered signal within ±80 ms.
3. *Beats.* A window of 0.25 s before and 0.45 s after each R peak (252 samples), averaged in
   blocks of 4 (90 Hz, 63 values: the 40 Hz low-pass already removed what would alias), minus
   the window's median (the local baseline), divided by the record's median R amplitude (records
   of different gain compare; a beat's size relative to its own record still counts). The
   first and last beat (no RR interval on one side) and beats whose window leaves the record are
   dropped.
4. *Normal beats, without labels.* A beat is taken as normal when its correlation with the
   record's median beat is at least 0.95 and both its RR intervals lie within ±15 % of the
   median of the 16 RR intervals around it. The median beat is a normal beat because most beats
   are; PVCs (wide, tall, premature, then a compensatory pause) and their neighbours fail.
   A record's *template* is the median of its normal beats; it is computed from each record
   itself, without labels.
   The model input (65 values) is the beat minus its record's template, plus two rhythm features
   :math:`4(RR_{prev}/\overline{RR} - 1)` and :math:`4(RR_{next}/\overline{RR} - 1)` with
   :math:`\overline{RR}` the local median RR (a *change* of rhythm counts, not the heart rate).
   Subtracting the template makes the detector patient-adaptive: it learns how a beat may
   deviate from its own record's dominant beat, which transfers between patients; absolute
   morphology does not (trained on the raw waves of record 208, every beat of the excerpt, from
   another patient, scored 2-5 times the threshold). The training beats are record 208's normal
   beats.
5. *Model.* A spiking autoencoder built by :func:`snn_models.build`: a ``kind: mlp`` net
   65 → 64 → 16 → 64 → 65 of LIF neurons, T time steps, direct encoding, whose output layer is
   non-spiking and read out as its mean membrane over T (the reconstruction :math:`\hat x`).
   Trained with surrogate gradients (ATan) and Adam on the mean squared error, on a random 70 %
   of the normal beats.
6. *Score and threshold.* The anomaly score of a beat is its reconstruction error
   :math:`s = \frac{1}{65}\lVert x - \hat x\rVert^2`. The threshold is the ``quantile`` (default
   0.99) of the scores of the other 30 % of the normal beats of record 208: normal data only,
   never the labelled excerpt. A beat with :math:`s >` threshold is flagged. (Record 208 gives
   about 170 normal beats, so 51 held out: q0.99 lies between their two largest scores.)
7. *Evaluation on the excerpt.* A beat is *abnormal* when its R peak lies in a ``label == 1``
   interval, *normal* when its window does not touch one; beats whose window overlaps the
   interval without their R peak in it are *border* beats, reported apart (their window holds
   part of the anomaly). Detection rate = flagged abnormal / abnormal; false-positive rate =
   flagged normal / normal; the labelled anomaly counts as detected when one of its beats is
   flagged. The looser rule of issue 9 (abnormal = window overlaps the label) is reported too.
   The labelled beat is an *early* beat with a normal QRS: the rhythm features carry about three
   quarters of its score (``abnormal_rhythm_share`` in the summary), its shape (the previous
   beat's T wave inside its window, no T wave of its own) the rest.
8. *Energy per beat*, from the spikes the trained network fires on the excerpt's beats
   (:func:`snn_models.measure_energy`, 45 nm fp32, DESIGN.md §4): the encoding layer's MACs on
   the real-valued beat plus one accumulate per spike per synapse. The equal-size ANN (the same
   layers, ReLU, one pass) costs its dense MACs; both are reported.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from scipy import signal

from evolve.errors import DataError, UserError

FS = 360
"""Sampling rate of both recordings (MIT-BIH), Hz."""
PRE_S = 0.25
POST_S = 0.45
DECIMATE = 4
RR_NEIGHBOURS = 8
RR_SCALE = 4.0
MIN_CORR = 0.95
RR_TOL = 0.15
RECORD_208 = Path(__file__).parent / "data" / "ecg" / "ecg.dat"
SKTIME_EXCERPT = Path("datasets") / "data" / "mitdb" / "mitdb.csv"
SKTIME_FIX = "install the timeseries extra: pip install -c constraints.txt -e '.[timeseries]'"

Array = NDArray[np.float64]


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Record:
    """One ECG recording in mV; ``labels`` (0/1 per sample) when the source has them."""

    name: str
    signal: Array
    fs: int
    source: str
    labels: NDArray[np.int64] | None = None


def load_record_208(path: Path = RECORD_208) -> Record:
    """MIT-BIH record 208 (5 min, 360 Hz, lead MLII), in mV: ``(adc - 1024) / 200``."""
    try:
        with np.load(path, allow_pickle=False) as f:
            raw = f["ecg"].astype(np.int64)
    except (OSError, KeyError, ValueError) as e:
        raise DataError(
            f"cannot read record 208 from {path} ({e}); reinstall snn-evolve with its data files"
        ) from None
    return Record(
        name="mitdb-208",
        signal=(raw - 1024) / 200.0,
        fs=FS,
        source="MIT-BIH Arrhythmia Database record 208 (PhysioNet, ODC-By 1.0), 5-min excerpt "
        f"as shipped in scipy.misc <= 1.14.1: {path}",
    )


def sktime_excerpt_path() -> Path:
    """Where the installed sktime keeps ``mitdb.csv`` (found without importing sktime)."""
    spec = find_spec("sktime")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"sktime is not installed (it holds the labelled ECG excerpt); {SKTIME_FIX}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SKTIME_EXCERPT
    if not path.is_file():
        raise DataError(
            f"this sktime has no {SKTIME_EXCERPT} (the labelled ECG excerpt); {SKTIME_FIX}"
        )
    return path


def load_excerpt(path: Path | None = None) -> Record:
    """A labelled ECG series: a CSV with columns ``data`` (mV) and ``label`` (0/1), at 360 Hz.

    Default: sktime's MIT-BIH excerpt. Raises :class:`DataError` when the file is missing or
    malformed, or when its heart rate at 360 Hz is implausible (another sampling rate).
    """
    path = path if path is not None else sktime_excerpt_path()
    try:
        with path.open() as f:
            header = f.readline().strip().split(",")
        table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except (OSError, ValueError) as e:
        raise DataError(
            f"cannot read the ECG excerpt {path} ({e}); give a CSV data,label"
        ) from None
    if header != ["data", "label"] or table.shape[1] != 2:
        raise DataError(f"{path}: expected the columns data,label, got {','.join(header)}")
    x, lab = table[:, 0].astype(np.float64), table[:, 1]
    if not np.isin(lab, (0, 1)).all():
        raise DataError(f"{path}: column label must hold 0 or 1 only")
    if len(x) < 4 * FS:
        raise DataError(f"{path}: {len(x)} samples is too short; give at least 4 s at 360 Hz")
    rec = Record(name=path.stem, signal=x, fs=FS, source=str(path), labels=lab.astype(np.int64))
    rr = np.diff(detect_r_peaks(rec.signal, FS))
    bpm = 60.0 * FS / float(np.median(rr)) if len(rr) else 0.0
    if not 30 <= bpm <= 200:
        raise DataError(
            f"{path}: median heart rate {bpm:.0f} bpm at 360 Hz is implausible; "
            "resample the series to 360 Hz first"
        )
    return rec


# --------------------------------------------------------------------------- signal processing
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


# --------------------------------------------------------------------------- model
@dataclass(frozen=True)
class ECGSettings:
    """Settings of one detector (defaults: what ``evolve ecg`` runs)."""

    epochs: int = 60
    quantile: float = 0.99
    seed: int = 0
    timesteps: int = 8
    hidden: int = 64
    code: int = 16
    neuron: str = "lif"
    lr: float = 3e-3
    batch_size: int = 32
    holdout: float = 0.3
    energy_profile: str = "45nm_fp32"
    network: str = "snn"
    """``snn`` (the spiking autoencoder) or ``ann``: its equal-size ANN twin (ReLU, one pass),
    the non-spiking reference of the benchmark."""

    def validate(self) -> None:
        if self.network not in ("snn", "ann"):
            raise UserError(f"network must be 'snn' or 'ann', got {self.network!r}")
        if not 0.5 <= self.quantile < 1.0:
            raise UserError(
                f"--quantile must be in [0.5, 1), got {self.quantile}; e.g. 0.99 flags the top 1 %"
                " of held-out normal scores"
            )
        if self.epochs < 1:
            raise UserError(f"--epochs must be >= 1, got {self.epochs}")
        if self.timesteps < 1:
            raise UserError(f"--timesteps must be >= 1, got {self.timesteps}")

    def arch(self) -> dict[str, Any]:
        """The autoencoder as a :func:`snn_models.build` spec (its head is the decoder)."""
        layer = {"neuron": self.neuron}
        return {
            "kind": "mlp",
            "timesteps": self.timesteps,
            "encoder": "direct",
            "readout": "membrane",
            "layers": [
                {"width": self.hidden, **layer},
                {"width": self.code, **layer},
                {"width": self.hidden, **layer},
            ],
        }


def build_autoencoder(n_in: int, settings: ECGSettings) -> torch.nn.Module:
    """The spiking autoencoder ``n_in → hidden → code → hidden → n_in`` (mean-membrane output),
    or with ``settings.network == "ann"`` its ANN twin (:func:`snn_models.ann.build_ann`)."""
    from snn_models import build
    from snn_models.ann import build_ann

    if settings.network == "ann":
        return build_ann(settings.arch(), (n_in,), n_in)
    return build(settings.arch(), (n_in,), n_in)


def train_autoencoder(
    model: torch.nn.Module, x: torch.Tensor, settings: ECGSettings
) -> list[float]:
    """Adam on the reconstruction MSE with surrogate gradients; returns the loss per epoch."""
    from snn_models import reset_net

    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    gen = torch.Generator().manual_seed(settings.seed)
    model.train()
    losses = []
    for _ in range(settings.epochs):
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for start in range(0, len(x), settings.batch_size):
            xb = x[order[start : start + settings.batch_size]]
            reset_net(model)
            loss = torch.nn.functional.mse_loss(model(xb), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(xb)
        losses.append(total / len(x))
    model.eval()
    return losses


@torch.no_grad()
def reconstruction_errors(model: torch.nn.Module, x: torch.Tensor) -> Array:
    """Squared reconstruction error of every input feature, ``[n, features]``."""
    from snn_models import reset_net

    model.eval()
    reset_net(model)
    return ((model(x) - x) ** 2).double().numpy()


def anomaly_scores(model: torch.nn.Module, x: torch.Tensor) -> Array:
    """Per-beat anomaly score: the reconstruction error ``mean((x - x̂)²)`` over the features."""
    return reconstruction_errors(model, x).mean(axis=1)


def _tensor(a: Array) -> torch.Tensor:
    return torch.as_tensor(a, dtype=torch.float32)


@dataclass
class Detector:
    """A trained detector and what was measured on record 208 while fitting it."""

    settings: ECGSettings
    model: torch.nn.Module
    threshold: float
    n_beats: int
    n_normal: int
    n_train: int
    heldout_scores: Array
    train_scores: Array
    rejected_scores: Array
    losses: list[float]
    train_seconds: float
    beats: Beats
    normal_mask: NDArray[np.bool_]


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread: these tensors are tiny, extra threads only wait for busy cores,
    and one thread makes the numbers the same on any machine (no reduction-order changes)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def fit_detector(settings: ECGSettings, record: Record | None = None) -> Detector:
    """Train on the normal beats of record 208 and set the threshold on its held-out ones."""
    with one_thread():
        return _fit_detector(settings, record)


def _fit_detector(settings: ECGSettings, record: Record | None) -> Detector:
    settings.validate()
    record = record if record is not None else load_record_208()
    torch.manual_seed(settings.seed)
    beats = segment_beats(record.signal, detect_r_peaks(record.signal, record.fs), record.fs)
    normal = select_normal_beats(beats)
    idx = np.flatnonzero(normal)
    if len(idx) < 20:
        raise DataError(f"{record.name}: only {len(idx)} normal beats found; need at least 20")
    rng = np.random.default_rng(settings.seed)
    idx = rng.permutation(idx)
    n_hold = max(round(settings.holdout * len(idx)), 10)
    hold, train = np.sort(idx[:n_hold]), np.sort(idx[n_hold:])
    feats = beats.features
    model = build_autoencoder(feats.shape[1], settings)
    t0 = time.perf_counter()
    losses = train_autoencoder(model, _tensor(feats[train]), settings)
    seconds = time.perf_counter() - t0
    held = anomaly_scores(model, _tensor(feats[hold]))
    return Detector(
        settings=settings,
        model=model,
        threshold=float(np.quantile(held, settings.quantile)),
        n_beats=len(beats),
        n_normal=int(normal.sum()),
        n_train=len(train),
        heldout_scores=held,
        train_scores=anomaly_scores(model, _tensor(feats[train])),
        rejected_scores=anomaly_scores(model, _tensor(feats[~normal])),
        losses=losses,
        train_seconds=seconds,
        beats=beats,
        normal_mask=normal,
    )


# --------------------------------------------------------------------------- evaluation
@dataclass
class Evaluation:
    """The detector on a labelled excerpt."""

    beats: Beats
    scores: Array
    rhythm_scores: Array
    flagged: NDArray[np.bool_]
    abnormal: NDArray[np.bool_]
    normal: NDArray[np.bool_]
    border: NDArray[np.bool_]
    energy: dict[str, Any] = field(default_factory=dict)

    @property
    def detection_rate(self) -> float:
        """Flagged abnormal beats / abnormal beats (NaN without abnormal beats)."""
        n = int(self.abnormal.sum())
        return float((self.flagged & self.abnormal).sum()) / n if n else float("nan")

    @property
    def false_positive_rate(self) -> float:
        """Flagged normal beats / normal beats."""
        n = int(self.normal.sum())
        return float((self.flagged & self.normal).sum()) / n if n else float("nan")

    @property
    def anomaly_detected(self) -> bool:
        """True when a beat of the labelled anomaly is flagged."""
        return bool((self.flagged & self.abnormal).any())

    def metrics(self) -> dict[str, Any]:
        overlap = self.abnormal | self.border
        return {
            "n_beats": len(self.beats),
            "n_abnormal": int(self.abnormal.sum()),
            "n_normal": int(self.normal.sum()),
            "n_border": int(self.border.sum()),
            "anomaly_detected": self.anomaly_detected,
            "detection_rate": self.detection_rate,
            "false_positive_rate": self.false_positive_rate,
            "false_positives": int((self.flagged & self.normal).sum()),
            "border_flagged": int((self.flagged & self.border).sum()),
            "overlap_rule": {
                "n_abnormal": int(overlap.sum()),
                "detection_rate": float((self.flagged & overlap).sum())
                / max(int(overlap.sum()), 1),
                "false_positive_rate": self.false_positive_rate,
            },
            "flagged_peaks": [int(p) for p in self.beats.peaks[self.flagged]],
            "abnormal_scores": [float(v) for v in self.scores[self.abnormal]],
            "abnormal_rhythm_share": [
                float(r / s)
                for r, s in zip(
                    self.rhythm_scores[self.abnormal], self.scores[self.abnormal], strict=True
                )
            ],
            "max_normal_score": float(self.scores[self.normal].max(initial=0.0)),
            "abnormal_peaks": [int(p) for p in self.beats.peaks[self.abnormal]],
        }


def evaluate(detector: Detector, excerpt: Record) -> Evaluation:
    """Score the excerpt's beats, flag those above the threshold, and measure energy per beat."""
    with one_thread():
        return _evaluate(detector, excerpt)


def _evaluate(detector: Detector, excerpt: Record) -> Evaluation:
    from snn_models import measure_energy

    if excerpt.labels is None:
        raise DataError(f"{excerpt.name}: the evaluation series needs per-sample labels")
    beats = segment_beats(excerpt.signal, detect_r_peaks(excerpt.signal, excerpt.fs), excerpt.fs)
    x = _tensor(beats.features)
    err = reconstruction_errors(detector.model, x)
    scores = err.mean(axis=1)
    abnormal, normal, border = beat_classes(beats.peaks, excerpt.labels, excerpt.fs)
    rep = measure_energy(detector.model, [x], profile=detector.settings.energy_profile)
    energy = {
        "profile": rep.profile,
        "energy_per_beat_uj": rep.energy_uj,
        "ann_energy_per_beat_uj": rep.ann_energy_uj,
        "ratio_to_ann": rep.ratio_to_ann,
        "sops_per_beat": rep.total_sops,
        "macs_per_beat": rep.total_macs,
        "firing_rates": rep.firing_rates,
        "citation": rep.citation,
    }
    return Evaluation(
        beats=beats,
        scores=scores,
        rhythm_scores=err[:, -2:].sum(axis=1) / err.shape[1],
        flagged=scores > detector.threshold,
        abnormal=abnormal,
        normal=normal,
        border=border,
        energy=energy,
    )


@dataclass
class ECGResult:
    """One run of the whole pipeline."""

    detector: Detector
    evaluation: Evaluation
    train_record: Record
    excerpt: Record
    seconds: float

    def summary(self) -> dict[str, Any]:
        """Every number, the settings and the data sources (what ``result.json`` holds)."""
        d, ev = self.detector, self.evaluation
        rejected_flagged = float((d.rejected_scores > d.threshold).mean())
        rr = np.diff(detect_r_peaks(self.excerpt.signal, self.excerpt.fs))
        return {
            "settings": asdict(d.settings),
            "architecture": d.settings.arch(),
            "data": {
                "train": self.train_record.source,
                "evaluation": self.excerpt.source,
                "fs_hz": FS,
                "window_s": [-PRE_S, POST_S],
                "excerpt_median_rr_s": float(np.median(rr)) / FS,
            },
            "record_208": {
                "n_beats": d.n_beats,
                "n_normal_selected": d.n_normal,
                "n_train": d.n_train,
                "n_heldout": len(d.heldout_scores),
                "selection_rule": f"corr with median beat >= {MIN_CORR} and RR ratios within "
                f"±{RR_TOL:.0%}",
                "r_amplitude_mv": d.beats.r_amplitude,
                "threshold": d.threshold,
                "quantile": d.settings.quantile,
                "heldout_flag_rate": float((d.heldout_scores > d.threshold).mean()),
                "rejected_flag_rate": rejected_flagged,
                "final_train_loss": d.losses[-1],
                "train_seconds": d.train_seconds,
            },
            "excerpt": {**ev.metrics(), "r_amplitude_mv": ev.beats.r_amplitude},
            "energy": ev.energy,
            "seconds": self.seconds,
        }


def run_pipeline(
    settings: ECGSettings | None = None,
    *,
    excerpt: Record | None = None,
    record: Record | None = None,
) -> ECGResult:
    """Fit on record 208 (or ``record``) and evaluate on sktime's excerpt (or ``excerpt``)."""
    settings = settings or ECGSettings()
    settings.validate()
    t0 = time.perf_counter()
    excerpt = excerpt if excerpt is not None else load_excerpt()
    record = record if record is not None else load_record_208()
    detector = fit_detector(settings, record)
    ev = evaluate(detector, excerpt)
    return ECGResult(detector, ev, record, excerpt, time.perf_counter() - t0)


__all__ = [
    "FS",
    "Beats",
    "Detector",
    "ECGResult",
    "ECGSettings",
    "Evaluation",
    "Record",
    "anomaly_scores",
    "bandpass",
    "beat_classes",
    "build_autoencoder",
    "detect_r_peaks",
    "evaluate",
    "fit_detector",
    "load_excerpt",
    "load_record_208",
    "run_pipeline",
    "segment_beats",
    "select_normal_beats",
    "sktime_excerpt_path",
    "train_autoencoder",
]
