"""`evolve search --fidelity asha` end to end: trials stop at rung epochs, the rungs are recorded
in the study and trials.parquet, the front holds only completed trials, resume keeps the
setting."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from evolve_cli import evolve, evolve_at_once

import evolve as ev
from agents import open_store
from evolve.config import SearchConfig
from evolve.errors import RunError
from evolve.report.summary import format_summary, run_summary

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
EPOCHS = 3  # eta 2, r 1: rungs at 1 and 2 epochs


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6-trial asha search of a tiny MLP space on digits, through the real command line."""
    base = tmp_path_factory.mktemp("fidelity")
    (base / "tiny.yaml").write_text(TINY)
    proc = evolve(
        "search", "--space", "tiny.yaml", "--study", "a", "--trials", "6",
        "--epochs", str(EPOCHS), "--fidelity", "asha", "--reduction-factor", "2",
        "--no-progress", cwd=base,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return base / "runs" / "a"


def test_asha_stops_trials_at_rungs_and_records_them(run_dir: Path) -> None:
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert (config["fidelity"], config["reduction_factor"]) == ("asha", 2)
    run = ev.open_run(run_dir)
    trials = run.store.trials()
    pruned = [t for t in trials if t.state == "pruned"]
    complete = [t for t in trials if t.state == "complete"]
    assert pruned and complete and len(pruned) + len(complete) == 6
    for t in pruned:  # stopped exactly at a rung, by a failed promotion
        assert t.attrs["epochs_run"] == t.attrs["rung"] in (1, 2)
        last = t.attrs["promotions"][-1]
        assert last["promoted"] is False and last["rank"] >= last["n_at_rung"] // 2
    for t in complete:  # trained the whole budget, promoted at both rungs
        assert t.attrs["epochs_run"] == EPOCHS and t.attrs["rung"] == 2
        assert [p["rung"] for p in t.attrs["promotions"]] == [1, 2]
        assert all(p["promoted"] for p in t.attrs["promotions"])
    front = {t.number for t in run.front}
    assert front and front <= {t.number for t in complete}

    shown = format_summary(run_summary(run_dir))  # what `evolve show` prints
    assert f"fidelity asha (eta 2, first rung 1 epochs): {len(pruned)} trials stopped" in shown

    df = pd.read_parquet(run_dir / "trials.parquet")
    assert {"rung", "bracket", "promotions"} <= set(df.columns)
    assert sorted(df.loc[df["state"] == "PRUNED", "rung"]) == sorted(
        t.attrs["rung"] for t in pruned
    )


def test_resume_keeps_the_scheduler(run_dir: Path) -> None:
    with pytest.raises(RunError, match="fidelity='stopper' differs"):
        ev.search(study="a", out=run_dir.parent, resume=True, fidelity="stopper")
    before = {t.number for t in ev.open_run(run_dir).store.trials()}
    ev.search(study="a", out=run_dir.parent, resume=True, trials=8)
    cfg = SearchConfig.from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()))
    assert (cfg.fidelity, cfg.reduction_factor, cfg.min_epochs) == ("asha", 2, 1)
    new = [t for t in ev.open_run(run_dir).store.trials() if t.number not in before]
    assert len(new) == 2
    assert all(t.attrs["promotions"][0]["rung"] == 1 for t in new)  # judged by asha again


def test_join_processes_share_the_rungs(tmp_path: Path) -> None:
    """Two `--join` processes on one journal file: each judges its trials against the other's."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    storage = str(tmp_path / "shared.log")
    args = [
        "search", "--space", "tiny.yaml", "--trials", "4", "--epochs", "2", "--fidelity", "asha",
        "--reduction-factor", "2", "--study", "j", "--storage", storage, "--join", "--no-progress",
    ]  # fmt: skip
    evolve_at_once([[*args, "--out", side] for side in ("p0", "p1")], tmp_path)
    store = open_store(storage, "j")
    trials = [t for t in store.trials() if t.finished]
    ran = {side: (tmp_path / side / "j" / "log.txt").read_text() for side in ("p0", "p1")}
    per_process = [len(re.findall(r"trial \d+ arch ", log)) for log in ran.values()]
    assert all(per_process) and len(trials) >= 4
    at_first = [p["n_at_rung"] for t in trials for p in t.attrs["promotions"] if p["rung"] == 1]
    assert len(at_first) == len(trials)  # every trial was judged at rung 1
    # a trial at rung 1 met more trials than its own process ran: the other's count too
    assert max(at_first) > max(per_process)
