"""The Python API: the README's script, the same trials as the CLI, data and objectives passed
as objects, typed errors, and no process-wide state changed by the library."""

from __future__ import annotations

import gc
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import evolve
from tests.evolve.evolve_cli import evolve as evolve_cli

ROOT = Path(__file__).resolve().parents[2]
TIMING = (
    "datetime_start",
    "datetime_complete",
    "duration_s",
    "train_seconds",
    "wall_seconds",
    "latency_ms",
    "memory_mb",
    "first_train_seconds",
    "stage_seconds",
    "cv_seconds",
)


def _comparable(df: pd.DataFrame) -> pd.DataFrame:
    """trials.parquet without wall-clock columns, and nested JSON without timings."""
    df = df.drop(columns=[c for c in df.columns if c in TIMING])
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_object_dtype(out[col]) or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(
                lambda v: (
                    re.sub(r'"(\w*seconds|latency_ms|memory_mb)": [0-9.e+-]+', "", v)
                    if isinstance(v, str)
                    else v
                )
            )
    return out.sort_values("number").reset_index(drop=True)


def _readme_script() -> str:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    script = next(b for b in blocks if "evolve.search(" in b)
    assert (
        script.strip()
        == (ROOT / "examples" / "quickstart.py").read_text().split('"""\n', 2)[-1].strip()
    ), "the README's script and examples/quickstart.py must be the same code"
    return script


def test_readme_script_runs_and_matches_the_cli(tmp_path: Path) -> None:
    """The README's 10-line script: a 3-trial search, the front, the best model, a prediction;
    the same search through the CLI records identical trials."""
    script = _readme_script()
    assert len([line for line in script.splitlines() if line.strip()]) <= 11
    api_dir, cli_dir = tmp_path / "api", tmp_path / "cli"
    api_dir.mkdir()
    cli_dir.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=api_dir, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert re.fullmatch(r"trial \d+: test accuracy 0\.\d{3}", lines[-1])
    assert len(lines) >= 2  # at least one front line
    cli = evolve_cli(
        "search",
        "--space",
        "hybrid_neuron",
        "--dataset",
        "digits",
        "--trials",
        "3",
        "--epochs",
        "1",
        "--study",
        "quickstart",
        "--no-progress",
        cwd=cli_dir,
    )
    assert cli.returncode == 0, cli.stderr
    a = _comparable(pd.read_parquet(api_dir / "runs" / "quickstart" / "trials.parquet"))
    b = _comparable(pd.read_parquet(cli_dir / "runs" / "quickstart" / "trials.parquet"))
    pd.testing.assert_frame_equal(a, b)
    pareto_a = evolve.open_run(api_dir / "runs" / "quickstart").summary()
    pareto_b = evolve.open_run(cli_dir / "runs" / "quickstart").summary()
    assert pareto_a["front"] == pareto_b["front"]
    assert pareto_a["hypervolume"] == pareto_b["hypervolume"]


def test_examples_run_end_to_end(tmp_path: Path) -> None:
    for name in ("quickstart.py", "own_data.py"):
        proc = subprocess.run(
            [sys.executable, str(ROOT / "examples" / name)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, f"{name}: {proc.stderr}"
    run = evolve.open_run(tmp_path / "runs" / "own-data")
    assert "n_params" in run.trials.columns
    assert [o.name for o in run.objectives] == ["accuracy", "energy_uj", "n_params"]
    assert run.front and all("n_params" in t.values for t in run.front)


def _blobs(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], n // 3)
    x = (rng.normal(size=(n, 6)) + 2 * y[:, None]).astype("float32")
    return x, y


def test_arrays_in_memory_equal_the_npz_file_through_the_cli(tmp_path: Path) -> None:
    x, y = _blobs()
    np.savez(tmp_path / "blobs.npz", x=x, y=y)
    run = evolve.search(
        "hybrid_neuron",
        evolve.from_arrays(x, y, name="blobs"),
        trials=2,
        epochs=1,
        constraint="nir",
        study="mem",
        out=tmp_path / "runs",
    )
    assert run.config["dataset"] == "blobs"
    assert len(run.trials) == 2 and set(run.trials["state"]) <= {"COMPLETE", "PRUNED"}
    cli = evolve_cli(
        "search",
        "--space",
        "hybrid_neuron",
        "--dataset",
        str(tmp_path / "blobs.npz"),
        "--trials",
        "2",
        "--epochs",
        "1",
        "--constraint",
        "nir",
        "--study",
        "file",
        "--no-progress",
        "--out",
        str(tmp_path / "runs"),
        cwd=tmp_path,
    )
    assert cli.returncode == 0, cli.stderr
    a = _comparable(run.trials)
    b = _comparable(evolve.open_run(tmp_path / "runs" / "file").trials)
    pd.testing.assert_frame_equal(a, b)
    # a torch Dataset of the same arrays is the same data set
    import torch

    ds = torch.utils.data.TensorDataset(torch.as_tensor(x), torch.as_tensor(y))
    same = evolve.from_torch(ds, name="blobs")
    ref = evolve.from_arrays(x, y, name="blobs")
    assert torch.equal(same.train.x, ref.train.x) and torch.equal(same.test.y, ref.test.y)


def test_user_objective_from_python_and_from_a_file(tmp_path: Path) -> None:
    calls: list[int] = []

    def n_params(model, data) -> float:
        calls.append(len(data.val))
        return float(sum(p.numel() for p in model.parameters()))

    run = evolve.search(
        "hybrid_neuron",
        "digits",
        objectives=["accuracy", evolve.UserObjective("n_params", n_params)],
        trials=2,
        epochs=1,
        constraint="nir",
        study="user",
        out=tmp_path / "runs",
    )
    done = run.trials[run.trials["state"] == "COMPLETE"]
    assert len(calls) >= len(done) > 0
    assert (done["n_params"] == done["n_params"].astype(int)).all()  # a parameter count
    assert run.config["user_objectives"] == ["-n_params"]
    file = tmp_path / "objs.py"
    file.write_text(
        "def n_params(model, data):\n    return float(sum(p.numel() for p in model.parameters()))\n"
    )
    cli = evolve_cli(
        "search",
        "--space",
        "hybrid_neuron",
        "--trials",
        "2",
        "--epochs",
        "1",
        "--constraint",
        "nir",
        "--objectives",
        "accuracy",
        "--user-objective",
        f"{file}:n_params",
        "--study",
        "userfile",
        "--no-progress",
        "--out",
        str(tmp_path / "runs"),
        cwd=tmp_path,
    )
    assert cli.returncode == 0, cli.stderr
    pd.testing.assert_frame_equal(
        _comparable(run.trials), _comparable(evolve.open_run(tmp_path / "runs" / "userfile").trials)
    )


def test_run_object_reads_an_existing_run(tmp_path: Path) -> None:
    run = evolve.search(
        "hybrid_neuron",
        "digits",
        trials=3,
        epochs=1,
        constraint="nir",
        study="r",
        out=tmp_path / "runs",
    )
    again = evolve.open_run("r", out=tmp_path / "runs")
    assert again.path == run.path and again.hypervolume == run.hypervolume > 0
    assert [t.number for t in again.front] == [t.number for t in run.front]
    best = again.best(pick="energy")
    assert best.values["energy_uj"] == min(t.values["energy_uj"] for t in again.front)
    model = again.model(best.number)
    assert not model.training
    with pytest.raises(evolve.UserError, match="max_energy"):
        again.best(max_energy=1e-12)
    with pytest.raises(evolve.RunError, match="no trial 99"):
        again.trial(99)
    with pytest.raises(evolve.UserError):
        again.model(99)


def test_bad_input_raises_typed_errors_and_records_nothing(tmp_path: Path) -> None:
    with pytest.raises(evolve.SpaceInputError):
        evolve.search("no_such_space", trials=1, out=tmp_path)
    with pytest.raises(evolve.DataError):
        evolve.search("hybrid_neuron", "no_such_data", trials=1, out=tmp_path)
    with pytest.raises(evolve.RunError, match="resume"):
        evolve.search("hybrid_neuron", resume=True, out=tmp_path)
    with pytest.raises(evolve.AgentInputError):
        evolve.search("hybrid_neuron", objectives="speed", trials=1, out=tmp_path)
    assert not any(tmp_path.iterdir())


def test_library_changes_no_process_wide_state(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import logging

    import matplotlib
    import optuna

    backend = matplotlib.get_backend()
    optuna_level = optuna.logging.get_verbosity()
    root_handlers = list(logging.getLogger().handlers)
    run = evolve.search(
        "hybrid_neuron",
        "digits",
        trials=2,
        epochs=1,
        constraint="nir",
        study="quiet",
        out=tmp_path,
    )
    out, err = capfd.readouterr()
    assert out == ""
    # Optuna's own logger announces a new study; the library itself says nothing
    assert [line for line in err.splitlines() if "A new study created" not in line] == []
    assert matplotlib.get_backend() == backend
    assert optuna.logging.get_verbosity() == optuna_level
    assert logging.getLogger().handlers == root_handlers
    assert gc.get_freeze_count() == 0
    assert "trial 0 arch" in (run.path / "log.txt").read_text()  # the run log still has it


def test_callbacks_see_every_trial_and_can_stop(tmp_path: Path) -> None:
    seen: list[evolve.TrialEvent] = []

    def stop_after_two(event: evolve.TrialEvent) -> bool:
        seen.append(event)
        return len(seen) == 2

    run = evolve.search(
        "hybrid_neuron",
        "digits",
        trials=5,
        epochs=1,
        constraint="nir",
        study="cb",
        out=tmp_path,
        callbacks=[stop_after_two],
    )
    assert [e.number for e in seen] == [0, 1]
    assert len(run.trials) == 2
    assert seen[-1].hypervolume == pytest.approx(run.hypervolume)
