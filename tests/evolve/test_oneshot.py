"""``agent="oneshot"`` in a real (tiny) search on digits: the supernet trained once and saved,
the inherited-weight search recorded in its own study, the run's front made of retrained trials
with checkpoints, ``oneshot.json`` with the rank correlations, resume without retraining the
supernet, a transformer space whose supernets hold every attention type it proposes,
``retrain_top`` honoured, and a space it cannot share weights in (or a bad ``retrain_top``)
refused before anything is recorded."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch
import yaml

import evolve
from evolve.errors import UserError

SPACE = (
    "name: tiny_oneshot\n"
    "params:\n"
    "  kind: {type: categorical, choices: [mlp, cnn]}\n"
    "  depth: {type: int, low: 1, high: 2}\n"
    "  timesteps: {type: int, low: 2, high: 3}\n"
    "  lr: {type: float, low: 1.0e-3, high: 1.0e-2, log: true, default: 5.0e-3}\n"
    "layers:\n"
    "  repeat: depth\n"
    "  params:\n"
    "    width: {type: int, low: 8, high: 32, step: 8, when: {kind: mlp}}\n"
    "    channels: {type: int, low: 4, high: 8, step: 4, when: {kind: cnn}}\n"
    "    neuron: {type: categorical, choices: [if, lif, bif]}\n"
    "    threshold: {type: float, low: 0.75, high: 1.5}\n"
    "    v_reset: {type: float, low: 0.55, high: 0.7, when: {neuron: bif}}\n"
)


def _search(tmp_path: Path, trials: int, **kw: object) -> evolve.Run:
    return evolve.search(
        str(tmp_path / "tiny.yaml"),
        "digits",
        agent="oneshot",
        trials=trials,
        epochs=1,
        seed=0,
        study="o",
        out=tmp_path / "runs",
        selection="holdout",
        **kw,  # type: ignore[arg-type]
    )


def test_oneshot_trains_the_supernet_once_searches_inside_and_retrains_the_front(
    tmp_path: Path,
) -> None:
    (tmp_path / "tiny.yaml").write_text(SPACE)
    _search(tmp_path, 6)
    run_dir = tmp_path / "runs" / "o"
    pt = run_dir / "supernet.pt"
    states = torch.load(pt, weights_only=True)
    assert states and all(k.startswith(("mlp/", "cnn/")) for k in states)
    stamp = pt.stat().st_mtime_ns

    # phase 2: the inherited-weight evaluations, in their own study of the same storage
    inherited = pd.read_parquet(run_dir / "supernet" / "trials.parquet")
    assert len(inherited) == 6 and set(inherited["state"]) == {"COMPLETE"}
    assert set(inherited["phase"]) == {"inherited"}
    assert inherited["energy_uj"].gt(0).all() and inherited["accuracy"].between(0, 1).all()
    storage = f"sqlite:///{run_dir / 'study.db'}"
    names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    assert names == {"o", "o-supernet"}
    front_in = json.loads((run_dir / "supernet" / "pareto.json").read_text())["front"]

    # phase 3: the run's own trials are the inherited front, retrained, with checkpoints
    df = pd.read_parquet(run_dir / "trials.parquet")
    assert set(df["phase"]) == {"retrained"}
    assert set(df["inherited_trial"]) <= {f["trial"] for f in front_in}
    archs = {json.dumps(f["arch"], sort_keys=True) for f in front_in}  # NSGA-II may repeat one
    assert len(df) == min(len(archs), 8) and df["arch"].map(str).is_unique
    by_number = inherited.set_index("number")
    for _, t in df.iterrows():
        assert t["inherited_accuracy"] == by_number.loc[t["inherited_trial"], "accuracy"]
    front = json.loads((run_dir / "pareto.json").read_text())["front"]
    assert front and all(
        (run_dir / "checkpoints" / f"trial_{f['trial']}.pt").exists() for f in front
    )

    summary = json.loads((run_dir / "oneshot.json").read_text())
    assert summary["n"] == int((df["state"] == "COMPLETE").sum())
    assert {"kendall_tau", "spearman_rho", "kendall_p", "spearman_p"} <= set(summary)
    if summary["n"] >= 3 and summary["kendall_tau"] is not None:
        assert -1 <= summary["kendall_tau"] <= 1 and -1 <= summary["spearman_rho"] <= 1

    # resume: the supernet is loaded, not retrained; two more inherited evaluations
    _search(tmp_path, 8, resume=True)
    assert pt.stat().st_mtime_ns == stamp
    inherited = pd.read_parquet(run_dir / "supernet" / "trials.parquet")
    assert len(inherited) == 8
    df2 = pd.read_parquet(run_dir / "trials.parquet")
    assert df2["inherited_trial"].is_unique  # nothing retrained twice
    assert set(df["inherited_trial"]) <= set(df2["inherited_trial"])
    assert "supernet: loaded" in (run_dir / "log.txt").read_text()


def test_a_space_without_a_supernet_is_refused_in_one_line(tmp_path: Path) -> None:
    import numpy as np

    x, y = np.random.default_rng(0).random((40, 16), dtype=np.float32), np.arange(40) % 2
    with pytest.raises(UserError) as e:
        evolve.search(
            "temporal",
            (x, y),
            data_kind="series",
            agent="oneshot",
            trials=1,
            epochs=1,
            study="t",
            out=tmp_path / "runs",
        )
    assert str(e.value) == (
        "agent oneshot supports kind mlp, cnn and transformer (space 'temporal' proposes "
        "temporal); use agent optuna for temporal"
    )
    assert not (tmp_path / "runs" / "t").exists()


def test_oneshot_shares_attention_types_in_a_transformer_space(tmp_path: Path) -> None:
    kw = {"space": "hybrid_attention", "dataset": "digits", "agent": "oneshot", "epochs": 1}
    kw |= {"seed": 0, "study": "a", "out": tmp_path / "runs", "selection": "holdout"}
    evolve.search(**kw, trials=4, retrain_top=2)  # type: ignore[arg-type]
    run_dir = tmp_path / "runs" / "a"
    meta = json.loads((run_dir / "supernet.json").read_text())
    assert meta["nets"] and all(k.startswith("transformer/") for k in meta["nets"])
    every_type = ["standard", "ssa", "sdsa", "adaptive"]  # the space's attention choices
    assert all(meta["attention"][k] == every_type for k in meta["nets"])
    assert all(spec["dim"] == 64 for spec in meta["nets"].values())  # the widest dim
    states = torch.load(run_dir / "supernet.pt", weights_only=True)
    for state in states.values():
        for t in every_type:
            assert any(f".attn.choices.{t}." in name for name in state)
    inherited = pd.read_parquet(run_dir / "supernet" / "trials.parquet")
    assert len(inherited) == 4 and set(inherited["state"]) == {"COMPLETE"}
    assert inherited["supernet"].str.startswith("transformer/").all()
    front_in = json.loads((run_dir / "supernet" / "pareto.json").read_text())["front"]
    archs = {json.dumps(f["arch"], sort_keys=True) for f in front_in}
    df = pd.read_parquet(run_dir / "trials.parquet")
    assert set(df["phase"]) == {"retrained"} and len(df) == min(len(archs), 2)
    summary = json.loads((run_dir / "oneshot.json").read_text())
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["retrain_top"] == 2
    assert summary["retrain_top"] == 2 and summary["n"] == int((df["state"] == "COMPLETE").sum())

    # a resume loads the transformer supernets (with their attention choices) and keeps the
    # recorded retrain_top
    stamp = (run_dir / "supernet.pt").stat().st_mtime_ns
    evolve.search(**kw, trials=5, resume=True)  # type: ignore[arg-type]
    assert (run_dir / "supernet.pt").stat().st_mtime_ns == stamp
    assert json.loads((run_dir / "oneshot.json").read_text())["retrain_top"] == 2
    df2 = pd.read_parquet(run_dir / "trials.parquet")
    assert len(df2) <= 2 and df2["inherited_trial"].is_unique


def test_retrain_top_is_refused_when_bad_or_with_another_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evolve.cli import main

    kw = {"trials": 1, "epochs": 1, "study": "r", "out": tmp_path / "runs"}
    with pytest.raises(UserError, match=r"^retrain_top must be an integer >= 1, got 0$"):
        evolve.search("hybrid_neuron", "digits", agent="oneshot", retrain_top=0, **kw)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"^retrain_top applies to agent oneshot only"):
        evolve.search("hybrid_neuron", "digits", retrain_top=2, **kw)  # type: ignore[arg-type]
    out = str(tmp_path / "runs")
    cli = ["search", "--space", "hybrid_neuron", "--study", "r", "--out", out, "--no-progress"]
    assert main([*cli, "--retrain-top", "2"]) == 2
    assert capsys.readouterr().err == (
        "evolve: error: --retrain-top applies to --agent oneshot only (this run's agent is "
        "optuna); leave it out\n"
    )
    assert main([*cli, "--agent", "oneshot", "--retrain-top", "0"]) == 2
    assert capsys.readouterr().err == (
        "evolve: error: --retrain-top must be an integer >= 1, got 0\n"
    )
    assert not (tmp_path / "runs" / "r").exists()
