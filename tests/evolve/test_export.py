"""`evolve export` and `evolve predict`: formats that reproduce the model, a model card, and a
prediction run that gets the accuracy the card records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import torch
from evolve_cli import evolve, tiny_search

from agents.pareto import knee, pick
from evolve.cli import main
from evolve.data.datasets import load_digits
from evolve.export.import_nir import import_nir
from evolve.export.predict import predict
from evolve.export.trial import ExportResult, export_trial
from evolve.store import checkpoints
from evolve.training.trainer import evaluate

TINY = (
    "name: tiny\n"
    "params:\n"
    "  kind: {type: categorical, choices: [mlp, cnn], default: mlp}\n"
    "  depth: {type: int, low: 1, high: 2, default: 1}\n"
    "  timesteps: {type: int, low: 2, high: 3, default: 2}\n"
    "layers:\n"
    "  repeat: depth\n"
    "  params:\n"
    "    width: {type: int, low: 16, high: 64, step: 16, default: 32, when: {kind: mlp}}\n"
    "    channels: {type: int, low: 4, high: 8, step: 4, default: 4, when: {kind: cnn}}\n"
    "    neuron: {type: categorical, choices: [if, lif, bif], default: lif}\n"
    "    v_reset: {type: float, low: 0.55, high: 0.7, default: 0.6, when: {neuron: bif}}\n"
)


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    tiny_search(folder, TINY, "--trials", "6", "--epochs", "2")
    return folder


def test_knee_is_the_point_farthest_from_the_extremes_line() -> None:
    # (accuracy, energy): the extremes are (0.9, 1.0) and (0.5, 0.1); (0.85, 0.2) bulges most
    front = [(0.9, 1.0), (0.85, 0.2), (0.7, 0.15), (0.5, 0.1)]
    assert knee(front) == 1
    assert knee([(0.9, 1.0), (0.5, 0.1)]) == 0  # two points: none off the line
    pts = [
        {"trial": i, "values": {"accuracy": a, "energy_uj": e}} for i, (a, e) in enumerate(front)
    ]
    assert pick(pts, "accuracy", None) == 0
    assert pick(pts, "energy", None) == 3
    assert pick(pts, "knee", None) == 1
    assert pick(pts, "accuracy", 0.5) == 1  # the budget rules trial 0 out
    with pytest.raises(Exception, match="no front trial at or below"):
        pick(pts, "accuracy", 0.01)


def test_export_reproduces_the_model_in_every_format_and_predict_matches_the_card(
    searched: Path, tmp_path: Path
) -> None:
    run_dir = searched / "runs" / "x"
    out = tmp_path / "exp"
    proc = evolve("export", str(run_dir), "--format", "torchscript,onnx", "--out", str(out),
                  cwd=searched)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    card = json.loads((out / "model_card.json").read_text())
    number = card["trial"]
    front = json.loads((run_dir / "pareto.json").read_text())["front"]
    best = max(front, key=lambda f: (f["values"]["accuracy"], -f["values"]["energy_uj"]))
    assert number == best["trial"]  # --trial best --pick accuracy (the defaults)

    data = load_digits(0)
    model = checkpoints.load(run_dir, number).model
    with torch.no_grad():
        ref = model(data.test.x)
    # model.pt: a plain dict, loadable without executing code
    blob = torch.load(out / "model.pt", map_location="cpu", weights_only=True)
    assert set(blob["state_dict"]) == set(model.state_dict())
    # TorchScript: bit-identical logits on the test split
    ts = torch.jit.load(str(out / "model.torchscript"))
    with torch.no_grad():
        assert torch.equal(ts(data.test.x), ref)
    # ONNX through onnxruntime: within 1e-5, the same predictions
    sess = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: data.test.x.numpy()})[0]
    assert np.abs(got - ref.numpy()).max() <= 1e-5
    assert (got.argmax(1) == ref.numpy().argmax(1)).all()

    metrics = card["metrics"]
    assert metrics["test_accuracy"]["split"] == "test"
    assert metrics["test_accuracy"]["value"] == evaluate(model, data.test)
    assert metrics["test_accuracy"]["value"] == metrics["recorded_test_accuracy"]
    assert card["data"]["preprocessing"]["input_scale"] == pytest.approx(1 / 16)
    assert card["timesteps"] == card["spec"]["timesteps"]
    assert card["energy"]["energy_uj_per_inference"] > 0 and "45nm" in card["energy"]["model"]
    assert {"torch", "python"} <= set(card["versions"])
    assert card["formats"]["torchscript"]["bit_identical_logits"] is True

    # predict on the raw test split (pixel counts 0..16), as a user's CSV with a label column
    raw = (data.test.x.reshape(len(data.test), -1).numpy() * 16).round()
    df = pd.DataFrame(raw, columns=[f"p{i}" for i in range(64)])
    df["label"] = data.test.y.numpy()
    df.to_csv(tmp_path / "test.csv", index=False)
    pred = evolve("predict", "--model", str(out), "--input", str(tmp_path / "test.csv"),
                  "--output", str(tmp_path / "p.csv"), cwd=searched)  # fmt: skip
    assert pred.returncode == 0, pred.stderr
    expected = metrics["test_accuracy"]["value"]
    assert f"accuracy {expected * 100:.2f} %" in pred.stdout
    written = pd.read_csv(tmp_path / "p.csv")
    assert len(written) == len(data.test)
    assert (written["prediction"].to_numpy() == ref.numpy().argmax(1)).all()
    # the same through .npy and .parquet
    np.save(tmp_path / "x.npy", raw.reshape(-1, 1, 8, 8))
    np.save(tmp_path / "y.npy", data.test.y.numpy())
    df.to_parquet(tmp_path / "test.parquet")
    for args in (
        ["--input", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy")],
        ["--input", str(tmp_path / "test.parquet")],
    ):
        assert main(["predict", "--model", str(out), *args]) == 0


def test_export_refusals_write_nothing(
    searched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = searched / "runs" / "x"
    saved = set(checkpoints.saved_trials(run_dir))
    off_front = [n for n in range(6) if n not in saved]
    cases = [
        ([str(run_dir), "--trial", "999"], "has no trial 999"),
        ([str(tmp_path / "missing")], "not a search run folder"),
        ([str(run_dir), "--format", "pdf"], "--format: unknown pdf"),
        ([str(run_dir), "--max-energy", "1e-9"], "no front trial at or below"),
        ([str(run_dir), "--trial", "two"], "--trial must be best or a trial number"),
        ([], "give a run folder"),
    ]
    if off_front:  # a trial the front never held has no weights
        cases.append(([str(run_dir), "--trial", str(off_front[0])], "has no saved weights"))
    for args, message in cases:
        out = tmp_path / "never"
        code = main(["export", *args, "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (args, err)
        assert not out.exists() and not list(tmp_path.glob(".never*")), args
    # an existing output folder is refused, untouched
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    assert main(["export", str(run_dir), "--out", str(tmp_path / "taken")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


def test_export_trial_and_predict_are_library_calls(searched: Path, tmp_path: Path) -> None:
    from evolve.errors import UserError

    run_dir = searched / "runs" / "x"
    result = export_trial(run_dir, pick="energy", formats="torchscript", out=tmp_path / "lib")
    assert isinstance(result, ExportResult) and result.out == (tmp_path / "lib").resolve()
    card = json.loads((result.out / "model_card.json").read_text())
    assert card == json.loads(json.dumps(result.card, default=str))
    front = json.loads((run_dir / "pareto.json").read_text())["front"]
    cheapest = min(front, key=lambda f: (f["values"]["energy_uj"], -f["values"]["accuracy"]))
    assert result.number == card["trial"] == cheapest["trial"] and card["picked_by"] == "energy"
    assert set(result.checks) == {"torchscript"} == set(card["formats"])
    assert result.skipped == {} == card["skipped_formats"]
    assert result.energy == card["energy"]["energy_uj_per_inference"]
    assert card["command"].startswith("evolve.export_trial(")
    assert sorted(p.name for p in result.out.iterdir()) == [
        "model.pt", "model.torchscript", "model_card.json"
    ]  # fmt: skip

    data = load_digits(0)
    raw = (data.test.x.reshape(len(data.test), -1).numpy() * 16).round()
    pred = predict(result.out, raw, data.test.y.numpy())
    assert pred.accuracy == pytest.approx(result.test_accuracy) and pred.output is None
    assert pred.n_correct == (pred.predictions == data.test.y.numpy()).sum()
    assert pred.scores.shape == (len(raw), 10)
    assert (pred.predictions == pred.scores.argmax(1)).all()

    # library errors name the keyword, not a flag
    for call, message in [
        (lambda: export_trial(run_dir, "two"), "trial must be 'best' or a trial number"),
        (lambda: export_trial(run_dir, max_energy=1e-9), "at or below max_energy"),
        (lambda: export_trial(run_dir, formats="pdf"), "formats: unknown pdf"),
        (lambda: predict(result.out, np.zeros((3, 10))), "inputs: each sample has 10 values"),
        (lambda: predict(result.out, raw, data.test.y.numpy()[:5]), "5 labels for"),
    ]:
        with pytest.raises(UserError, match=message):
            call()


def test_predict_refuses_a_corrupt_model_and_bad_input(
    searched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "exp"
    assert main(["export", str(searched / "runs" / "x"), "--format", "torchscript",
                 "--out", str(out)]) == 0  # fmt: skip
    capsys.readouterr()
    np.save(tmp_path / "x.npy", np.zeros((3, 64), dtype=np.float32))
    np.save(tmp_path / "bad.npy", np.zeros((3, 10), dtype=np.float32))
    (tmp_path / "x.txt").write_text("1,2,3")
    for args, message in [
        (["--input", str(tmp_path / "bad.npy")], "each sample has 10 values, the model takes 64"),
        (["--input", str(tmp_path / "x.txt")], "use a .npy, .csv or .parquet file"),
        (["--input", str(tmp_path / "nope.npy")], "no such file"),
    ]:
        assert main(["predict", "--model", str(out), *args]) == 2
        assert message in capsys.readouterr().err
    (out / "model.pt").write_bytes(b"not a checkpoint at all")
    assert main(["predict", "--model", str(out), "--input", str(tmp_path / "x.npy")]) == 2
    assert "not a readable model" in capsys.readouterr().err


def _mlp_space(neurons: str, reset: bool) -> str:
    return (
        "name: mlpnir\n"
        "params:\n"
        "  kind: {type: categorical, choices: [mlp], default: mlp}\n"
        "  depth: {type: int, low: 1, high: 2, default: 1}\n"
        "  timesteps: {type: int, low: 2, high: 3, default: 2}\n"
        "layers:\n"
        "  repeat: depth\n"
        "  params:\n"
        "    width: {type: int, low: 16, high: 64, step: 16, default: 32}\n"
        f"    neuron: {{type: categorical, choices: [{neurons}]}}\n"
        + ("    v_reset: {type: float, low: 0.55, high: 0.7, default: 0.6}\n" if reset else "")
    )


NIR_SPACE = _mlp_space("if, lif", reset=False)
BIF_SPACE = _mlp_space("bif", reset=True)


def test_nir_export_reads_back_with_identical_spikes_and_refuses_bif(tmp_path: Path) -> None:
    import nir

    from snn_models.nir_io import from_nir

    for name, space in (("nirok", NIR_SPACE), ("nirbif", BIF_SPACE)):
        (tmp_path / f"{name}.yaml").write_text(space)
        proc = evolve("search", "--space", f"{name}.yaml", "--trials", "2", "--epochs", "2",
                      "--study", name, "--no-progress", "--no-early-stop", cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    out = tmp_path / "nir-out"
    proc = evolve("export", "runs/nirok", "--format", "all", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "torchvision" not in proc.stderr, proc.stderr
    assert "skipped" not in proc.stdout
    card = json.loads((out / "model_card.json").read_text())
    check = card["formats"]["nir"]
    assert check["identical_spikes_every_layer"] and check["layers_checked"] >= 1
    graph = nir.read(str(out / "model.nir"))
    assert graph.metadata["dt"] == 1.0 and graph.metadata["timesteps"] == card["timesteps"]
    kinds = {type(n).__name__ for n in graph.nodes.values()}
    assert kinds <= {"Input", "Output", "Flatten", "Affine", "Linear", "LIF", "IF"}
    # the importer gives our modules back: the same logits on the test split
    data = load_digits(0)
    model = checkpoints.load(tmp_path / "runs" / "nirok", card["trial"]).model
    with torch.no_grad():
        assert torch.equal(from_nir(graph)(data.test.x), model(data.test.x))

    # evolve import-nir: the graph back into a folder evolve predict runs, same accuracy
    assert main(["import-nir", str(out / "model.nir"), "--out", str(tmp_path / "imp")]) == 0
    raw = (data.test.x.numpy() * 16).round()
    np.save(tmp_path / "x.npy", raw)
    np.save(tmp_path / "y.npy", data.test.y.numpy())
    pred = evolve("predict", "--model", str(tmp_path / "imp"), "--input", str(tmp_path / "x.npy"),
                  "--labels", str(tmp_path / "y.npy"), cwd=tmp_path)  # fmt: skip
    assert pred.returncode == 0, pred.stderr
    assert f"accuracy {card['metrics']['test_accuracy']['value'] * 100:.2f} %" in pred.stdout
    assert main(["import-nir", str(out / "model.nir"), "--out", str(tmp_path / "imp")]) == 2
    imported = import_nir(out / "model.nir", tmp_path / "imp2")
    assert imported.nodes == len(graph.nodes) and (imported.out / "model.pt").is_file()
    assert (
        imported.card["data"]
        == json.loads((tmp_path / "imp" / "model_card.json").read_text())["data"]
    )

    refused = evolve("export", "runs/nirbif", "--format", "nir", "--out", str(tmp_path / "b"),
                     cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "NIR cannot express body.0 (BIFNode)" in refused.stderr
    assert "--constraint nir" in refused.stderr
    assert not (tmp_path / "b").exists() and not list(tmp_path.glob(".b.*"))


def test_constraint_nir_only_ever_proposes_exportable_candidates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evolve.engine.arch import arch_to_specs
    from evolve.engine.setup import CONSTRAINTS
    from search_spaces import RandomSuggester, load_space
    from snn_models import NetSpec, build
    from snn_models.nir_io import to_nir

    space = load_space("hybrid_neuron").restrict(CONSTRAINTS["nir"], "--constraint nir")
    suggester = RandomSuggester(seed=0)
    for _ in range(150):
        arch = space.sample(suggester)
        net, train = arch_to_specs(arch)
        assert train.get("init", "random") == "random"
        model = build(NetSpec.from_dict(net), (1, 8, 8), 10).eval()
        to_nir(model, (1, 8, 8))  # raises NIRUnsupported for anything NIR cannot express
    # the unconstrained space does propose what NIR refuses
    free, other = load_space("hybrid_neuron"), RandomSuggester(seed=0)
    kinds = {free.sample(other)["layer.0.neuron"] for _ in range(60)}
    assert {"bif", "adaptive"} & kinds
    # a space that can only propose what NIR cannot express is refused up front
    code = main(["search", "--space", "hybrid_attention", "--constraint", "nir",
                 "--out", str(tmp_path / "runs")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "kind is fixed to 'transformer'" in err and "--constraint nir" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_constrained_search_exports_to_nir_and_resumes_constrained(tmp_path: Path) -> None:
    args = ["search", "--space", "hybrid_neuron", "--constraint", "nir", "--epochs", "1",
            "--study", "c", "--no-progress"]  # fmt: skip
    assert evolve(*args, "--trials", "2", cwd=tmp_path).returncode == 0
    resumed = evolve(*args[:-3], "--study", "c", "--resume", "--trials", "3", "--no-progress",
                     cwd=tmp_path)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    import optuna

    study = optuna.load_study(study_name="c", storage=f"sqlite:///{tmp_path}/runs/c/study.db")
    assert len(study.trials) == 3
    for t in study.trials:
        arch = t.user_attrs["arch"]
        assert arch["kind"] == "mlp" and arch.get("encoder", "direct") == "direct"
        assert {v for k, v in arch.items() if k.endswith(".neuron")} <= {"if", "lif"}
    out = evolve("export", "runs/c", "--format", "nir", "--out", "nirout", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "nirout" / "model.nir").exists()


@pytest.fixture(scope="module")
def transformer_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-trial, 1-epoch search of hybrid_attention (every candidate is a transformer)."""
    folder = tmp_path_factory.mktemp("transformer")
    proc = evolve("search", "--space", "hybrid_attention", "--trials", "1", "--epochs", "1",
                  "--study", "t", "--no-progress", "--no-early-stop", cwd=folder)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return folder / "runs" / "t"


def test_export_all_skips_what_nir_cannot_express_and_says_why_quietly(
    transformer_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "exp"
    proc = evolve("export", str(transformer_run), "--out", str(out), cwd=tmp_path)  # --format all
    assert proc.returncode == 0, proc.stderr
    # nothing the user cannot act on: no TracerWarning, no "torchvision is not installed"
    assert proc.stderr == "", proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "model.onnx", "model.pt", "model.torchscript", "model_card.json"
    ]  # fmt: skip
    skipped = [line for line in proc.stdout.splitlines() if "skipped" in line]
    assert len(skipped) == 1 and skipped[0].split()[:2] == ["nir", "skipped:"], proc.stdout
    assert "NIR cannot express kind 'transformer'" in skipped[0]
    assert "--constraint nir" in skipped[0]  # the fix, in the command's words
    card = json.loads((out / "model_card.json").read_text())
    assert set(card["formats"]) == {"torchscript", "onnx"}
    assert set(card["skipped_formats"]) == {"nir"}
    assert "transformer" in card["skipped_formats"]["nir"]
    assert card["command"].startswith("evolve export ")

    # the same from Python: formats="all" is the default, the reason is in the result
    result = export_trial(transformer_run, out=tmp_path / "lib")
    assert set(result.checks) == {"torchscript", "onnx"}
    assert set(result.skipped) == {"nir"} and "transformer" in result.skipped["nir"]
    assert result.card["skipped_formats"] == result.skipped
    assert "formats='all'" in result.card["command"]


def test_export_refuses_an_explicit_format_that_cannot_express_the_model_up_front(
    transformer_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evolve.errors import ModelSpecError

    for formats in ("nir", "torchscript,nir"):
        out = tmp_path / "never"
        assert main(["export", str(transformer_run), "--format", formats, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        assert "NIR cannot express kind 'transformer'" in err and "--constraint nir" in err
        assert "--format torchscript" in err  # what does express it
        assert not out.exists() and not list(tmp_path.glob(".never*")), formats
    assert not (transformer_run / "exports").exists()  # nor the default folder
    for asked in (("nir",), ["onnx", "nir"], "nir"):
        with pytest.raises(ModelSpecError, match="NIR cannot express kind 'transformer'"):
            export_trial(transformer_run, formats=asked, out=tmp_path / "never")
        assert not (tmp_path / "never").exists()
