"""Data kinds (image, tabular, series) recognised from real files written here, the search space
restricted to the network kinds that fit them before any trial, `evolve spaces --dataset`, and
class names and feature columns kept from the file to `evolve predict`."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import torch
import yaml

from evolve.api.spaces import fit_space_to_data
from evolve.cli import main
from evolve.data.arrays import from_arrays
from evolve.data.datasets import load_dataset
from evolve.data.kinds import DATA_KINDS, NETWORK_INPUT, fit_space, model_kinds_for
from evolve.errors import DataError
from search_spaces import RandomSuggester, load_space
from snn_models.kinds import INPUT_KINDS, KINDS
from tests.evolve.evolve_cli import evolve

ROOT = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------- recognition
@pytest.mark.parametrize(
    ("shape", "declared", "kind", "input_shape"),
    [
        ((13,), None, "tabular", (13,)),
        ((), None, "tabular", (1,)),
        ((1, 8, 8), None, "image", (1, 8, 8)),
        ((8, 8), None, "image", (1, 8, 8)),  # [N, H, W]: one channel
        ((100, 3), None, "series", (3, 100)),  # [N, T, C] -> (C, T)
        ((3, 100), None, "series", (3, 100)),  # [N, C, T] as aeon has it
        ((13,), "series", "series", (1, 13)),
        ((8, 8), "series", "series", (8, 8)),
        ((1, 8, 8), "tabular", "tabular", (64,)),
        ((8, 8), "image", "image", (1, 8, 8)),
    ],
)
def test_arrays_are_recognised_or_declared(
    tmp_path: Path,
    shape: tuple[int, ...],
    declared: str | None,
    kind: str,
    input_shape: tuple[int, ...],
) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((40, *shape)).astype(np.float32)
    y = np.arange(40) % 2
    np.savez(tmp_path / "d.npz", x=x, y=y)
    for d in (
        load_dataset(str(tmp_path / "d.npz"), kind=declared),
        from_arrays(x, y, kind=declared),
    ):
        assert (d.kind, d.input_shape) == (kind, input_shape)
        assert d.train.x.shape[1:] == input_shape


def test_a_series_keeps_its_values_when_transposed() -> None:
    x = np.arange(40 * 100 * 3, dtype=np.float32).reshape(40, 100, 3)  # [N, T, C]
    d = from_arrays(x, np.arange(40) % 2, val=(x[:4], [0, 1] * 2), test=(x[:4], [0, 1] * 2))
    assert d.kind == "series" and torch.equal(d.train.x[0], torch.from_numpy(x[0].T))


@pytest.mark.parametrize(
    ("shape", "declared", "message"),
    [
        ((2, 2, 2, 2), None, "none of the data kinds"),
        ((1, 8, 8), "series", "not a series"),
        ((13,), "image", "not images"),
        ((13,), "audio", "data_kind must be one of image, tabular, series"),
    ],
)
def test_arrays_that_fit_no_kind_are_refused(
    shape: tuple[int, ...], declared: str | None, message: str
) -> None:
    x = np.zeros((8, *shape), dtype=np.float32)
    with pytest.raises(DataError, match=message):
        from_arrays(x, [0, 1] * 4, kind=declared)


def _table(columns: list[str], n: int = 24, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(n, len(columns))), columns=columns)
    df.insert(0, "label", ["a", "b"] * (n // 2))
    return df


@pytest.mark.parametrize(
    ("columns", "declared", "kind", "input_shape"),
    [
        (["alcohol", "ash", "hue"], None, "tabular", (3,)),
        (["t0", "t1", "t2", "t3"], None, "series", (1, 4)),
        (["0", "1", "2", "3", "4"], None, "series", (1, 5)),
        (["att1", "att2", "att3"], None, "series", (1, 3)),
        (["f0", "f2", "f4"], None, "tabular", (3,)),  # not counting up by one
        (["alcohol", "ash", "hue"], "series", "series", (1, 3)),
        (["t0", "t1", "t2", "t3"], "tabular", "tabular", (4,)),
    ],
)
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_tables_are_tabular_unless_their_columns_are_time_points(
    tmp_path: Path,
    columns: list[str],
    declared: str | None,
    kind: str,
    input_shape: tuple[int, ...],
    suffix: str,
) -> None:
    df = _table(columns)
    path = tmp_path / f"t{suffix}"
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path)
    d = load_dataset(str(path), kind=declared)
    assert (d.kind, d.input_shape, d.classes) == (kind, input_shape, ("a", "b"))
    assert d.features == (tuple(columns) if kind == "tabular" else ())


def test_named_sets_have_their_kind_and_refuse_another() -> None:
    assert load_dataset("digits").kind == "image"
    with pytest.raises(DataError, match="'digits' is image data, not series"):
        load_dataset("digits", kind="series")


# ----------------------------------------------------------------------------- the space
def test_every_data_kind_has_network_kinds_that_take_it() -> None:
    """The registry contract: each data kind is one of the inputs network kinds declare
    (snn_models.kinds.Kind.inputs), and at least one network kind takes it."""
    assert set(NETWORK_INPUT) == set(DATA_KINDS)
    for data_kind, net_input in NETWORK_INPUT.items():
        assert net_input in INPUT_KINDS
        assert model_kinds_for(data_kind), data_kind
    assert model_kinds_for("tabular") == ("mlp",)
    assert set(model_kinds_for("image")) == {"mlp", "cnn", "transformer"}
    assert set(model_kinds_for("series")) == {"mlp", "temporal"}
    for name in model_kinds_for("series"):
        assert "series" in KINDS[name].inputs


def test_the_space_keeps_only_kinds_that_fit_before_any_trial() -> None:
    space = load_space("hybrid_neuron")
    assert set(space.dimensions["kind"].choices) == {"mlp", "cnn"}  # type: ignore[attr-defined]
    tabular = fit_space(space, "tabular")
    assert tabular.dimensions["kind"].choices == ("mlp",)  # type: ignore[attr-defined]
    assert "layer.*.channels" in space.dimensions  # the CNNs' option goes with them
    assert "layer.*.channels" not in tabular.dimensions and "layer.*.width" in tabular.dimensions
    assert fit_space(space, "image").dimensions.keys() == space.dimensions.keys()
    # every sample of the restricted space is an MLP
    assert {tabular.sample(RandomSuggester(seed=s))["kind"] for s in range(30)} == {"mlp"}
    assert {space.sample(RandomSuggester(seed=s))["kind"] for s in range(30)} == {"mlp", "cnn"}
    temporal = fit_space(load_space("temporal"), "series")
    assert temporal.fixed["kind"] == "temporal"
    with pytest.raises(DataError, match=r"does not fit data set 'x' \(tabular data of shape"):
        fit_space(load_space("hybrid_attention"), "tabular", dataset="x", shape=(4,))
    with pytest.raises(DataError, match="its network kinds \\(temporal\\) take no image data"):
        fit_space(load_space("temporal"), "image")


def test_spaces_shows_what_remains_for_a_data_set(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _table(["height", "mass"]).to_csv(path, index=False)
    fit = fit_space_to_data("hybrid_neuron", str(path))
    assert (fit.data_kind, fit.kinds, fit.removed) == ("tabular", ("mlp",), ("cnn",))
    proc = evolve("spaces", "hybrid_neuron", "--dataset", str(path), cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first == "for data set 't': tabular data of shape (2,); network kinds mlp (removed: cnn)"
    assert "channels" not in proc.stdout and "layer.{i}.width" in proc.stdout
    series = evolve(
        "spaces", "hybrid_neuron", "--dataset", str(path), "--data-kind", "series", cwd=tmp_path
    )
    assert series.returncode == 0 and "series data of shape (1, 2)" in series.stdout


# ----------------------------------------------------------------------------- end to end
def _separable(n_per_class: int, names: list[object], n_features: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for k, name in enumerate(names):
        centre = np.zeros(n_features)
        centre[k % n_features] = 3.0
        rows.append(rng.normal(centre, 0.5, size=(n_per_class, n_features)))
        labels += [name] * n_per_class
    return pd.DataFrame(np.vstack(rows), columns=None).assign(label=labels)


def _run_model(export: Path, x: np.ndarray) -> np.ndarray:
    from evolve.store import checkpoints

    model = checkpoints.read(export / "model.pt").model
    with torch.no_grad():
        return model(torch.from_numpy(x.astype(np.float32))).argmax(1).numpy()


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``evolve ARGV`` in this process (as tests/test_bad_input.py runs it): code, out, err."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_tabular_search_export_predict_with_class_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CSV of named features with text labels: hybrid_neuron proposes only MLPs (no trial
    fails for a kind mismatch), the run and the card record kind, classes and columns, and
    predict prints names, scores the file's labels by name and refuses other columns or
    classes in one line."""
    df = _separable(16, ["cat", "dog", "eel"], 4, seed=0)
    df.columns = ["height", "mass", "speed", "age", "label"]
    df.to_csv(tmp_path / "pets.csv", index=False)
    assert (tmp_path / "pets.csv").read_text().splitlines()[1].endswith(",cat")
    proc = evolve(
        "search", "--space", "hybrid_neuron", "--dataset", "pets.csv", "--trials", "5",
        "--epochs", "1", "--study", "pets", "--no-progress", "--no-early-stop", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "runs" / "pets"
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["data_kind"] == "tabular" and cfg["class_names"] == ["cat", "dog", "eel"]
    assert cfg["feature_names"] == ["height", "mass", "speed", "age"]
    study = optuna.load_study(study_name="pets", storage=f"sqlite:///{run / 'study.db'}")
    states = [t.state for t in study.trials]
    assert len(states) == 5 and optuna.trial.TrialState.FAIL not in states
    assert {t.params["kind"] for t in study.trials} == {"mlp"}

    out = tmp_path / "model"
    code, _, err = _cli(capsys, "export", str(run), "--format", "torchscript", "--out", str(out))
    assert code == 0, err
    card = json.loads((out / "model_card.json").read_text())["data"]
    assert card["data_kind"] == "tabular" and card["class_names"] == ["cat", "dog", "eel"]
    assert card["feature_names"] == ["height", "mass", "speed", "age"]

    code, stdout, err = _cli(capsys, "predict", "--model", str(out), "--input", "pets.csv")
    assert code == 0, err
    lines = stdout.splitlines()
    assert lines[0] == "index,prediction" and len(lines) == 2 + len(df)
    names = [line.split(",")[1] for line in lines[1:-1]]
    expected = _run_model(out, df.drop(columns="label").to_numpy())
    assert names == [("cat", "dog", "eel")[i] for i in expected]
    right = int((np.array(names) == df["label"].to_numpy()).sum())
    assert lines[-1] == f"accuracy {right / len(df) * 100:.2f} % ({right}/{len(df)})"
    code, _, err = _cli(
        capsys, "predict", "--model", str(out), "--input", "pets.csv", "--out", "p.csv"
    )
    assert code == 0, err
    table = pd.read_csv(tmp_path / "p.csv")
    assert list(table.columns) == ["index", "prediction", "score_cat", "score_dog", "score_eel"]
    assert table["prediction"].tolist() == names

    # columns in another order, a class the model never saw: one line, exit 2
    df[["mass", "height", "speed", "age", "label"]].to_csv(tmp_path / "swapped.csv", index=False)
    df.assign(label=["cat"] * (len(df) - 1) + ["owl"]).to_csv(tmp_path / "owl.csv", index=False)
    df.drop(columns="age").to_csv(tmp_path / "short.csv", index=False)
    for name, message in [
        ("swapped.csv", "has 'mass' as feature column 1, where the model reads 'height'"),
        ("owl.csv", "unknown class 'owl'; the model knows 'cat', 'dog', 'eel'"),
        ("short.csv", "lacks 'age'"),
    ]:
        code, _, err = _cli(capsys, "predict", "--model", str(out), "--input", name)
        assert code == 2, (name, err)
        assert message in err and len(err.strip().splitlines()) == 1, err
        assert err.startswith("evolve: error: --input "), err


def test_ucr_labels_1_2_give_the_right_accuracy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A UCR-style table (t0.. columns, the archive's labels 1/2) is a series; predict on the
    same file scores class "1" as index 0 (it reported 8 % when it read labels as indices)."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 24)
    rows = [
        np.sin(2 * np.pi * (1 + 3 * (k % 2)) * t + rng.uniform(0, 1)) for k in range(40)
    ]  # label 1: slow waves, label 2: fast waves
    df = pd.DataFrame(rows, columns=[f"t{i}" for i in range(24)])
    df.insert(0, "label", [1 + (k % 2) for k in range(40)])
    df.to_csv(tmp_path / "waves.csv", index=False)
    (tmp_path / "tiny.yaml").write_text(
        "name: tinyseries\n"
        "params:\n"
        "  kind: {type: categorical, choices: [mlp, cnn]}\n"
        "  depth: {type: int, low: 1, high: 1}\n"
        "layers:\n"
        "  repeat: depth\n"
        "  params:\n"
        "    width: {type: int, low: 16, high: 32, step: 16, when: {kind: mlp}}\n"
        "    channels: {type: int, low: 4, high: 8, step: 4, when: {kind: cnn}}\n"
        "fixed: {timesteps: 2}\n"
    )
    proc = evolve(
        "search", "--space", "tiny.yaml", "--dataset", "waves.csv", "--trials", "3",
        "--epochs", "8", "--study", "w", "--no-progress", "--no-early-stop", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "runs" / "w"
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert (cfg["data_kind"], cfg["class_names"]) == ("series", ["1", "2"])
    assert cfg.get("feature_names") is None  # time points, not feature columns
    code, _, err = _cli(capsys, "export", str(run), "--format", "torchscript", "--out", "m")
    assert code == 0, err
    code, stdout, err = _cli(capsys, "predict", "--model", "m", "--input", "waves.csv")
    assert code == 0, err
    x = df.drop(columns="label").to_numpy()[:, None, :]
    truth = df["label"].to_numpy() - 1
    right = int((_run_model(tmp_path / "m", x) == truth).sum())
    assert stdout.splitlines()[-1] == f"accuracy {right / 40 * 100:.2f} % ({right}/40)"
    assert right > 20  # above chance: the classes are told apart, and scored by their names
    names = {line.split(",")[1] for line in stdout.splitlines()[1:-1]}
    assert names <= {"1", "2"}


def test_docs_data_commands_run_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command of docs/data.md's bash block, as written (``evolve`` in this process, with
    a smaller search budget appended: later flags win)."""
    text = (ROOT / "docs" / "data.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, flags=re.S)
    assert block is not None
    monkeypatch.chdir(tmp_path)
    for line in block.group(1).strip().splitlines():
        argv = shlex.split(line)
        if argv[0] == ".venv/bin/python":
            proc = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True)
            assert proc.returncode == 0, (line, proc.stderr)
            continue
        assert argv[0] == ".venv/bin/evolve", line
        budget = ["--trials", "2", "--epochs", "1"] if argv[1] == "search" else []
        code, out, err = _cli(capsys, *argv[1:], *budget)
        assert code == 0, (line, err)
        if argv[1] == "spaces":
            assert out.startswith(
                "for data set 'iris': tabular data of shape (4,); network kinds mlp (removed: cnn)"
            )
        if argv[1] == "predict":
            lines = out.splitlines()
            assert lines[1].split(",")[1] in {"setosa", "versicolor", "virginica"}
            assert len(lines) == 152 and lines[-1].startswith("accuracy ")


@pytest.mark.parametrize(("declared", "input_shape"), [(None, [1, 6]), ("tabular", [6])])
def test_train_takes_a_declared_data_kind_and_export_reads_the_data_the_same_way(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    declared: str | None,
    input_shape: list[int],
) -> None:
    """Columns t0..t5 read as a series unless ``--data-kind tabular`` says otherwise; the kind is
    recorded (config and card), so exporting the folder (which reloads the data to check the model) reads it the
    same way."""
    df = _separable(12, ["a", "b"], 6, seed=1)
    df.columns = [*(f"t{i}" for i in range(6)), "label"]
    df.to_csv(tmp_path / "t.csv", index=False)
    kind = ["--data-kind", declared] if declared else []
    args = ["train", "--dataset", str(tmp_path / "t.csv"), *kind, "--epochs", "1"]
    code, _, err = _cli(capsys, *args, "--out", str(tmp_path / "runs"), "--no-progress")
    assert code == 0, err
    (folder,) = (tmp_path / "runs").iterdir()
    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    assert cfg.get("data_kind") == declared
    card = json.loads((folder / "model_card.json").read_text())
    assert card["data"]["data_kind"] == (declared or "series")
    assert card["data"]["input_shape"] == input_shape
    dest = tmp_path / "exported"
    code, _, err = _cli(
        capsys, "export", str(folder), "--format", "torchscript", "--out", str(dest)
    )
    assert code == 0, err
    assert (dest / "model_card.json").exists()
