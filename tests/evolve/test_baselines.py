"""Simple baselines beside the front: computed once per run on the search's own splits, recorded
in baselines.json and shown by `evolve show`, the report and :attr:`evolve.Run.baselines`."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import evolve
from evolve.cli import main
from evolve.data.arrays import from_arrays
from evolve.report.figures import front_plot
from evolve.training.baselines import (
    BASELINES_FILE,
    compute_baselines,
    data_kind,
    default_widths,
    read_baselines,
)

TINY = (
    "name: tiny\n"
    "params:\n"
    "  depth: {type: int, low: 1, high: 2, default: 2}\n"
    "layers:\n"
    "  repeat: depth\n"
    "  params:\n"
    "    width: {type: int, low: 8, high: 24, step: 8, default: 24}\n"
    "    neuron: {type: categorical, choices: [lif]}\n"
    "fixed: {kind: mlp, timesteps: 2}\n"
)


def _wine_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_wine

    d = load_wine()
    return d.data.astype(np.float32), d.target


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-trial holdout search on wine (tabular: logistic regression and a 24-24 MLP)."""
    base = tmp_path_factory.mktemp("baselines")
    (base / "tiny.yaml").write_text(TINY)
    x, y = _wine_arrays()
    np.savez(base / "wine.npz", x=x, y=y)
    run = evolve.search(
        str(base / "tiny.yaml"),
        str(base / "wine.npz"),
        trials=2,
        epochs=1,
        selection="holdout",
        out=base / "runs",
        study="b",
        no_early_stop=True,
    )
    return run.path


def test_the_run_records_its_baselines_on_its_own_splits(run_dir: Path) -> None:
    recorded = json.loads((run_dir / BASELINES_FILE).read_text())
    assert recorded["kind"] == "tabular" and recorded["folds"] == 0
    assert [m["name"] for m in recorded["models"]] == ["logistic_regression", "mlp"]
    assert recorded["models"][1]["label"].startswith("MLP 24-24")  # the space default's widths
    # the same splits as the search: the run's data set, its training split
    data = evolve.open_run(run_dir).data()
    assert recorded["train_samples"] == len(data.train) and not recorded["capped"]
    again = compute_baselines(data, hidden=(24, 24), seed=0)
    for a, b in zip(recorded["models"], again["models"], strict=True):
        assert a["test_accuracy"] == pytest.approx(b["test_accuracy"])
    # logistic regression on standardised wine: 1.000 test accuracy measured (seed 0)
    assert recorded["models"][0]["test_accuracy"] >= 0.9
    assert evolve.open_run(run_dir).baselines == recorded


def test_show_prints_the_baselines_beside_the_front(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "baselines on the same splits (tabular data; fitted on 124 training samples)" in out
    lr = next(line for line in out.splitlines() if line.strip().startswith("logistic regression"))
    recorded = read_baselines(run_dir)
    assert recorded is not None
    assert f"{recorded['models'][0]['test_accuracy']:.4f}" in lr
    top = evolve.open_run(run_dir).front[0]
    best = max(recorded["models"], key=lambda m: m["test_accuracy"])
    gap = 100 * (top.attrs["test_accuracy"] - best["test_accuracy"])
    where = f"{abs(gap):.1f} points {'below' if gap < 0 else 'above'}" if gap else "level with"
    assert (
        f"the front's most accurate point (trial {top.number}) tests "
        f"{top.attrs['test_accuracy']:.4f}: {where} {best['label']}"
    ) in out


def test_the_report_has_a_baselines_table(run_dir: Path) -> None:
    page = Path(evolve.write_report(run_dir, figures=False)).read_text()
    # not a table.trials: the sorting script numbers the columns of those across the page
    assert '<table class="baselines" id="baselines-table">' in page
    assert '<tr data-baseline="logistic_regression">' in page and 'data-baseline="mlp"' in page
    assert '<p id="baseline-verdict">The front&#x27;s most accurate point' in page
    assert "dotted lines on the plot" in page


def test_the_front_plot_draws_a_line_per_baseline() -> None:
    fig = front_plot(
        [(0, 0.8, 1.0), (1, 0.6, 0.5)],
        [(0, 0.8, 1.0), (1, 0.6, 0.5)],
        ("accuracy", "energy_uj"),
        (0.0, 2.0),
        [],
        [("logistic regression", 0.97), ("MLP 24-24", 0.95)],
    )
    ax = fig.axes[0]
    _, labels = ax.get_legend_handles_labels()
    assert "logistic regression 0.970" in labels and "MLP 24-24 0.950" in labels
    flat = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert sorted(float(line.get_ydata()[0]) for line in flat) == [0.95, 0.97]


def test_a_resumed_run_keeps_its_baselines(run_dir: Path) -> None:
    path = run_dir / BASELINES_FILE
    before = path.read_text()
    path.write_text(before.replace('"kind": "tabular"', '"kind": "tabular", "kept": true'))
    evolve.search(study="b", out=run_dir.parent, resume=True, trials=2)
    assert '"kept": true' in path.read_text()  # not computed again
    path.write_text(before)


def test_each_data_kind_gets_its_baselines() -> None:
    digits = compute_baselines(evolve.load_dataset("digits"))
    assert digits["kind"] == "image"
    assert [m["name"] for m in digits["models"]] == ["logistic_regression"]
    assert digits["models"][0]["test_accuracy"] > 0.9  # 0.974 measured
    series = compute_baselines(evolve.load_dataset("gunpoint"))
    assert series["kind"] == "series"
    one_nn, ridge = series["models"]
    assert (one_nn["name"], ridge["name"]) == ("1nn_euclidean", "ridge")
    assert one_nn["test_accuracy"] > 0.85  # 0.913 measured (the UCR archive's 1-NN ED: 0.913)
    x, y = _wine_arrays()
    wine = compute_baselines(from_arrays(x, y, name="wine"), hidden=(16,), folds=5)
    assert wine["kind"] == "tabular" and wine["folds"] == 5
    for m in wine["models"]:
        assert len(m["cv_fold_accuracies"]) == 5
        assert m["cv_accuracy_mean"] == pytest.approx(np.mean(m["cv_fold_accuracies"]), abs=1e-5)
    assert wine["models"][1]["label"].startswith("MLP 16 ")


def test_the_fit_is_capped_on_large_training_splits() -> None:
    capped = compute_baselines(evolve.load_dataset("digits"), max_train=300)
    assert capped["train_samples"] == 300 and capped["capped"] is True
    assert capped["models"][0]["test_accuracy"] > 0.8


def test_the_kind_comes_from_the_data_or_its_shape() -> None:
    assert data_kind(SimpleNamespace(input_shape=(13,))) == "tabular"  # type: ignore[arg-type]
    assert data_kind(SimpleNamespace(input_shape=(1, 150))) == "series"  # type: ignore[arg-type]
    assert data_kind(SimpleNamespace(input_shape=(1, 8, 8))) == "image"  # type: ignore[arg-type]
    declared = SimpleNamespace(kind="series", input_shape=(13,))
    assert data_kind(declared) == "series"  # type: ignore[arg-type]
    assert default_widths({"layer.1.width": 32, "layer.0.width": 64, "lr": 0.1}) == (64, 32)
    assert default_widths({"layer.0.channels": 8}) == ()


def test_the_library_function() -> None:
    x, y = _wine_arrays()
    b = evolve.baselines((x, y), space="hybrid_neuron", selection="holdout")
    assert b["folds"] == 0 and b["models"][1]["label"].startswith("MLP 128-128")
    with pytest.raises(evolve.UserError, match="folds must be an integer >= 2"):
        evolve.baselines((x, y), folds=1)
