"""`evolve explain`: a real search's front trial explained on one test sample — three non-blank
PNGs and an explain.json that agrees with the model — and bad input as one line (exit 2)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
from evolve_cli import tiny_search
from matplotlib.figure import Figure
from matplotlib.text import Text

from evolve.cli import explain as explain_cmd
from evolve.data.datasets import load_digits
from evolve.errors import UserError
from evolve.report import figures_explain
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


def smallest_text_px(fig: Figure, dpi: float) -> float:
    """The smallest visible text of ``fig`` (tick labels, legends, colour bars included) in
    pixels at ``dpi``: its size in pt × dpi / 72."""
    fig.canvas.draw()
    sizes = [
        t.get_fontsize()
        for t in fig.findobj(Text)
        if isinstance(t, Text) and t.get_visible() and t.get_text().strip()
    ]
    assert sizes, "a figure without text"
    return min(float(s) for s in sizes) * dpi / 72


TEMPORAL = {"kind": "temporal", "patch": 4, "timesteps": 2, "layers": [{"width": 8}] * 2}
FIGURE_CASES = {
    "mlp": ({"kind": "mlp", "timesteps": 3, "layers": [{"width": 16}] * 2}, (1, 8, 8)),
    "cnn": ({"kind": "cnn", "timesteps": 3, "layers": [{"width": 4, "pool": True}] * 2}, (1, 8, 8)),
    "transformer": (VIT, (1, 8, 8)),
    "temporal": (TEMPORAL, (1, 40)),
}


@pytest.mark.parametrize("case", list(FIGURE_CASES))
def test_the_figures_are_readable_at_one_to_one(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every text ≥ 9 px at the saved dpi; no figure wider than the report's column; the maps on
    one perceptually uniform scale over the grey input; units on the membrane axes and legends
    off the plot; one small panel per layer for the rates per step."""
    spec, shape = FIGURE_CASES[case]
    drawn: dict[str, Figure] = {}
    keep = figures_explain.save

    def save(fig: Figure, path: Path) -> None:
        drawn[path.name] = fig
        keep(fig, path)

    monkeypatch.setattr(figures_explain, "save", save)
    torch.manual_seed(0)
    model = build(spec, shape, 10)
    if case == "temporal":
        x = (torch.sin(torch.linspace(0, 12, shape[-1])) * 3).reshape(1, *shape)
    else:
        x = load_digits(0).test.x[:1] * 4
    info = render(model, x, shape, tmp_path, neurons=3, label=1)
    assert set(drawn) == set(info["files"].values()) == {"sam.png", "membrane.png", "rates.png"}
    for name, fig in drawn.items():
        px = smallest_text_px(fig, figures_explain.DPI)
        assert px >= figures_explain.MIN_PX >= 9, (name, px)
        assert fig.get_figwidth() <= figures_explain.WIDTH + 1e-9, name
        assert_drawn(tmp_path / name)

    sam = drawn["sam.png"]
    assert "one colour scale" in sam.get_suptitle()
    bars = [ax for ax in sam.axes if getattr(ax, "_colorbar", None) is not None]
    assert len(bars) == 1 and bars[0]._colorbar.cmap.name == figures_explain.SAM_CMAP
    overlays = [im for ax in sam.axes if ax not in bars for im in ax.get_images()]
    heats = [im for im in overlays if im.get_cmap().name == figures_explain.SAM_CMAP]
    assert heats and all(im.get_clim() == (0.0, 1.0) for im in heats)
    peaks = [float(np.asarray(im.get_array()).max()) for im in heats]
    assert max(peaks) == pytest.approx(1.0)  # one scale: only the figure's maximum reaches 1
    if case != "temporal":
        tiles = [ax for ax in sam.axes if ax.get_title().startswith("t = ")]
        for ax in tiles:  # every step's map lies over the input in grey
            images = ax.get_images()
            assert images[0].get_cmap().name == "gray", ax.get_title()
        assert len(heats) == sum(len(ax.get_images()) - 1 for ax in sam.axes if ax not in bars)
        assert min(peaks) < 1.0 - 1e-6  # not normalised per step
    if case == "transformer":  # the token grid (2x2 patches of 4x4) is drawn on every tile
        tiles = [ax for ax in sam.axes if ax.get_title().startswith("t = ")]
        assert tiles and all(len(ax.get_lines()) == 2 for ax in tiles)

    membrane = drawn["membrane.png"]
    panels = [ax for ax in membrane.axes if ax.get_visible() and ax.axison]
    assert len(panels) == len(info["firing_rates"])
    renderer = membrane.canvas.get_renderer()
    for ax in panels:
        assert "(a.u.)" in ax.get_ylabel() and "step" in ax.get_xlabel()
        legend = ax.get_legend()
        assert legend is not None
        assert legend.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1
        assert any(t.get_text().startswith("θ = ") for t in legend.get_texts())

    rates = drawn["rates.png"]
    small = [ax for sub in rates.subfigs for ax in sub.axes if ax.axison]
    assert len(small) == 1 + len(info["firing_rates"])  # the bars + one panel per layer
    assert all(len(ax.get_lines()) == 1 for ax in small[1:])
    assert "spikes per neuron per step" in small[0].get_xlabel()
