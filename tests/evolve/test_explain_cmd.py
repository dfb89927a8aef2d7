"""`evolve explain`: a real search's front trial explained on one test sample — three non-blank
PNGs and an explain.json that agrees with the model — and bad input as one line (exit 2)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib.image as mpimg
import pytest
import torch
from evolve_cli import tiny_search

from evolve.cli import explain as explain_cmd
from evolve.data.datasets import load_digits
from evolve.errors import UserError
from evolve.report.explain import explain_trial, render
from evolve.store import checkpoints
from snn_models import build

# MLPs only, so that 3 one-epoch trials take seconds; CNN and transformer drawings are checked
# on built models below (and in tests/snn_models/test_explain.py)
TINY = (
    "name: tiny\n"
    "params:\n"
    "  kind: {type: categorical, choices: [mlp], default: mlp}\n"
    "  timesteps: {type: int, low: 2, high: 4, default: 3}\n"
    "layers:\n"
    "  repeat: 1\n"
    "  params:\n"
    "    width: {type: int, low: 16, high: 32, step: 16, default: 16}\n"
    "    neuron: {type: categorical, choices: [if, lif, bif], default: lif}\n"
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("explain")
    return tiny_search(folder, TINY, "--trials", "3", "--epochs", "1")


def explain(*argv: str) -> tuple[int, str]:
    """``evolve explain ARGV`` in process, as the CLI runs it: (exit code, error line)."""
    parser = argparse.ArgumentParser(prog="evolve")
    explain_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["explain", *argv])
    try:
        return explain_cmd.run(args), ""
    except UserError as e:  # evolve.cli.main prints this as one line and exits 2
        return 2, str(e)


def assert_drawn(path: Path) -> None:
    """A readable PNG with real content (not one flat colour)."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert float(img[..., :3].std()) > 0.02, f"{path.name} looks blank"


def test_explain_writes_three_pictures_and_a_json_that_agrees_with_the_model(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = explain(str(run_dir), "--sample", "3", "--neurons", "2")
    assert code == 0, err
    printed = capsys.readouterr().out
    front = json.loads((run_dir / "pareto.json").read_text())["front"]
    best = max(front, key=lambda f: (f["values"]["accuracy"], -f["values"]["energy_uj"]))
    folder = run_dir / "explain" / f"trial_{best['trial']}-sample_3"
    for name in ("sam.png", "membrane.png", "rates.png"):
        assert_drawn(folder / name)
    info = json.loads((folder / "explain.json").read_text())
    assert info["trial"] == best["trial"] and info["split"] == "test" and info["sample"] == 3

    data = load_digits(0)
    model = checkpoints.load(run_dir, info["trial"]).model
    with torch.no_grad():
        pred = int(model(data.test.x[3:4]).argmax())
    assert info["label"] == int(data.test.y[3]) and info["prediction"] == pred
    assert info["correct"] == (pred == info["label"])
    assert set(info["firing_rates"]) == {"body.0"}
    assert 0.0 <= info["firing_rates"]["body.0"] <= 1.0
    assert len(info["step_rates"]["body.0"]) == info["timesteps"]
    assert info["firing_rates"]["body.0"] == pytest.approx(
        sum(info["step_rates"]["body.0"]) / info["timesteps"]
    )
    assert info["sam"]["drawn"] == [{"layer": "body.0", "method": "input-projection"}]
    assert len(info["membrane"]["neurons"]["body.0"]) == 2
    assert info["membrane"]["value"] == "pre-reset"
    assert "body.0 (input-projection)" in printed and str(folder) in printed

    # the default folder is derived data: explaining again regenerates it
    (folder / "stale.txt").write_text("old")
    assert explain(str(run_dir), "--sample", "3")[0] == 0
    assert not (folder / "stale.txt").exists()


def test_the_library_function_returns_the_files_and_refuses_an_existing_out(
    run_dir: Path, tmp_path: Path
) -> None:
    number = checkpoints.saved_trials(run_dir)[0]
    out = tmp_path / "e"
    info = explain_trial(run_dir, number, sample=5, out=out, split="val")
    assert set(info["files"]) == {"sam", "membrane", "rates"}
    for path in info["files"].values():
        assert Path(path).parent == out.resolve()
        assert_drawn(Path(path))
    on_disk = json.loads((out / "explain.json").read_text())
    assert on_disk["firing_rates"] == info["firing_rates"] and on_disk["split"] == "val"
    with pytest.raises(UserError, match="already exists"):
        explain_trial(run_dir, number, out=out)


def test_bad_input_is_one_line(run_dir: Path, tmp_path: Path) -> None:
    saved = checkpoints.saved_trials(run_dir)
    cases = [
        ([str(run_dir), "--trial", "999"], "no trial 999"),
        ([str(run_dir), "--trial", "abc"], "--trial must be best or a trial number"),
        ([str(run_dir), "--sample", "100000"], "the test split of digits has 270 samples"),
        ([str(run_dir), "--sample", "-1"], "--sample -1"),
        ([str(run_dir), "--neurons", "0"], "--neurons must be at least 1"),
        ([str(tmp_path / "nope")], "not a search run folder"),
        (["--study", "nope", "--runs", str(tmp_path)], "not a search run folder"),
        ([], "give a run folder"),
        ([str(run_dir), "--out", str(tmp_path)], "already exists"),
    ]
    for argv, message in cases:
        code, err = explain(*argv)
        assert code == 2 and message in err and "\n" not in err, (argv, err)
    # a trial off the front has no checkpoint: the error names the trials that have one
    ckpt = checkpoints.path_of(run_dir, saved[-1])
    aside = ckpt.with_suffix(".aside")
    ckpt.rename(aside)
    try:
        code, err = explain(str(run_dir), "--trial", str(saved[-1]))
    finally:
        aside.rename(ckpt)
    assert code == 2 and "has no checkpoint" in err and "\n" not in err
    assert f"trials with a checkpoint: {', '.join(map(str, saved[:-1])) or 'none'}" in err


CNN = {"kind": "cnn", "timesteps": 2, "layers": [{"width": 4, "pool": True}]}
VIT = {"kind": "transformer", "timesteps": 2, "dim": 8, "heads": 1, "patch": 4, "layers": [{}]}


@pytest.mark.parametrize(
    ("spec", "method"), [(CNN, "spatial"), (VIT, "tokens")], ids=["cnn", "transformer"]
)
def test_cnn_and_transformer_pictures(spec: dict, method: str, tmp_path: Path) -> None:
    model = build(spec, (1, 8, 8), 10)
    x = load_digits(0).test.x[:1] * 4  # strong enough to make an untrained net fire
    info = render(model, x, (1, 8, 8), tmp_path, neurons=3, label=1)
    assert {d["method"] for d in info["sam"]["drawn"]} == {method}
    for name in info["files"].values():
        assert_drawn(tmp_path / name)
