"""`evolve continual`: the continual search and continuing a found trial, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from evolve_cli import evolve

from evolve import checkpoints, continual_cmd
from evolve.cli import main
from evolve.continual import STRATEGIES, STREAMS, continual_metrics

TINY = ("--epochs", "1", "--limit", "30", "--no-progress")


def test_help_lists_every_scenario_and_strategy() -> None:
    assert tuple(STREAMS) == continual_cmd.SCENARIOS
    assert tuple(STRATEGIES) == continual_cmd.STRATEGY_NAMES


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
        (["--objectives", "accuracy"], "accuracy not measured by `evolve continual`"),
        (["--study", "nope", "--trial", "0"], "not a search run folder"),
        (
            ["--space", "hybrid_neuron", "--strategy", "naive", "--buffer-size", "9"],
            "--buffer-size",
        ),
        (["--n-tasks", "11"], "--n-tasks must be an integer from 1 to 10"),
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
    assert "evolve continual --space continual" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
