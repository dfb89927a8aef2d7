"""Every exporter in EXPORTERS keeps the same contract: given a model rebuilt from a checkpoint,
the samples to check on, a path and the data set's info, it writes that one file and returns a
JSON-serialisable check naming the file and the samples it checked (the model card's
``formats.<name>``); its ``supports`` (optional) says in one line why it cannot express a
model, or None, cheaply and without writing anything. A new format is one function and one
registry line; this test covers it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from evolve.export.exporters import EXPORTERS, FORMATS, Exporter, parse_formats
from evolve.store import checkpoints
from evolve.store.checkpoints import Checkpoint
from snn_models import NetSpec, build

INPUT_SHAPE = (1, 4, 4)
N_CLASSES = 3
#: A tiny network every format can express (NIR: an MLP of IF/LIF with hard reset).
SPEC = {
    "kind": "mlp",
    "timesteps": 2,
    "layers": [{"width": 8, "neuron": "lif"}, {"width": 8, "neuron": "if"}],
}
INFO = {"dataset": "tiny", "input_scale": 0.5, "n_classes": N_CLASSES}
#: A tiny transformer: what NIR cannot express (attention has no NIR node).
TRANSFORMER = {
    "kind": "transformer",
    "dim": 8,
    "heads": 2,
    "patch": 2,
    "timesteps": 1,
    "layers": [{"attention": "sdsa", "neuron": "lif"}],
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Checkpoint:
    """The network written as a search checkpoint and read back, as an export reads it."""
    torch.manual_seed(0)
    model = build(NetSpec.from_dict(SPEC), INPUT_SHAPE, N_CLASSES)
    path = tmp_path_factory.mktemp("ckpt") / "trial_0.pt"
    checkpoints.write(path, model, model.spec.to_dict(), INPUT_SHAPE, N_CLASSES, "tiny", trial=0)
    return checkpoints.read(path, what="checkpoint")


@pytest.fixture(scope="module")
def samples() -> torch.Tensor:
    return torch.rand(6, *INPUT_SHAPE, generator=torch.Generator().manual_seed(1)) * 2


def test_the_registry_names_each_format_once_with_its_own_file() -> None:
    assert tuple(EXPORTERS) == FORMATS
    assert all(isinstance(e, Exporter) and callable(e.fn) for e in EXPORTERS.values())
    files = [e.file for e in EXPORTERS.values()]
    assert len(set(files)) == len(files)
    assert not {"model.pt", "model_card.json"} & set(files)  # an export folder's other files
    assert parse_formats("all") == list(FORMATS) == parse_formats(list(FORMATS))
    with pytest.raises(Exception, match="formats: unknown pdf"):
        parse_formats("pdf")


@pytest.mark.parametrize("name", FORMATS)
def test_exporter_writes_its_file_and_returns_its_check(
    name: str, checkpoint: Checkpoint, samples: torch.Tensor, tmp_path: Path
) -> None:
    exporter = EXPORTERS[name]
    path = tmp_path / exporter.file
    before = {k: v.clone() for k, v in checkpoint.model.state_dict().items()}
    check = exporter.fn(checkpoint.model, samples, path, INFO)
    assert path.is_file() and path.stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir()] == [exporter.file]  # that file, nothing else
    assert isinstance(check, dict)
    assert check["file"] == exporter.file
    assert check["checked_samples"] == len(samples)
    json.dumps(check)  # goes into model_card.json as it is
    assert isinstance(exporter.describe(check), str) and exporter.describe(check)
    after = checkpoint.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the model is not changed


@pytest.mark.parametrize("name", FORMATS)
def test_exporter_says_what_it_cannot_express_before_writing_anything(
    name: str, checkpoint: Checkpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = EXPORTERS[name]
    assert exporter.supports is None or callable(exporter.supports)
    monkeypatch.chdir(tmp_path)
    # the network every format can express: no reason
    assert exporter.refusal(checkpoint.model, INPUT_SHAPE) is None
    torch.manual_seed(0)
    model = build(NetSpec.from_dict(TRANSFORMER), INPUT_SHAPE, N_CLASSES)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    why = exporter.refusal(model, INPUT_SHAPE)
    assert why is None or (isinstance(why, str) and why and "\n" not in why)
    assert not list(tmp_path.iterdir())  # a check writes nothing
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    if name == "nir":
        assert why is not None and "transformer" in why and "constraint" in why
    else:  # TorchScript and ONNX express every network snn_models builds
        assert why is None
