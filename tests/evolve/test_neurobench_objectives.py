"""NeuroBench's metrics on every trial, as objectives, and the energy model of a run.

* Trials of an MLP, a CNN and a transformer record NeuroBench's metrics (trial attributes, so
  ``trials.parquet`` columns) measured with their energy; NeuroBench's own ``Benchmark`` on the
  trial's trained model and the same validation samples gives the same numbers.
* A search on ``accuracy,effective_acs`` runs end to end and reports its front in those units
  (``pareto.json``, ``evolve show``); the energy model is recorded and fixed for the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

import evolve
from evolve.engine.trial import TrialSettings, evaluate_trial
from evolve.report.summary import format_summary, run_summary
from snn_models.neurobench_metrics import stem_every_step
from tests.snn_models.neurobench_reference import assert_same, neurobench_run

ARCHS = {
    "mlp": {
        "kind": "mlp",
        "depth": 2,
        "timesteps": 4,
        "layer.0.width": 64,
        "layer.0.neuron": "lif",
        "layer.1.width": 32,
        "layer.1.neuron": "if",
    },
    "cnn": {"kind": "cnn", "depth": 2, "timesteps": 2, "layer.0.width": 8, "layer.1.width": 8},
    "transformer": {
        "kind": "transformer",
        "depth": 1,
        "timesteps": 2,
        "patch": 4,
        "layer.0.width": 32,
        "layer.0.attention": "sdsa",
    },
}


@pytest.fixture(scope="module")
def digits():  # type: ignore[no-untyped-def]
    """600 of the digits (a trial of each kind trains for one short epoch)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return evolve.from_arrays(d.images[:600] / 16, d.target[:600], name="digits600")


def recorded(attrs: dict[str, Any]) -> dict[str, Any]:
    """A trial's NeuroBench attributes under NeuroBench's names."""
    return {
        "Footprint": attrs["footprint_bytes"],
        "ParameterCount": attrs["n_params"],
        "ConnectionSparsity": attrs["connection_sparsity"],
        "ActivationSparsity": attrs["activation_sparsity"],
        "SynapticOperations": {
            "Effective_MACs": attrs["effective_macs"],
            "Effective_ACs": attrs["effective_acs"],
            "Dense": attrs["dense_synops"],
        },
    }


@pytest.mark.parametrize(
    ("kind", "energy_model"),
    [
        ("mlp", "per-inference"),
        ("mlp", "per-step"),
        ("cnn", "per-inference"),
        ("transformer", "per-step"),
    ],
)
def test_a_trial_records_what_neurobench_itself_measures(
    digits: Any, kind: str, energy_model: str
) -> None:
    settings = TrialSettings(epochs=1, seed=0, energy_model=energy_model)
    out = evaluate_trial(ARCHS[kind], digits, settings)
    attrs = out.attrs
    assert attrs["energy_model"] == energy_model
    model = out.checkpoint["model"] if out.checkpoint else None
    assert isinstance(model, torch.nn.Module)
    model.eval()
    target = stem_every_step(model) if energy_model == "per-step" else model
    # batches of 64: NeuroBench sums each call's count in float32, exact below 2**24
    theirs = neurobench_run(target, digits.val.x, batch=64)
    assert_same(recorded(attrs), theirs)
    # the objectives a search may use are the recorded values
    for name in ("effective_acs", "effective_macs", "footprint_bytes", "activation_sparsity"):
        assert out.values[name] == attrs[name]
    assert out.values["synops"] == attrs["effective_acs"] + attrs["effective_macs"]
    assert attrs["effective_acs"] > 0 and attrs["effective_macs"] > 0


def test_a_search_on_effective_acs_reports_its_front_in_acs(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run = evolve.search(
        "hybrid_neuron",
        "digits",
        objectives=("accuracy", "effective_acs"),
        energy_model="per-step",
        trials=2,
        epochs=1,
        constraint="nir",
        study="nb",
        out=runs,
    )
    cfg = yaml.safe_load((run.path / "config.yaml").read_text())
    assert cfg["objectives"] == "accuracy,effective_acs" and cfg["energy_model"] == "per-step"
    pareto = json.loads((run.path / "pareto.json").read_text())
    assert pareto["objectives"][1] == {
        "name": "effective_acs",
        "direction": "minimize",
        "unit": "ACs/inference",
    }
    assert pareto["reference_point"]["effective_acs"] > 0  # twice the default model's Dense
    done = run.trials[run.trials["state"] == "COMPLETE"]
    assert len(done) >= 1 and (done["energy_model"] == "per-step").all()
    front = pareto["front"]
    assert front and all(f["values"]["effective_acs"] > 0 for f in front)
    for f in front:  # the front's values are the trials' recorded NeuroBench counts
        row = done[done["number"] == f["trial"]].iloc[0]
        assert f["values"]["effective_acs"] == row["effective_acs"]
        assert row["effective_acs"] <= row["dense_synops"]
    text = format_summary(run_summary(run.path))
    assert "best effective_acs:" in text and "ACs/inference" in text
    # the model card of an export carries the trial's NeuroBench metrics under their names
    number = front[0]["trial"]
    exported = evolve.export_trial(run.path, number, formats="torchscript", out=tmp_path / "x")
    card = exported.card["neurobench"]
    row = done[done["number"] == number].iloc[0]
    assert card["SynapticOperations"]["Effective_ACs"] == row["effective_acs"]
    assert card["Footprint"] == row["footprint_bytes"] and card["energy_model"] == "per-step"
    assert exported.card["energy"]["energy_model"] == "per-step"
    # the energy model is fixed for the run: a resume keeps it, another one is refused
    with pytest.raises(evolve.RunError, match="energy_model='per-inference' differs"):
        evolve.search(study="nb", out=runs, resume=True, energy_model="per-inference")


def test_an_unknown_energy_model_is_refused_before_anything_is_recorded(tmp_path: Path) -> None:
    with pytest.raises(evolve.UserError, match="energy_model must be one of per-inference"):
        evolve.search("hybrid_neuron", trials=1, energy_model="per-sample", out=tmp_path)
    assert not any(tmp_path.iterdir())


def test_the_docs_example_is_what_its_json_renders_and_neurobench_agreed() -> None:
    """docs/energy.md's table is rendered from benchmarks/results/energy_example.json (written
    by benchmarks/energy_example.py, which measured the model with NeuroBench's own code too)."""
    import importlib.util

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location(
        "energy_example", root / "benchmarks" / "energy_example.py"
    )
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    results = json.loads(example.RESULTS.read_text())
    assert example.doc_table(example.DOC.read_text()) == example.render(results)
    once, every = (results["energy_models"][k] for k in ("per-inference", "per-step"))
    for m in (once, every):
        nb, theirs = m["neurobench"], m["neurobench_package"]
        assert theirs["SynapticOperations"] == {
            "Effective_MACs": nb["effective_macs"],
            "Effective_ACs": nb["effective_acs"],
            "Dense": nb["dense"],
        }
        assert nb["effective_acs"] == m["sops"]  # an MLP with no zero weight
    assert every["macs"] == results["timesteps"] * once["macs"]
    assert (
        every["energy_uj"] > once["energy_uj"] and every["ann_energy_uj"] == once["ann_energy_uj"]
    )


def test_a_limit_on_effective_acs_makes_candidates_above_it_infeasible(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run = evolve.search(
        "hybrid_neuron",
        "digits",
        trials=2,
        epochs=1,
        constraint="nir",
        limits={"effective_acs": 1.0},  # below any network that spikes at all
        study="lim",
        out=runs,
    )
    cfg = yaml.safe_load((run.path / "config.yaml").read_text())
    assert cfg["limits"] == {"effective_acs": 1.0}
    records = [r for r in run.store.trials() if r.state == "complete"]
    assert records and all(not r.feasible for r in records)
    for r in records:
        assert r.constraints["effective_acs"] == pytest.approx(r.attrs["effective_acs"] - 1.0)
    assert run.front == []  # nothing above a limit reaches the front
    with pytest.raises(evolve.RunError, match="limits"):
        evolve.search(study="lim", out=runs, resume=True, limits={"effective_acs": 5.0})
