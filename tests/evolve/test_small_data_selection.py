"""Selection that generalises on small data: below 100 validation samples a trial's accuracy is
the mean over k folds of train + validation, its spread is recorded and shown, and the choice is
fixed for the run."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import evolve
from evolve.cli import main
from evolve.data.arrays import from_arrays
from evolve.data.datasets import Split
from evolve.engine.selection import fold_datasets, fold_indices, resolve_folds
from evolve.errors import RunError, UserError

#: One LIF layer of 8 or 16 units, T = 2 (a training takes well under a second on wine).
TINY = (
    "name: tiny\n"
    "params:\n"
    "  depth: {type: int, low: 1, high: 1}\n"
    "layers:\n"
    "  repeat: depth\n"
    "  params:\n"
    "    width: {type: int, low: 8, high: 16, step: 8}\n"
    "    neuron: {type: categorical, choices: [lif]}\n"
    "fixed: {kind: mlp, timesteps: 2}\n"
)


def _wine() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_wine

    d = load_wine()
    return d.data.astype(np.float32), d.target


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-trial search on wine (178 samples: 27 validation samples, so auto picks 5 folds)."""
    base = tmp_path_factory.mktemp("cv")
    (base / "tiny.yaml").write_text(TINY)
    x, y = _wine()
    np.savez(base / "wine.npz", x=x, y=y)
    run = evolve.search(
        str(base / "tiny.yaml"),
        str(base / "wine.npz"),
        trials=2,
        epochs=1,
        out=base / "runs",
        study="cv",
        no_early_stop=True,
    )
    return run.path


def test_auto_selects_on_five_folds_below_100_validation_samples(searched: Path) -> None:
    cfg = yaml.safe_load((searched / "config.yaml").read_text())
    assert (cfg["selection"], cfg["folds"]) == ("kfold", 5)  # auto, resolved and recorded
    run = evolve.open_run(searched)
    done = [t for t in run.store.trials() if t.state == "complete"]
    assert len(done) == 2
    for t in done:
        folds = t.attrs["cv_fold_accuracies"]
        assert t.attrs["cv_folds"] == 5 and len(folds) == 5
        assert all(0.0 <= a <= 1.0 for a in folds)
        # the objective is the folds' mean, the spread their standard deviation
        assert t.values["accuracy"] == pytest.approx(np.mean(folds), abs=1e-5)
        assert t.attrs["cv_accuracy_std"] == pytest.approx(np.std(folds), abs=1e-5)
        assert t.attrs["cv_accuracy_mean"] == pytest.approx(t.values["accuracy"])
        # the holdout score, the energy and the test accuracy of the final model stay recorded
        assert 0.0 <= t.attrs["val_accuracy"] <= 1.0
        assert t.values["energy_uj"] > 0 and 0.0 <= t.attrs["test_accuracy"] <= 1.0
        assert t.attrs["cv_seconds"] > 0
    table = pd.read_parquet(searched / "trials.parquet")
    assert table["cv_accuracy_std"].notna().sum() == 2
    front = json.loads((searched / "pareto.json").read_text())["front"]
    assert front and all(f["cv_folds"] == 5 and f["cv_accuracy_std"] >= 0 for f in front)


def test_show_and_report_give_the_spread(
    searched: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", str(searched)]) == 0
    out = capsys.readouterr().out
    assert "mean over 5-fold cross-validation" in out
    header = next(line for line in out.splitlines() if line.strip().startswith("trial"))
    assert header.split()[:3] == ["trial", "accuracy", "cv_std"]
    run = evolve.open_run(searched)
    std = run.front[0].attrs["cv_accuracy_std"]
    assert f"±{std:.3f}" in out
    page = Path(run.report()).read_text()
    assert "<th>cv sd</th>" in page
    assert "accuracy over 5 folds" in page  # the best models' cards
    assert "holdout validation accuracy" in page


def test_a_resumed_run_keeps_its_selection(searched: Path) -> None:
    out = searched.parent
    with pytest.raises(RunError, match="selection='holdout' differs"):
        evolve.search(study="cv", out=out, resume=True, selection="holdout")
    with pytest.raises(RunError, match="folds=3 differs"):
        evolve.search(study="cv", out=out, resume=True, folds=3)
    before = (searched / "config.yaml").read_text()
    run = evolve.search(study="cv", out=out, resume=True, selection="auto", trials=3, epochs=1)
    assert (searched / "config.yaml").read_text() == before
    assert all(t.attrs.get("cv_folds") == 5 for t in run.store.trials() if t.state == "complete")


def test_large_validation_splits_keep_the_holdout() -> None:
    digits = evolve.load_dataset("digits")  # 270 validation samples
    assert resolve_folds("auto", None, digits) == 0
    assert resolve_folds("kfold", None, digits) == 5
    assert resolve_folds("holdout", None, digits) == 0


def test_the_settings_are_checked() -> None:
    x, y = _wine()
    wine = from_arrays(x, y, name="wine")
    assert resolve_folds(None, None, wine) == 5
    assert resolve_folds("auto", 3, wine) == 3
    for selection, folds, words in [
        ("often", None, "selection must be one of auto, holdout, kfold"),
        ("kfold", 1, "folds must be an integer >= 2"),
        ("kfold", 2.5, "folds must be an integer >= 2"),
        ("holdout", 4, "folds applies to selection kfold or auto"),
        ("kfold", 100, "folds must be at most"),  # wine's smallest class has < 100 samples
    ]:
        with pytest.raises(UserError, match=words):
            resolve_folds(selection, folds, wine)
    # auto never asks for more folds than the smallest class allows (3 samples: 3 folds)
    y_few = np.array([0] * 20 + [1] * 3)
    split = Split(torch.zeros(len(y_few), 4), torch.as_tensor(y_few))
    few = dataclasses.replace(wine, train=split, val=Split(split.x[:0], split.y[:0]))
    assert resolve_folds("auto", None, few) == 3
    with pytest.raises(UserError, match="at most 3"):
        resolve_folds("kfold", 5, few)


def test_folds_partition_train_and_validation_the_same_way_every_time() -> None:
    x, y = _wine()
    wine = from_arrays(x, y, name="wine")
    pooled = len(wine.train) + len(wine.val)
    pairs = fold_indices(wine, 5, seed=0)
    held = np.concatenate([te for _, te in pairs])
    assert sorted(held.tolist()) == list(range(pooled))  # each sample held out exactly once
    for tr, te in pairs:
        assert not set(tr) & set(te) and len(tr) + len(te) == pooled
    again = fold_indices(wine, 5, seed=0)
    assert all((a[1] == b[1]).all() for a, b in zip(pairs, again, strict=True))
    other = fold_indices(wine, 5, seed=1)
    assert any((a[1] != b[1]).any() for a, b in zip(pairs, other, strict=True))
    # stratified: every fold holds every class
    for k, fold in enumerate(fold_datasets(wine, 5, seed=0)):
        assert set(fold.val.y.tolist()) == {0, 1, 2}
        assert fold.name == f"wine-fold{k + 1}of5"  # its own teacher-cache entries
        assert fold.test is wine.test and fold.input_shape == wine.input_shape
    assert math.isclose(sum(len(f.val) for f in fold_datasets(wine, 5, 0)), pooled)


def test_cli_flags_reach_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    x, y = _wine()
    np.savez(tmp_path / "wine.npz", x=x, y=y)
    code = main([
        "search", "--space", str(tmp_path / "tiny.yaml"), "--dataset", str(tmp_path / "wine.npz"),
        "--trials", "1", "--epochs", "1", "--study", "h", "--out", str(tmp_path / "runs"),
        "--selection", "kfold", "--folds", "3", "--no-progress",
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    cfg = yaml.safe_load((tmp_path / "runs" / "h" / "config.yaml").read_text())
    assert (cfg["selection"], cfg["folds"]) == ("kfold", 3)
    t = evolve.open_run(tmp_path / "runs" / "h").store.trial(0)
    assert t.attrs["cv_folds"] == 3 and len(t.attrs["cv_fold_accuracies"]) == 3
    assert "3-fold cross-validation" in capsys.readouterr().out
