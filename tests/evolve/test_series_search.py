"""Series data (UCR sets shipped in aeon, a user's CSV/parquet) and a `temporal` search on them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import torch
import yaml

from evolve.data.datasets import load_dataset
from evolve.errors import DataError
from evolve.store import checkpoints
from evolve.training.trainer import evaluate
from tests.evolve.evolve_cli import evolve

pytest.importorskip("aeon", reason="the timeseries extra (aeon) is part of the dev install")


@pytest.mark.parametrize(
    ("name", "shape", "classes", "sizes"),
    [
        ("gunpoint", (1, 150), 2, (40, 10, 150)),
        ("ItalyPowerDemand", (1, 24), 2, (53, 14, 1029)),
        ("basic_motions", (6, 100), 4, (32, 8, 40)),
    ],
)
def test_ucr_sets_keep_the_official_test_split(
    name: str, shape: tuple[int, int], classes: int, sizes: tuple[int, int, int]
) -> None:
    from aeon import datasets as aeon_datasets

    d = load_dataset(name, seed=0)
    assert d.input_shape == shape and d.n_classes == classes
    assert (len(d.train), len(d.val), len(d.test)) == sizes
    assert d.train.x.dtype == torch.float32 and d.train.x.shape[1:] == shape
    # the official test split, in order, unchanged
    loader = {"gunpoint": "load_gunpoint", "ItalyPowerDemand": "load_italy_power_demand"}
    loader |= {"basic_motions": "load_basic_motions"}
    x_te, y_te = getattr(aeon_datasets, loader[name])(split="test")
    assert np.allclose(d.test.x.numpy(), x_te.astype(np.float32))
    labels = sorted(set(y_te.astype(str)))
    assert [labels[i] for i in d.test.y.tolist()] == list(y_te.astype(str))
    # validation is a stratified part of the official training split, fixed by the seed
    assert set(d.val.y.tolist()) == set(range(classes))
    again = load_dataset(name, seed=0)
    assert torch.equal(again.val.x, d.val.x)
    assert "aeon" in d.source


def _series_table(n_per_class: int = 8, length: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, length)
    rows = []
    for label, freq in (("slow", 1.0), ("fast", 4.0)):
        for _ in range(n_per_class):
            rows.append([label, *np.sin(2 * np.pi * freq * t + rng.uniform(0, 1))])
    return pd.DataFrame(rows, columns=["label", *[f"t{i}" for i in range(length)]])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_users_series_table(tmp_path: Path, suffix: str) -> None:
    df = _series_table()
    path = tmp_path / f"waves{suffix}"
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path)
    d = load_dataset(str(path), seed=0)
    assert d.name == "waves" and d.input_shape == (1, 20) and d.n_classes == 2
    assert len(d.train) + len(d.val) + len(d.test) == 16
    row = d.train.x[0, 0].numpy()
    assert any(np.allclose(row, r, atol=1e-6) for r in df.drop(columns="label").to_numpy())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("t0,t1,t2\n1,2,3\n", "no 'label' column"),
        ("label,t0,t1\na,1,x\nb,2,3\n", "must be numeric"),
        ("label,t0,t1\n" + "a,1,\n" * 4 + "b,1,2\n" * 4, "missing or infinite"),
        ("label,t0,t1\na,1,2\nb,2,3\n", "at least 2 classes with 4"),
        ("", "cannot read"),
    ],
)
def test_bad_series_tables_say_what_is_wrong(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_dataset(str(path))


def test_temporal_search_on_gunpoint_end_to_end(tmp_path: Path) -> None:
    """The `temporal` library space searches its own data set (GunPoint) by default."""
    proc = evolve(
        "search",
        "--space",
        "temporal",
        "--trials",
        "3",
        "--epochs",
        "4",
        "--study",
        "ts",
        "--selection",  # GunPoint's 10 validation series would pick 5-fold CV: 6x the trainings
        "holdout",
        "--no-progress",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = tmp_path / "runs" / "ts"
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["dataset"] == "gunpoint"
    study = optuna.load_study(study_name="ts", storage=f"sqlite:///{run_dir / 'study.db'}")
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(study.trials) == 3 and done
    for t in done:
        assert t.user_attrs["energy_uj"] > 0
    pareto = json.loads((run_dir / "pareto.json").read_text())
    best = pareto["front"][0]
    ckpt = checkpoints.load(run_dir, best["trial"])
    assert ckpt.model.spec.kind == "temporal"
    data = load_dataset("gunpoint", seed=0)
    assert evaluate(ckpt.model, data.val) == best["values"]["accuracy"]
    assert evaluate(ckpt.model, data.test) == best["test_accuracy"]

    # explanations of a temporal model are curves over the series' time
    shown = evolve("explain", str(run_dir), "--trial", str(best["trial"]), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    info = json.loads(next((run_dir / "explain").glob("trial_*/explain.json")).read_text())
    assert info["sam"]["drawn"] and {d["method"] for d in info["sam"]["drawn"]} == {"time"}
    assert set(info["firing_rates"]) == {d["layer"] for d in info["sam"]["drawn"]}

    # a series space on images is refused before anything is recorded
    bad = evolve(
        "search", "--space", "temporal", "--dataset", "digits", "--study", "no", cwd=tmp_path
    )
    assert bad.returncode == 2 and "does not fit data set 'digits'" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs" / "no" / "study.db").exists()
