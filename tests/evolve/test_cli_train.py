"""`evolve train` end to end, through the real console entry point in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from evolve_cli import evolve

from evolve.data.datasets import load_dataset
from evolve.errors import UserError
from evolve.store import checkpoints
from evolve.training.single import load_arch, train


def test_train_spiking_mlp_on_digits_reaches_95_percent(tmp_path: Path) -> None:
    proc = evolve(
        "train", "--data", "digits", "--arch", "mlp", "--no-progress", "--out", "runs", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout and "energy / inference" in proc.stdout
    (run_dir,) = (tmp_path / "runs").iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    assert result["test_accuracy"] >= 0.95
    assert 0 < result["energy_uj_per_inference"] < result["ann_energy_uj_per_inference"]
    assert set(result["firing_rates"]) == {"body.0", "body.2"}
    assert all(0 < r < 1 for r in result["firing_rates"].values())
    assert "epoch 0" in (run_dir / "log.txt").read_text()
    assert (run_dir / "config.yaml").exists() and (run_dir / "model.pt").exists()
    # model.pt is a checkpoint of the search's format: `evolve predict --model RUN` runs it
    ckpt = checkpoints.read(run_dir / "model.pt")
    assert ckpt.dataset == "digits" and ckpt.n_classes == 10 and ckpt.input_shape == (1, 8, 8)
    test = load_dataset("digits").test
    np.save(tmp_path / "x.npy", (test.x * 16).numpy())  # raw values: the card's input_scale is 1/16
    np.save(tmp_path / "y.npy", test.y.numpy())
    pred = evolve(
        "predict", "--model", str(run_dir), "--input", "x.npy", "--labels", "y.npy", cwd=tmp_path
    )
    assert pred.returncode == 0, pred.stderr
    assert f"accuracy {100 * result['test_accuracy']:.2f} %" in pred.stdout
    # ... and `evolve export RUN` exports it (the card names its data set, so checks run)
    exp = evolve("export", str(run_dir), "--out", "exported", cwd=tmp_path)
    assert exp.returncode == 0, exp.stderr
    assert exp.stderr == ""
    card = json.loads((tmp_path / "exported" / "model_card.json").read_text())
    assert card["made_by"] == "evolve train" and card["trial"] is None
    assert set(card["formats"]) == {"torchscript", "onnx", "nir"}
    assert card["metrics"]["test_accuracy"]["value"] == pytest.approx(result["test_accuracy"])
    assert card["energy"]["energy_uj_per_inference"] == result["energy_uj_per_inference"]
    again = evolve(
        "predict", "--model", "exported", "--input", "x.npy", "--labels", "y.npy", cwd=tmp_path
    )
    assert again.returncode == 0 and again.stdout == pred.stdout
    # a model folder holds one model: a trial number is refused in one line
    bad = evolve("export", str(run_dir), "--trial", "3", cwd=tmp_path)
    assert bad.returncode == 2 and "holds one trained model" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_train_cnn_with_bif_layer_from_yaml(tmp_path: Path) -> None:
    (tmp_path / "net.yaml").write_text(
        "kind: cnn\ntimesteps: 3\nlayers:\n  - {width: 8, neuron: lif}\n  - {width: 8, neuron: bif, threshold: 0.9}\n"
        "train: {epochs: 2, batch_size: 32}\n"
    )
    proc = evolve("train", "--arch", "net.yaml", "--no-progress", "--out", "runs", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "(BIF)" in proc.stdout
    (run_dir,) = (tmp_path / "runs").iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    assert len(result["history"]) == 2
    assert result["test_accuracy"] > 0.6  # two epochs: far above chance (0.1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--neuron", "alif"], "unknown neuron type 'alif'"),
        (["--timesteps", "0"], "timesteps: must be a positive integer"),
        (["--timesteps", "-2"], "timesteps: must be a positive integer"),
        (["--neuron", "lif,bif,if"], "--neuron: got 3 values for 2 layers"),
        (
            ["--data", "fashion_mnist", "--data-dir", "empty"],
            "apt-get install dataset-fashion-mnist",
        ),
        (["--arch", "missing.yaml"], "missing.yaml not found"),
        (["--arch", "bad.yaml"], "bad.yaml:3: invalid YAML"),
        (["--arch", "transformer"], "unknown preset 'transformer'"),
        (["--epochs", "0"], "--epochs must be >= 1"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.yaml").write_text("kind: mlp\nlayers: [ {width: 4\n")
    proc = evolve("train", *args, "--no-progress", "--out", "runs", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_train_api_returns_the_measured_run(tmp_path: Path) -> None:
    arch = {"kind": "mlp", "timesteps": 2, "layers": [{"width": 16}], "train": {"epochs": 1}}
    run = train(arch, "digits", neuron="bif", seed=1, out=tmp_path)
    assert run.run_dir.parent == tmp_path and run.dataset == "digits"
    assert run.spec["layers"][0]["neuron"] == "bif" and run.neuron_kinds == {"body.0": "BIF"}
    assert 0 < run.test_accuracy <= 1 and 0 < run.energy_uj < run.ann_energy_uj
    assert run.summary["history"] and len(run.summary["history"]) == 1
    card = json.loads((run.run_dir / "model_card.json").read_text())
    assert card["data"]["input_shape"] == [1, 8, 8] and card["data"]["preprocessing"]["input_scale"]
    config = (run.run_dir / "config.yaml").read_text()
    assert "seed: 1" in config and "epochs: 1" in config


def test_train_api_bad_input_speaks_keywords(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="neuron: got 3 values for 2 layers"):
        train("mlp", neuron=["lif", "bif", "if"], out=tmp_path)
    with pytest.raises(UserError, match="arch: unknown preset 'resnet'"):
        train("resnet", out=tmp_path)
    with pytest.raises(UserError, match=r"train\.colour: unknown key"):
        load_arch({"kind": "mlp", "layers": [{"width": 4}], "train": {"colour": 1}})
    assert not any(tmp_path.iterdir())


def test_wrong_flag_exits_2(tmp_path: Path) -> None:
    proc = evolve("train", "--neurons", "lif", cwd=tmp_path)
    assert proc.returncode == 2 and "unrecognized arguments: --neurons" in proc.stderr


def test_help_explains_the_command(tmp_path: Path) -> None:
    proc = evolve("train", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    assert "energy per inference" in proc.stdout and "--neuron" in proc.stdout
