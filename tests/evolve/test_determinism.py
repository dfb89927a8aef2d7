"""Same seed, same data, CPU: the same proposals and the same metrics, to the last bit.

Only what measures the machine may differ between two runs: wall and training times, latency,
memory. The runs of each test go at once, so the results cannot depend on timing or load either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import torch
from evolve_cli import evolve_at_once

#: What measures this machine rather than the model: left out of every comparison.
MACHINE_KEYS = ("latency_ms",)
MACHINE_SUFFIXES = ("seconds",)
MACHINE_PREFIXES = ("memory",)
TINY = """\
name: tiny
params:
  kind: {type: categorical, choices: [mlp], default: mlp}
  depth: {type: int, low: 1, high: 2, default: 1}
  timesteps: {type: int, low: 1, high: 3, default: 2}
layers:
  repeat: depth
  params:
    width: {type: int, low: 8, high: 32, default: 16}
    neuron: {type: categorical, choices: [if, lif, bif, adaptive], default: lif}
    threshold: {type: float, low: 0.75, high: 1.25, default: 1.0}
"""


def _model_only(value: Any) -> Any:
    """``value`` without what measures the machine (recursively)."""
    if isinstance(value, dict):
        return {
            k: _model_only(v)
            for k, v in value.items()
            if k not in MACHINE_KEYS
            and not k.endswith(MACHINE_SUFFIXES)
            and not k.startswith(MACHINE_PREFIXES)
        }
    if isinstance(value, list):
        return [_model_only(v) for v in value]
    return value


def _search(study: str, seed: int, trials: int = 3) -> list[str]:
    return [
        "search", "--space", "tiny.yaml", "--trials", str(trials), "--epochs", "1",
        "--seed", str(seed), "--study", study, "--no-progress",
    ]  # fmt: skip


def _trials(run_dir: Path) -> list[dict[str, Any]]:
    study = optuna.load_study(study_name=run_dir.name, storage=f"sqlite:///{run_dir / 'study.db'}")
    return [
        {
            "number": t.number,
            "state": t.state.name,
            "params": t.params,
            "values": t.values,
            "attrs": _model_only(t.user_attrs),
        }
        for t in study.trials
    ]


def test_the_same_seed_searches_the_same_candidates_with_the_same_metrics(
    tmp_path: Path,
) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    evolve_at_once(
        [_search("first", 7), _search("second", 7), _search("other", 8, trials=1)], tmp_path
    )
    runs = tmp_path / "runs"
    first, second, other = (_trials(runs / name) for name in ("first", "second", "other"))

    assert len(first) == 3 and all(t["state"] == "COMPLETE" for t in first)
    for a, b in zip(first, second, strict=True):
        assert a["params"] == b["params"], a["number"]  # the same proposals
        assert a["values"] == b["values"], a["number"]  # validation accuracy, energy
        assert a["attrs"] == b["attrs"], a["number"]  # test accuracy, spikes, curve, ...
    for t in first:  # what the comparison covered
        assert {"test_accuracy", "energy_uj", "firing_rates", "curve", "arch"} <= t["attrs"].keys()
    front_first, front_second = (
        _model_only(json.loads((runs / name / "pareto.json").read_text()))
        for name in ("first", "second")
    )
    front_first.pop("study"), front_second.pop("study")
    assert front_first == front_second

    assert other[0]["params"] != first[0]["params"]  # another seed, another first candidate


def _train(out: str, seed: int) -> list[str]:
    return [
        "train", "--layers", "32,16", "--neuron", "bif,lif", "--timesteps", "3",
        "--epochs", "2", "--seed", str(seed), "--out", out, "--no-progress",
    ]  # fmt: skip


def _trained(folder: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    (run_dir,) = folder.iterdir()
    result = _model_only(json.loads((run_dir / "result.json").read_text()))
    weights = torch.load(run_dir / "model.pt", weights_only=True)["state_dict"]
    return result, weights


def test_the_same_seed_trains_the_same_network(tmp_path: Path) -> None:
    evolve_at_once([_train("a", 5), _train("b", 5), _train("c", 6)], tmp_path)
    (result_a, weights_a), (result_b, weights_b), (result_c, _) = (
        _trained(tmp_path / name) for name in "abc"
    )
    assert result_a == result_b
    assert {"test_accuracy", "energy_uj_per_inference", "firing_rates", "history"} <= set(result_a)
    assert weights_a.keys() == weights_b.keys()
    for name, tensor in weights_a.items():
        assert torch.equal(tensor, weights_b[name]), name
    assert result_c["history"] != result_a["history"]  # another seed
