"""`evolve continual` and its library functions: the continual search and continuing a found
trial, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from evolve_cli import evolve

from evolve.cli import main
from evolve.continual_learning.metrics import continual_metrics
from evolve.continual_learning.search import ContinueResult, continual, continue_trial
from evolve.continual_learning.strategies import STRATEGIES
from evolve.continual_learning.streams import STREAMS
from evolve.store import checkpoints

TINY = ("--epochs", "1", "--limit", "30", "--no-progress")


def test_help_lists_every_scenario_and_strategy_without_importing_torch() -> None:
    # the registries are the only lists; the command line reads them without importing torch
    code = (
        "import sys, contextlib, io\n"
        "from evolve.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    main(['continual', '--help'])\n"
        "print(out.getvalue())\n"
        "print('torch imported:', 'torch' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "torch imported: False" in proc.stdout
    text = " ".join(proc.stdout.split())
    assert f"scenarios: {', '.join(STREAMS)}" in text
    assert f"strategies: {', '.join(STRATEGIES)}" in text


def test_continual_search_then_continue_a_front_trial(tmp_path: Path) -> None:
    proc = evolve("continual", "--trials", "4", "--study", "c", *TINY, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Pareto front" in proc.stdout and "strategy" in proc.stdout
    run_dir = tmp_path / "runs" / "c"
    study = optuna.load_study(study_name="c", storage=f"sqlite:///{run_dir / 'study.db'}")
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE", "MINIMIZE"]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 4
    for t in complete:
        a = t.user_attrs
        assert a["strategy"] in STRATEGIES and a["strategy"] == a["arch"]["cl_strategy"]
        r, r_val = np.array(a["R"]), np.array(a["R_val"])
        assert r.shape == r_val.shape == (5, 5)
        # the search selects on validation: its values are the GEM metrics of R_val ...
        val = continual_metrics(r_val)
        assert t.values[0] == pytest.approx(val.acc)
        assert t.values[1] == pytest.approx(val.forgetting)
        assert t.values[2] == a["energy_uj"] > 0
        # ... and the test-split metrics are recorded beside them
        test = continual_metrics(r)
        assert a["test_acc"] == pytest.approx(test.acc)
        assert a["test_forgetting"] == pytest.approx(test.forgetting)
        assert a["stream"]["name"] == "split-digits" and len(a["stream"]["tasks"]) == 5
    pareto = json.loads((run_dir / "pareto.json").read_text())
    front = sorted(p["trial"] for p in pareto["front"])
    assert front and checkpoints.saved_trials(run_dir) == front
    df = pd.read_parquet(run_dir / "trials.parquet")
    assert {"cl_acc", "forgetting", "energy_uj"} <= set(df.columns)

    # a front trial's final model exports like a search trial's, checked on every task's test split
    n = pareto["front"][0]["trial"]
    exp = evolve("export", str(run_dir), "--trial", str(n), "--out", "cl_export", cwd=tmp_path)
    assert exp.returncode == 0, exp.stderr
    card = json.loads((tmp_path / "cl_export" / "model_card.json").read_text())
    assert card["made_by"] == "continual trial (final model)" and card["trial"] == n
    assert card["data"]["dataset"] == "split-digits" and "torchscript" in card["formats"]
    row = next(t for t in complete if t.number == n).user_attrs
    assert card["energy"]["energy_uj_per_inference"] == row["energy_uj"]
    # over all tasks' test samples; ACC is the mean of the per-task accuracies (similar sizes)
    assert card["metrics"]["test_accuracy"]["value"] == pytest.approx(row["test_acc"], abs=0.05)

    # continue a front trial's saved model on a domain-incremental stream
    n = pareto["front"][0]["trial"]  # the most accurate (the front is sorted by cl_acc)
    cont = evolve(
        "continual",
        "--study",
        "c",
        "--trial",
        str(n),
        "--scenario",
        "permuted-digits",
        "--strategy",
        "replay",
        "--buffer-size",
        "40",
        *TINY,
        cwd=tmp_path,
    )
    assert cont.returncode == 0, cont.stderr
    assert "ACC" in cont.stdout and "BWT" in cont.stdout
    out = run_dir / "continual" / f"trial_{n}-permuted-digits-replay.json"
    record = json.loads(out.read_text())
    m = continual_metrics(record["R"])
    assert record["acc"] == pytest.approx(m.acc) and record["bwt"] == pytest.approx(m.bwt)
    assert record["settings"]["buffer_size"] == 40 and record["source"].startswith("weights")
    # it starts from the trained weights: perm0 is the plain data the trial already learned
    # chance is 0.1; the same architecture rebuilt from scratch (--retrain) scored 0.1 here
    assert record["R"][0][0] > 0.25
    study = optuna.load_study(study_name="c", storage=f"sqlite:///{run_dir / 'study.db'}")
    noted = study.user_attrs[f"continual.trial_{n}"]
    assert len(noted) == 1 and noted[0]["R"] == record["R"]
    assert len(study.trials) == 4, "continuing a trial adds no trial to the search"

    # a trial that is not on the front has no weights: a clear refusal, nothing written
    others = [t.number for t in complete if t.number not in front]
    if others:
        proc = evolve("continual", "--study", "c", "--trial", str(others[0]), *TINY, cwd=tmp_path)
        assert proc.returncode == 2 and "--retrain" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in (run_dir / "continual").iterdir() if p.suffix == ".json") == [
        out.name
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "split-cifar"], "unknown stream 'split-cifar'"),
        (["--space", "hybrid_neuron", "--strategy", "ewc"], "unknown continual strategy 'ewc'"),
        (["--trial", "3"], "--trial needs --study"),
        (["--retrain"], "--retrain only applies with --trial"),
        (["--objectives", "accuracy"], "--objectives: accuracy not measured by a continual search"),
        (["--study", "nope", "--trial", "0"], "not a search run folder"),
        (
            ["--space", "hybrid_neuron", "--strategy", "naive", "--buffer-size", "9"],
            "--buffer-size",
        ),
        (["--n-tasks", "11"], "--n-tasks must be an integer from 1 to 10"),
        (
            ["--scenario", "digits,digits", "--n-tasks", "3"],
            "--n-tasks must match the data sets of a list: 3 given for the 2",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code = main(["continual", *args, *TINY, "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and len(err.strip().splitlines()) == 1


def test_search_refuses_a_continual_space(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["search", "--space", "continual", "--out", str(tmp_path / "runs")])
    assert code == 2
    err = capsys.readouterr().err
    assert "continual-learning settings (cl_*)" in err and "`evolve continual`" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_space_with_distillation_keys_is_searched_without_them(tmp_path: Path) -> None:
    """hybrid_neuron has kd_* keys: a continual search ignores them (and says so in log.txt)
    instead of failing every trial."""
    run = continual(
        "hybrid_neuron",
        "split-digits",
        strategy="replay",
        buffer_size=20,
        n_tasks=2,
        limit=20,
        epochs=1,
        trials=2,
        out=tmp_path / "runs",
        study="h",
    )
    assert run.store.counts() == {"complete": 2}
    log = (run.path / "log.txt").read_text()
    assert "kd_alpha, kd_enabled, kd_temperature ignored" in log
    for t in run.store.trials():
        assert "kd_enabled" in t.arch and t.attrs["strategy"] == "replay"
        assert t.attrs["strategy_settings"]["buffer_size"] == 20

    # the library call for trial mode: no trial of the search is added, R is returned
    n = run.front[0].number
    done = continue_trial(run.path, n, scenario="permuted-digits", n_tasks=2, limit=20, epochs=1)
    assert isinstance(done, ContinueResult) and done.trial == n
    assert done.path == run.path / "continual" / f"trial_{n}-permuted-digits-replay.json"
    assert json.loads(done.path.read_text())["R"] == [list(r) for r in done.result.r]
    assert "ACC" in done.text() and done.record["command"] == ""
    assert len(run.store.trials()) == 2
    noted = run.store.user_attrs[f"continual.trial_{n}"]
    assert [x["R"] for x in noted] == [[list(r) for r in done.result.r]]
