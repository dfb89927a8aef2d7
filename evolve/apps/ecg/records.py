"""The ECG recordings: MIT-BIH record 208 (shipped) and a labelled excerpt (sktime's, or a CSV)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from evolve.apps.ecg.signals import FS, Array, detect_r_peaks
from evolve.errors import DataError

RECORD_208 = Path(__file__).parent / "ecg.dat"
SKTIME_EXCERPT = Path("datasets") / "data" / "mitdb" / "mitdb.csv"
SKTIME_FIX = "install the timeseries extra: pip install -c constraints.txt -e '.[timeseries]'"


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


__all__ = [
    "RECORD_208",
    "Record",
    "load_excerpt",
    "load_record_208",
    "sktime_excerpt_path",
]
