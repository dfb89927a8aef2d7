"""Failure isolation: a trial that raises, diverges, explodes or outgrows its memory cap is
recorded FAIL with its reason and the search goes on; ``--max-failures`` stops a run that fails
systematically. The failures are real (candidates a space proposes, data that breaks training),
not mocks."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
import torch
from evolve_cli import evolve
from servers import RAY_ENV
from test_crash_safety import no_processes_left, token_env
from torch import nn

from evolve.data.datasets import Split, load_digits
from evolve.engine.trial import (
    TrialMemoryExceeded,
    TrialSettings,
    evaluate_trial,
    memory_cap_supported,
    resident_mb,
)
from evolve.store import checkpoints

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
FAIL = optuna.trial.TrialState.FAIL

#: Good and bad candidates in one space: a learning rate of 1e6 makes the loss explode, 1e37
#: makes it infinite, 3e38 overflows inside Adam (a RuntimeError), and a BIF neuron with
#: threshold 0.5 cannot be built (it needs v_c = 0.5 < threshold: a ConfigError).
MIXED = """\
name: mixed
params:
  kind: {type: categorical, choices: [mlp], default: mlp}
  depth: {type: int, low: 1, high: 1, default: 1}
  timesteps: {type: int, low: 1, high: 2, default: 1}
  lr: {type: categorical, choices: [0.003, 0.01, 1.0e+6, 1.0e+37, 3.0e+38], default: 0.003}
layers:
  repeat: depth
  params:
    width: {type: int, low: 8, high: 16, default: 8}
    neuron: {type: categorical, choices: [lif, if, bif], default: lif}
    threshold: {type: categorical, choices: [0.5], default: 0.5}
"""

#: Every candidate diverges: the loss becomes infinite in the first steps.
HOPELESS = """\
name: hopeless
params:
  kind: {type: categorical, choices: [mlp], default: mlp}
  depth: {type: int, low: 1, high: 1, default: 1}
  lr: {type: float, low: 1.0e+36, high: 1.0e+37, log: true, default: 1.0e+37}
layers:
  repeat: depth
  params:
    width: {type: int, low: 8, high: 16, default: 8}
    neuron: {type: categorical, choices: [lif], default: lif}
fixed: {timesteps: 1}
"""

#: Small and huge candidates: two 6144-wide layers hold ~38M weights (150 MB), ~600 MB with
#: their gradients and Adam's moments.
MEMORY = """\
name: memory
params:
  kind: {type: categorical, choices: [mlp], default: mlp}
  depth: {type: int, low: 2, high: 2, default: 2}
layers:
  repeat: depth
  params:
    width: {type: categorical, choices: [16, 6144], default: 16}
    neuron: {type: categorical, choices: [lif], default: lif}
fixed: {timesteps: 1}
"""


def _study(run_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name=run_dir.name, storage=f"sqlite:///{run_dir / 'study.db'}")


def _search(tmp_path: Path, space: str, study: str, *args: str) -> subprocess.CompletedProcess[str]:
    return evolve(
        "search", "--space", space, "--study", study, "--epochs", "1", "--no-progress", *args,
        cwd=tmp_path,
    )  # fmt: skip


def _check_failed(t: optuna.trial.FrozenTrial) -> None:
    """A failed trial carries a one-line reason, the exception's class and the candidate."""
    a = t.user_attrs
    assert a["error"] and "\n" not in a["error"] and "Traceback" not in a["error"], a
    assert a["error_type"] and a["arch"]["kind"] == "mlp"
    assert all(a["arch"][k] == v for k, v in t.params.items())


def test_failing_candidates_are_recorded_and_the_search_goes_on(tmp_path: Path) -> None:
    (tmp_path / "mixed.yaml").write_text(MIXED)
    proc = _search(
        tmp_path, "mixed.yaml", "m", "--trials", "3", "--sampler", "random", "--max-failures", "0"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "runs" / "m"
    trials = _study(run_dir).trials
    finished = [t for t in trials if t.state in FINISHED]
    failed = [t for t in trials if t.state == FAIL]
    assert len(finished) == 3 and failed
    for t in finished:
        assert t.params["lr"] in (0.003, 0.01) and t.user_attrs["arch"]["layer.0.neuron"] != "bif"
    reasons: dict[str, str] = {}
    for t in failed:
        _check_failed(t)
        reasons.setdefault(t.user_attrs["error_type"], t.user_attrs["error"])
        lr, neuron = t.params["lr"], t.params["layer.0.neuron"]
        if neuron == "bif":
            assert t.user_attrs["error_type"] == "ConfigError"
            assert "BIF needs" in t.user_attrs["error"]
        elif lr == 1e6:
            assert t.user_attrs["error"].startswith("loss exploded at epoch 0"), t.user_attrs
        elif lr == 1e37:
            assert t.user_attrs["error"].startswith("loss became inf at epoch 0"), t.user_attrs
        else:
            assert lr == 3e38 and t.user_attrs["error_type"] == "RuntimeError"
    # seed 0 of the random sampler draws each kind of failure within the first trials
    assert {"ConfigError", "LossDiverged"} <= reasons.keys(), reasons
    # one line per failure on the terminal, the tracebacks in the log only
    assert "Traceback" not in proc.stderr
    for t in failed:
        line = f"trial {t.number} failed: {t.user_attrs['error_type']}: {t.user_attrs['error']}"
        assert line in proc.stderr
    log = (run_dir / "log.txt").read_text()
    assert log.count("Traceback (most recent call last)") == len(failed)
    # the failures are in the trial table too, and only the front keeps weights
    df = pd.read_parquet(run_dir / "trials.parquet")
    assert set(df.loc[df["state"] == "FAIL", "error_type"]) == set(reasons)
    front = json.loads((run_dir / "pareto.json").read_text())["front"]
    assert checkpoints.saved_trials(run_dir) == sorted(p["trial"] for p in front)


def test_max_failures_stops_a_run_that_fails_systematically(tmp_path: Path) -> None:
    (tmp_path / "hopeless.yaml").write_text(HOPELESS)
    proc = _search(tmp_path, "hopeless.yaml", "h", "--trials", "5", "--max-failures", "3")
    assert proc.returncode == 2, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "evolve: error: stopped: 3 trials failed in a row (last: loss became inf"
    )
    assert "fix the space or data, then --resume" in last
    run_dir = tmp_path / "runs" / "h"
    trials = _study(run_dir).trials
    assert [t.state for t in trials] == [FAIL] * 3
    for t in trials:
        _check_failed(t)
        assert t.user_attrs["error_type"] == "LossDiverged"
    # nothing recorded is lost: the results were written before stopping
    assert len(pd.read_parquet(run_dir / "trials.parquet")) == 3
    assert json.loads((run_dir / "pareto.json").read_text())["trial_counts"] == {"fail": 3}
    assert "run folder:" in proc.stdout

    # the limit may change on resume; the count starts again in the new run
    again = evolve(
        "search", "--study", "h", "--resume", "--max-failures", "2", "--no-progress", cwd=tmp_path
    )
    assert again.returncode == 2 and "stopped: 2 trials failed in a row" in again.stderr
    assert [t.state for t in _study(run_dir).trials] == [FAIL] * 5


def test_a_memory_cap_fails_huge_candidates_and_frees_their_memory(tmp_path: Path) -> None:
    (tmp_path / "memory.yaml").write_text(MEMORY)
    proc = _search(
        tmp_path, "memory.yaml", "mem", "--trials", "2", "--sampler", "random",
        "--trial-memory-mb", "250", "--max-failures", "0",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "runs" / "mem"
    trials = _study(run_dir).trials
    failed = [t for t in trials if t.state == FAIL]
    finished = [t for t in trials if t.state in FINISHED]
    assert failed and len(finished) == 2
    for t in failed:  # 6144 x 6144 weights: the others are small (16 x 6144 is 100k)
        _check_failed(t)
        assert t.user_attrs["error_type"] == "TrialMemoryExceeded"
        assert t.params["layer.0.width"] == t.params["layer.1.width"] == 6144
        assert "MB > --trial-memory-mb 250 (" in t.user_attrs["error"]
    for t in finished:  # small ones pass, even after a huge one: its memory was released
        assert 16 in (t.params["layer.0.width"], t.params["layer.1.width"])
        assert 0 <= t.user_attrs["memory_mb"] < 250
    config = (run_dir / "config.yaml").read_text()
    assert "trial_memory_mb: 250" in config


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-failures", "-1"], "--max-failures must be >= 0"),
        (["--trial-memory-mb", "0"], "--trial-memory-mb must be > 0"),
    ],
)
def test_bad_failure_flags_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "hopeless.yaml").write_text(HOPELESS)
    proc = _search(tmp_path, "hopeless.yaml", "bad", "--trials", "1", *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "runs" / "bad" / "config.yaml").exists()


# ------------------------------------------------------------------- the training rules, directly
def _xy(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Four features, two classes told apart by the first feature's sign."""
    x = torch.randn(n, 4, generator=torch.Generator().manual_seed(0))
    return x, (x[:, 0] > 0).long()


def _linear() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(4, 2)


def test_a_nan_in_the_data_fails_training_naming_nan() -> None:
    from evolve.training.trainer import LossDiverged, TrainConfig, train

    x, y = _xy()
    bad = x.clone()
    bad[5, 1] = float("nan")  # a missing value
    with pytest.raises(LossDiverged, match=r"^loss became NaN at epoch 0 \(step \d+\)$"):
        train(_linear(), Split(bad, y), Split(x, y), TrainConfig(epochs=1, progress=False))


def test_gradients_that_overflow_or_keep_being_clipped_as_the_loss_rises_explode() -> None:
    from evolve.training.trainer import GradientsExploded, TrainConfig, train

    x, y = _xy()
    cfg = TrainConfig(epochs=2, batch_size=16, progress=False, clip_grad_norm=1.0)
    # inputs of 1e30 (unscaled data): the gradient norm overflows to inf, caught before the step
    with pytest.raises(GradientsExploded, match="gradient norm is inf"):
        train(_linear(), Split(x * 1e30, y), Split(x, y), cfg)
    # inputs of 1e4 with a large step: every step is clipped and the loss climbs
    steep = TrainConfig(
        epochs=2, batch_size=16, lr=10.0, progress=False, clip_grad_norm=1.0,
        max_clipped_fraction=0.5,
    )  # fmt: skip
    with pytest.raises(GradientsExploded, match=r"4/4 steps clipped \(norm > 1\) while the loss"):
        train(_linear(), Split(x * 1e4, y), Split(x, y), steep)
    # clipping alone is not an explosion: the rule is off by default (counted, as before) ...
    r = train(_linear(), Split(x * 1e4, y), Split(x, y), cfg)
    assert r.exploding_grad_steps == 8
    # ... and clipping while the loss falls is healthy training
    calm = TrainConfig(
        epochs=3, batch_size=16, lr=0.05, progress=False, clip_grad_norm=0.05,
        max_clipped_fraction=0.5,
    )  # fmt: skip
    r = train(_linear(), Split(x, y), Split(x, y), calm)
    assert r.exploding_grad_steps > 6 and r.history[-1].loss < r.history[0].loss


def test_a_trial_over_its_memory_cap_raises_and_leaves_nothing_behind() -> None:
    data = load_digits(0)
    arch: dict[str, Any] = {
        "kind": "mlp", "depth": 2, "timesteps": 1,
        "layer.0.width": 4096, "layer.0.neuron": "lif",
        "layer.1.width": 4096, "layer.1.neuron": "lif",
    }  # fmt: skip
    small = {**arch, "layer.0.width": 16, "layer.1.width": 16}
    # the first trial of a process also pays torch's one-time start-up; a small one fits anyway
    outcome = evaluate_trial(small, data, TrialSettings(epochs=1, memory_mb=200))
    assert 0 <= outcome.attrs["memory_mb"] < 200
    del outcome
    gc.collect()
    rss_before = resident_mb()
    assert rss_before is not None and memory_cap_supported()
    with pytest.raises(TrialMemoryExceeded, match=r"^trial used \d+ MB > --trial-memory-mb 40 "):
        evaluate_trial(arch, data, TrialSettings(epochs=1, memory_mb=40))
    gc.collect()
    rss_after = resident_mb()
    assert rss_after is not None and rss_after - rss_before < 40, "the huge model was released"
    # the measurement is of each trial alone: a small one right after is far below the cap
    outcome = evaluate_trial(small, data, TrialSettings(epochs=1, memory_mb=40))
    assert outcome.attrs["memory_mb"] < 40


# ------------------------------------------------------------------------------------ on Ray
def test_ray_trials_fail_alone_and_max_failures_halts_ray(tmp_path: Path) -> None:
    (tmp_path / "hopeless.yaml").write_text(HOPELESS)
    env, token = token_env({**RAY_ENV, "OMP_NUM_THREADS": "1"})
    try:
        proc = subprocess.run(
            [
                sys.executable, "-m", "evolve", "search", "--space", "hopeless.yaml",
                "--study", "r", "--trials", "4", "--epochs", "1", "--backend", "ray",
                "--workers", "1", "--max-failures", "2", "--no-progress",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )  # fmt: skip
    finally:
        left = no_processes_left(token)
    assert not left, f"processes left behind: {left}"
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "stopped: 2 trials failed in a row (last: loss became inf" in proc.stderr
    run_dir = tmp_path / "runs" / "r"
    trials = _study(run_dir).trials
    assert [t.state for t in trials] == [FAIL] * 2, "no new trial after the limit"
    for t in trials:
        _check_failed(t)
        assert t.user_attrs["error_type"] == "LossDiverged"
        assert "traceback" not in t.user_attrs  # the worker's traceback went to the log
    log = (run_dir / "log.txt").read_text()
    assert log.count("traceback (Ray worker)") == 2 and "evolve/training/trainer.py" in log
