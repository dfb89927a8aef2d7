"""Multi-fidelity over the fraction of training data (`fidelity_resource="data"`): the per-epoch
fractions of a bracket, nested and stratified subsets, an asha search whose trials train on
growing fractions (recorded in their curves, promotions and trials.parquet), resume."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from evolve_cli import evolve_at_once

import evolve as ev
from agents import make_scheduler, open_store
from evolve.config import SearchConfig
from evolve.data.datasets import Split
from evolve.errors import RunError, UserError
from evolve.report.summary import format_summary, run_summary
from evolve.training.subsets import (
    DataFidelity,
    data_fidelity,
    epoch_fractions,
    epoch_splits,
    nested_subsets,
)
from evolve.training.trainer import TrainConfig, train

TINY = (
    "name: tiny\n"
    "params:\n"
    "  depth: {type: int, low: 1, high: 2, default: 1}\n"
    "  lr: {type: float, low: 0.0005, high: 0.05, log: true, default: 0.01}\n"
    "layers:\n"
    "  repeat: depth\n"
    "  params:\n"
    "    width: {type: int, low: 8, high: 32, step: 8, default: 16}\n"
    "    neuron: {type: categorical, choices: [if, lif]}\n"
    "fixed: {kind: mlp, timesteps: 2}\n"
)


def test_epoch_fractions_of_each_bracket() -> None:
    assert epoch_fractions((1, 3), max_epochs=6, reduction_factor=3) == (
        1 / 9, 1 / 3, 1 / 3, 1.0, 1.0, 1.0,
    )  # fmt: skip
    assert epoch_fractions((2, 4), max_epochs=8, reduction_factor=2) == (
        0.25, 0.25, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0,
    )  # fmt: skip
    assert epoch_fractions((), max_epochs=3, reduction_factor=3) == (1.0, 1.0, 1.0)
    hyperband = DataFidelity.of(make_scheduler("hyperband", max_epochs=6), seed=4)
    assert hyperband.brackets == (
        (1 / 9, 1 / 3, 1 / 3, 1.0, 1.0, 1.0),  # rungs 1, 3
        (1 / 3, 1 / 3, 1 / 3, 1.0, 1.0, 1.0),  # rung 3
        (1.0,) * 6,  # no rung: always all data
    )
    assert hyperband.of_trial(4) == hyperband.brackets[1] and hyperband.seed == 4


def test_data_fidelity_settings() -> None:
    asha = make_scheduler("asha", max_epochs=3, reduction_factor=2)
    assert data_fidelity("epochs", "asha", asha, seed=0) is None
    assert data_fidelity("data", "asha", asha, seed=1) == DataFidelity(((0.25, 0.5, 1.0),), 1)
    with pytest.raises(UserError, match="must be one of epochs, data, got 'time'"):
        data_fidelity("time", "asha", asha, seed=0)
    stopper = make_scheduler("stopper", max_epochs=3)
    with pytest.raises(UserError, match="epochs with fidelity stopper; for data give fidelity"):
        data_fidelity("data", "stopper", stopper, seed=0)


def test_subsets_are_nested_stratified_and_seeded() -> None:
    labels = torch.tensor([0] * 90 + [1] * 27 + [2] * 4)
    fractions = (1 / 9, 1 / 3, 1.0)
    subsets = nested_subsets(labels, fractions, seed=3)
    for f, idx in subsets.items():
        assert torch.equal(idx, torch.sort(idx).values) and len(set(idx.tolist())) == len(idx)
        counts = torch.bincount(labels[idx], minlength=3).tolist()
        assert counts == [max(1, math.ceil(f * n - 1e-9)) for n in (90, 27, 4)]
    small, mid, full = (set(subsets[f].tolist()) for f in fractions)
    assert small < mid < full == set(range(len(labels)))
    assert torch.equal(nested_subsets(labels, fractions, 3)[1 / 3], subsets[1 / 3])
    assert not torch.equal(nested_subsets(labels, fractions, 4)[1 / 3], subsets[1 / 3])


def test_the_trainer_trains_each_epoch_on_its_subset() -> None:
    torch.manual_seed(0)
    split = Split(torch.randn(36, 4), torch.arange(36) % 3)
    at = epoch_splits(split, (1 / 9, 1 / 3, 1.0), seed=0)
    assert [len(at(e)) for e in range(4)] == [6, 12, 36, 36]  # past the end: all of it
    used = []

    def spy(epoch: int) -> Split:
        used.append(len(at(epoch)))
        return at(epoch)

    model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    train(model, split, split, TrainConfig(epochs=3, batch_size=4, progress=False), epoch_split=spy)
    assert used == [6, 12, 36]


@pytest.fixture(scope="module")
def data_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6-trial asha search (eta 2, 3 epochs: rungs 1 and 2) on growing data fractions."""
    base = tmp_path_factory.mktemp("data_fidelity")
    (base / "tiny.yaml").write_text(TINY)
    run = ev.search(
        str(base / "tiny.yaml"), "digits", trials=6, epochs=3, fidelity="asha",
        reduction_factor=2, fidelity_resource="data", out=base / "runs", study="d",
    )  # fmt: skip
    return Path(run.path)


def test_trials_train_on_growing_fractions_and_record_them(data_run: Path) -> None:
    config = yaml.safe_load((data_run / "config.yaml").read_text())
    assert (config["fidelity"], config["fidelity_resource"]) == ("asha", "data")
    trials = ev.open_run(data_run).store.trials()
    pruned = [t for t in trials if t.state == "pruned"]
    complete = [t for t in trials if t.state == "complete"]
    assert pruned and complete
    for t in trials:  # 1/4 before rung 1, 1/2 before rung 2, all of it after
        assert [e["data_fraction"] for e in t.attrs["curve"]] == [0.25, 0.5, 1.0][
            : t.attrs["epochs_run"]
        ]
        assert [p["data_fraction"] for p in t.attrs["promotions"]] == [0.25, 0.5][
            : len(t.attrs["promotions"])
        ]
    assert all(t.attrs["data_fraction"] < 1 for t in pruned)  # stopped on less data
    assert all(t.attrs["data_fraction"] == 1 for t in complete)
    assert any("of the training data" in t.attrs["early_stop"]["reason"] for t in pruned)
    shown = format_summary(run_summary(data_run))  # what `evolve show` prints
    assert (
        f"fidelity asha on growing data fractions (eta 2, first rung 1 epochs): {len(pruned)}"
        in shown
    )
    df = pd.read_parquet(data_run / "trials.parquet")
    assert sorted(df.loc[df["state"] == "PRUNED", "data_fraction"]) == sorted(
        t.attrs["data_fraction"] for t in pruned
    )


def test_resume_keeps_the_resource(data_run: Path) -> None:
    with pytest.raises(RunError, match="fidelity_resource='epochs' differs"):
        ev.search(study="d", out=data_run.parent, resume=True, fidelity_resource="epochs")
    before = {t.number for t in ev.open_run(data_run).store.trials()}
    ev.search(study="d", out=data_run.parent, resume=True, trials=7)
    cfg = SearchConfig.from_dict(yaml.safe_load((data_run / "config.yaml").read_text()))
    assert cfg.fidelity_resource == "data"
    new = [t for t in ev.open_run(data_run).store.trials() if t.number not in before]
    assert len(new) == 1 and new[0].attrs["curve"][0]["data_fraction"] == 0.25


def test_config_round_trip() -> None:
    cfg = SearchConfig(fidelity="hyperband", fidelity_resource="data")
    assert SearchConfig.from_dict(cfg.to_dict()) == cfg
    assert "fidelity_resource" not in SearchConfig().to_dict()  # older runs read as before


def test_join_processes_train_on_the_same_fractions(tmp_path: Path) -> None:
    """Two `--join` processes on one journal, through the command line: the trials of both
    train on the same fractions before the rung and record them."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    storage = str(tmp_path / "shared.log")
    args = [
        "search", "--space", "tiny.yaml", "--trials", "4", "--epochs", "2", "--fidelity", "asha",
        "--reduction-factor", "2", "--fidelity-resource", "data", "--study", "j",
        "--storage", storage, "--join", "--no-progress",
    ]  # fmt: skip
    evolve_at_once([[*args, "--out", side] for side in ("p0", "p1")], tmp_path)
    trials = [t for t in open_store(storage, "j").trials() if t.finished]
    assert len(trials) >= 4
    for t in trials:  # rung 1 only (2 epochs): half of the data before it
        assert [e["data_fraction"] for e in t.attrs["curve"]] == [0.5, 1.0][: t.attrs["epochs_run"]]
        assert t.attrs["promotions"][0]["data_fraction"] == 0.5
    for side in ("p0", "p1"):  # both processes ran trials
        assert re.search(r"trial \d+ arch ", (tmp_path / side / "j" / "log.txt").read_text())


def test_the_ray_backend_trains_on_the_same_fractions(tmp_path: Path) -> None:
    """Ray Tune workers get the schedule with the trial settings and their trial number."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    run = ev.search(
        str(tmp_path / "tiny.yaml"), "digits", trials=4, epochs=3, fidelity="asha",
        reduction_factor=2, fidelity_resource="data", backend="ray", workers=2,
        out=tmp_path / "runs", study="r",
    )  # fmt: skip
    trials = run.store.trials()
    assert len(trials) == 4
    for t in trials:
        curve = [e["data_fraction"] for e in t.attrs["curve"]]
        assert curve == [0.25, 0.5, 1.0][: len(curve)] and curve
        assert t.attrs["promotions"][0]["data_fraction"] == 0.25
