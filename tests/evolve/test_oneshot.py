"""``agent="oneshot"`` in a real (tiny) search on digits: the supernet trained once and saved,
the inherited-weight search recorded in its own study, the run's front made of retrained trials
with checkpoints, ``oneshot.json`` with the rank correlations, resume without retraining the
supernet, and a space it cannot share weights in refused before anything is recorded."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch

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
    with pytest.raises(UserError) as e:
        evolve.search(
            "hybrid_attention",
            "digits",
            agent="oneshot",
            trials=1,
            epochs=1,
            study="t",
            out=tmp_path / "runs",
        )
    assert str(e.value) == (
        "agent oneshot supports kind mlp and cnn (space 'hybrid_attention' proposes "
        "transformer); use agent optuna for hybrid_attention"
    )
    assert not (tmp_path / "runs" / "t").exists()
