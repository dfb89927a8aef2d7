"""`evolve search`, `evolve show` and `evolve spaces` end to end, as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from evolve_cli import evolve

from evolve.data.datasets import load_digits
from evolve.store import checkpoints
from evolve.training.trainer import evaluate

ATTENTIONS = {"standard", "ssa", "sdsa", "adaptive"}
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def _study(run_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name=run_dir.name, storage=f"sqlite:///{run_dir / 'study.db'}")


def test_four_trial_search_leaves_a_consistent_run(tmp_path: Path) -> None:
    """The default search (hybrid_attention on digits), cut to 4 trials of 1 epoch."""
    proc = evolve(
        "search", "--trials", "4", "--epochs", "1", "--study", "s4", "--no-progress", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = tmp_path / "runs" / "s4"
    study = _study(run_dir)
    finished = [t for t in study.trials if t.state in FINISHED]
    assert len(finished) == 4
    assert "Pareto front" in proc.stdout and "attentions" in proc.stdout
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["space"] == "hybrid_attention"
    used = {v for t in finished for k, v in t.params.items() if k.endswith(".attention")}
    assert used and used <= ATTENTIONS
    for t in finished:
        assert t.user_attrs["energy_uj"] > 0

    pareto = json.loads((run_dir / "pareto.json").read_text())
    assert pareto["front"], "a search with finished trials has a non-empty front"
    complete = {t.number: t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE}
    for point in pareto["front"]:
        t = complete[point["trial"]]  # only COMPLETE trials are on the front
        assert point["values"] == {"accuracy": t.values[0], "energy_uj": t.values[1]}
        assert point["test_accuracy"] == t.user_attrs["test_accuracy"]
    assert pareto["hypervolume"] > 0
    assert len(pareto["hypervolume_history"]) == len(complete)

    # the front, and only the front, keeps its trained weights; they reproduce the trial
    front_numbers = sorted(p["trial"] for p in pareto["front"])
    assert checkpoints.saved_trials(run_dir) == front_numbers
    best = pareto["front"][0]
    ckpt = checkpoints.load(run_dir, best["trial"])
    data = load_digits(0)
    assert evaluate(ckpt.model, data.val) == best["values"]["accuracy"]
    assert evaluate(ckpt.model, data.test) == best["test_accuracy"]

    df = pd.read_parquet(run_dir / "trials.parquet")
    assert sorted(df["number"]) == [t.number for t in study.trials]
    for _, row in df.iterrows():
        t = study.trials[int(row["number"])]
        assert row["state"] == t.state.name
        if t.state == optuna.trial.TrialState.COMPLETE:
            assert row["accuracy"] == t.values[0] and row["energy_uj"] == t.values[1]
            assert 0 <= row["test_accuracy"] <= 1
    for name in ("log.txt", "config.yaml", "space.yaml"):
        assert (run_dir / name).exists(), name

    shown = evolve("show", str(run_dir), cwd=tmp_path)
    assert (
        shown.returncode == 0 and "hypervolume" in shown.stdout and "Pareto front" in shown.stdout
    )

    again = evolve("search", "--trials", "4", "--study", "s4", "--no-progress", cwd=tmp_path)
    assert again.returncode == 2
    assert "already exists" in again.stderr and "--resume" in again.stderr
    assert len(_study(run_dir).trials) == len(study.trials), (
        "a refused run must not touch the study"
    )


def test_resume_after_sigkill_keeps_finished_trials(tmp_path: Path) -> None:
    args = [
        "search",
        "--trials",
        "4",
        "--epochs",
        "3",
        "--study",
        "k",
        "--no-progress",
        "--no-early-stop",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "evolve", *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    run_dir = tmp_path / "runs" / "k"
    before: dict[int, tuple[float, ...]] = {}
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            time.sleep(0.5)
            # pareto.json is first written once the study exists: reading the SQLite file
            # earlier races the search process creating its tables
            if not (run_dir / "pareto.json").exists():
                continue
            try:
                trials = _study(run_dir).trials
            except Exception:  # the study may not be created yet
                continue
            done = [t for t in trials if t.state in FINISHED]
            running = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
            if done and running and len(done) < 4:
                before = {t.number: tuple(t.values) for t in done}
                os.kill(proc.pid, signal.SIGKILL)  # mid-trial
                break
        else:
            pytest.fail("no finished trial followed by a running one within 300 s")
    finally:
        proc.wait(timeout=60)
    resumed = evolve("search", "--study", "k", "--resume", "--no-progress", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    trials = _study(run_dir).trials
    finished = [t for t in trials if t.state in FINISHED]
    assert len(finished) == 4
    for number, values in before.items():
        assert trials[number].state in FINISHED and tuple(trials[number].values) == values
    assert any(t.state == optuna.trial.TrialState.FAIL for t in trials), (
        "the killed trial is marked FAIL"
    )


def test_spaces_lists_and_describes(tmp_path: Path) -> None:
    listed = evolve("spaces", cwd=tmp_path)
    assert listed.returncode == 0 and "hybrid_neuron" in listed.stdout
    described = evolve("spaces", "hybrid_neuron", cwd=tmp_path)
    assert described.returncode == 0 and "threshold" in described.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--space", "nope"], "unknown"),
        (["--space", "bad.yaml"], "bad.yaml:"),
        (["--objectives", "accuracy,beauty"], "beauty"),
        (["--sampler", "annealing"], "annealing"),
        (["--resume"], "--resume needs --study"),
        (["--study", "ghost", "--resume"], "nothing to resume"),
        (["--dataset", "fashion_mnist", "--data-dir", "."], "dataset-fashion-mnist"),
    ],
)
def test_search_bad_input_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "bad.yaml").write_text(
        "name: bad\nparams:\n  depth: {type: int, low: 3, high: 1}\n"
    )
    proc = evolve("search", *args, "--trials", "1", "--epochs", "1", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


TINY = (
    "name: tiny\n"
    "params:\n"
    "  depth: {type: int, low: 1, high: 1}\n"
    "  kd_enabled: {type: bool}\n"
    "layers:\n"
    "  repeat: depth\n"
    "  params:\n"
    "    width: {type: int, low: 8, high: 16}\n"
    "    neuron: {type: categorical, choices: [lif]}\n"
    "fixed: {kind: mlp, kd_teacher_width: 16}\n"
)


def test_energy_ratio_objective_and_distilled_trials(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    proc = evolve(
        "search",
        "--space",
        "tiny.yaml",
        "--study",
        "r",
        "--trials",
        "4",
        "--epochs",
        "1",
        "--objectives",
        "accuracy,energy_ratio",
        "--no-progress",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = tmp_path / "runs" / "r"
    pareto = json.loads((run_dir / "pareto.json").read_text())
    assert pareto["reference_point"]["energy_ratio_to_ann"] == 1.0
    study = _study(run_dir)
    for t in study.trials:
        if t.state == optuna.trial.TrialState.COMPLETE:
            a = t.user_attrs
            assert t.values[1] == pytest.approx(a["energy_uj"] / a["ann_energy_uj"])
            assert ("teacher" in a) == t.params["kd_enabled"]
    distilled = [t.user_attrs["teacher"] for t in study.trials if "teacher" in t.user_attrs]
    # seed 0 samples kd_enabled both ways in 4 trials; one teacher serves the whole study
    assert 0 < len(distilled) < 4
    assert sum(not d["cached"] for d in distilled) == 1
    assert (tmp_path / "runs" / "teachers" / "digits-mlp-w16-s0.pt").exists()


def test_a_space_budget_sets_the_default_trials_and_epochs(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(
        "name: tiny\n"
        "params:\n"
        "  depth: {type: int, low: 1, high: 1}\n"
        "layers:\n"
        "  repeat: depth\n"
        "  params:\n"
        "    width: {type: int, low: 8, high: 16}\n"
        "    neuron: {type: categorical, choices: [lif]}\n"
        "fixed: {kind: mlp}\n"
        "budget: {trials: 2, epochs: 1}\n"
    )
    proc = evolve("search", "--space", "tiny.yaml", "--study", "b", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_dir = tmp_path / "runs" / "b"
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert (config["trials"], config["epochs"]) == (2, 1)
    finished = [t for t in _study(run_dir).trials if t.state in FINISHED]
    assert len(finished) == 2
    assert all(t.user_attrs["epochs_run"] <= 1 for t in finished)
    # a flag beats the budget, and a resumed run keeps the recorded epochs
    more = evolve(
        "search", "--study", "b", "--resume", "--trials", "3", "--no-progress", cwd=tmp_path
    )
    assert more.returncode == 0, more.stderr
    assert len([t for t in _study(run_dir).trials if t.state in FINISHED]) == 3
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["epochs"] == 1


def test_every_attention_type_is_proposed_across_seeds() -> None:
    from agents import OptunaAgent, parse_objectives
    from search_spaces import load_space

    space = load_space("hybrid_attention")
    seen: set[object] = set()
    for seed in (0, 1, 2):
        agent = OptunaAgent(
            space=space,
            objectives=parse_objectives("accuracy,energy"),
            storage=None,
            study_name=f"s{seed}",
            sampler="nsga2",
            seed=seed,
        )
        for _ in range(4):  # the first four proposals of a 4-trial search
            proposal = agent.ask()
            seen |= {v for k, v in proposal.arch.items() if k.endswith(".attention")}
            agent.tell(proposal, None, state="fail")
    assert seen == ATTENTIONS
