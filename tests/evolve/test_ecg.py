"""ECG anomaly detection on real MIT-BIH data (`evolve ecg`, :mod:`evolve.apps.ecg.pipeline`).

The bounds of the end-to-end test come from runs on the project's 2-core machines (seed 0,
defaults; the pipeline runs torch on one thread, so the numbers do not depend on the machine's
thread count): 496 beats in record 208, 170 taken as normal, threshold 0.00356; on sktime's
excerpt 24 beats, the one labelled beat scored 6.4 times the threshold, 2 of 22 normal beats
flagged (false-positive rate 0.091), energy 0.0220 µJ per beat (equal-size ANN 0.0477 µJ).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pytest

from evolve.apps.ecg import pipeline as ecg
from evolve.apps.ecg import records
from evolve.apps.ecg.plots import PLOTS
from evolve.cli import ecg as ecg_cmd
from evolve.errors import DataError, UserError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    ecg_cmd.add_parser(parser.add_subparsers())
    return parser.parse_args(["ecg", *argv])


@pytest.fixture(scope="module")
def excerpt() -> ecg.Record:
    return ecg.load_excerpt()


def test_ecg_anomaly_detection_pipeline(excerpt: ecg.Record) -> None:
    t0 = time.perf_counter()
    result = ecg.run_pipeline(ecg.ECGSettings(), excerpt=excerpt)
    seconds = time.perf_counter() - t0
    s = result.summary()
    r, e, energy = s["record_208"], s["excerpt"], s["energy"]

    # record 208: the rule keeps a third of the beats as normal (PVCs and their neighbours fail)
    assert 120 <= r["n_normal_selected"] <= 220  # measured 170 of 496
    assert r["heldout_flag_rate"] <= 0.1  # q0.99 of 51 held-out scores: measured 0.02
    assert r["rejected_flag_rate"] >= 0.6  # measured 0.80: the PVC-rich rest stands out

    # the excerpt: the labelled premature beat is found, few normal beats are flagged
    assert e["n_abnormal"] == 1 and e["n_normal"] >= 20
    assert e["anomaly_detected"] is True
    assert e["detection_rate"] == 1.0
    assert e["abnormal_scores"][0] >= 3.0 * r["threshold"]  # measured 6.4x
    assert e["false_positive_rate"] <= 0.15  # measured 0.091 (2/22): one more beat allowed
    assert e["abnormal_peaks"] == [pytest.approx(7080, abs=10)]

    # energy per beat, from the network's spikes on the excerpt's beats
    assert 0.012 <= energy["energy_per_beat_uj"] <= 0.035  # measured 0.0220
    assert energy["energy_per_beat_uj"] < 0.7 * energy["ann_energy_per_beat_uj"]  # 0.46x
    assert all(0.005 < v < 0.6 for v in energy["firing_rates"].values())
    assert seconds < 60


def test_r_peaks_of_record_208_and_of_the_excerpt(excerpt: ecg.Record) -> None:
    rec = ecg.load_record_208()
    assert rec.signal.shape == (108000,) and rec.fs == 360
    assert rec.signal[:3].tolist() == [-0.245, -0.215, -0.185]  # scipy.misc.electrocardiogram()
    peaks = ecg.detect_r_peaks(rec.signal)
    # about 100 bpm for 5 min; measured 498 (a few seconds of artefacts have no beats)
    assert 470 <= len(peaks) <= 520
    assert 0.5 <= np.median(np.diff(peaks)) / 360 <= 0.65
    assert np.diff(peaks).min() >= 0.2 * 360  # the refractory distance
    ex_peaks = ecg.detect_r_peaks(excerpt.signal)
    assert len(ex_peaks) == 26  # counted by eye on the plot
    assert np.abs(ex_peaks - 7080).min() <= 5  # the labelled premature beat


def test_segmentation_shapes_and_normal_beat_rule() -> None:
    rec = ecg.load_record_208()
    peaks = ecg.detect_r_peaks(rec.signal)
    beats = ecg.segment_beats(rec.signal, peaks)
    n = len(beats)
    assert n == len(peaks) - 2  # first and last beat have no RR on one side
    assert ecg.window_bounds() == (90, 162)
    assert beats.raw.shape == (n, 252)
    assert beats.waves.shape == (n, 63) and beats.features.shape == (n, 65)
    assert beats.template.shape == (63,)
    # the waves are normalised: the R peak (sample 90 // 4 = 22) of the median beat is ~1
    assert np.median(beats.waves[:, 22]) == pytest.approx(1.0, abs=0.15)
    assert np.median(beats.rr_prev) == pytest.approx(1.0, abs=0.05)
    normal = ecg.select_normal_beats(beats)
    assert 120 <= normal.sum() <= 220
    assert np.all(np.abs(beats.rr_prev[normal] - 1) <= ecg.RR_TOL)


def test_beat_classes_use_r_peak_inside_label_and_windows() -> None:
    labels = np.zeros(3000, dtype=np.int64)
    labels[1000:1200] = 1
    peaks = np.array([500, 900, 1100, 1250, 1300, 2000])  # windows: R - 90 .. R + 161
    abnormal, normal, border = ecg.beat_classes(peaks, labels)
    assert abnormal.tolist() == [False, False, True, False, False, False]
    assert border.tolist() == [False, True, False, True, False, False]
    assert normal.tolist() == [True, False, False, False, True, True]


def test_threshold_uses_only_normal_data(excerpt: ecg.Record) -> None:
    settings = ecg.ECGSettings(epochs=3)
    other = ecg.Record(
        name="changed",
        signal=excerpt.signal * 1.7 + 0.3,
        fs=excerpt.fs,
        source="changed",
        labels=np.roll(excerpt.labels if excerpt.labels is not None else np.array([]), 2000),
    )
    a = ecg.run_pipeline(settings, excerpt=excerpt)
    b = ecg.run_pipeline(settings, excerpt=other)
    assert a.detector.threshold == b.detector.threshold
    np.testing.assert_array_equal(a.detector.heldout_scores, b.detector.heldout_scores)
    assert a.evaluation.abnormal.tolist() != b.evaluation.abnormal.tolist()


def test_missing_sktime_is_a_data_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "find_spec", lambda name: None)
    with pytest.raises(DataError, match=r"sktime is not installed.*\[timeseries\]"):
        ecg.load_excerpt()


def test_bad_excerpts_are_data_errors(tmp_path: Path, excerpt: ecg.Record) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("value,anomaly\n0.1,0\n")
    with pytest.raises(DataError, match="expected the columns data,label"):
        ecg.load_excerpt(bad)
    # the excerpt at 120 Hz read as 360 Hz: 220 bpm, refused
    slow = tmp_path / "slow.csv"
    assert excerpt.labels is not None
    rows = zip(excerpt.signal[::3], excerpt.labels[::3], strict=True)
    slow.write_text("data,label\n" + "".join(f"{x},{y}\n" for x, y in rows))
    with pytest.raises(DataError, match="implausible; resample the series to 360 Hz"):
        ecg.load_excerpt(slow)


@pytest.mark.parametrize("argv", [("--quantile", "1.0"), ("--quantile", "0.2"), ("--epochs", "0")])
def test_bad_flags_are_user_errors(tmp_path: Path, argv: tuple[str, str]) -> None:
    out = tmp_path / "run"
    with pytest.raises(UserError, match=argv[0]):
        ecg_cmd.run(_parse("--out", str(out), *argv))
    assert not out.exists()


def test_cli_writes_result_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert ecg_cmd.run(_parse("--out", str(out), "--epochs", "20", "--seed", "1")) == 0
    printed = capsys.readouterr().out
    assert "labelled anomaly detected: yes" in printed and "energy per beat" in printed
    result = json.loads((out / "result.json").read_text())
    assert result["settings"]["epochs"] == 20 and result["settings"]["seed"] == 1
    assert "record 208" in result["data"]["train"] and "mitdb.csv" in result["data"]["evaluation"]
    assert result["excerpt"]["anomaly_detected"] is True
    assert result["energy"]["energy_per_beat_uj"] > 0
    assert result["plots"] == list(PLOTS)
    for name in PLOTS:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 15_000, name
    assert "threshold" in (out / "log.txt").read_text()
    with pytest.raises(UserError, match="already exists"):
        ecg_cmd.run(_parse("--out", str(out)))
