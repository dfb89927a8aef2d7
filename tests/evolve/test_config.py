"""The typed run configuration: YAML round trip, the resume rules, and config.yaml files written
before it existed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from evolve.config import ContinualConfig, SearchConfig
from evolve.errors import RunError

#: config.yaml as the search command wrote it before the typed configuration (wave 1).
WAVE1_SEARCH = """\
space: hybrid_attention
trials: 40
timeout: null
max_failures: 10
sampler: auto
agent: optuna
data_dir: null
epochs: 10
seed: 0
storage: sqlite:////work/runs/hybrid_attention-20261201-023649/study.db
dataset: digits
objectives: accuracy,energy
energy_budget_uj: null
no_early_stop: false
trial_memory_mb: null
constraint: null
backend: local
workers: null
cpus_per_trial: null
gpus_per_trial: null
ray_address: null
reference_point:
  accuracy: 0.0
  energy_uj: 1.829
"""
WAVE1_CONTINUAL = """\
space: continual
scenario: split-digits
n_tasks: null
limit: null
strategy: null
buffer_size: null
stdp_lr: null
stdp_epochs: null
readout_lr: null
feature_rate: null
trials: 20
timeout: null
max_failures: 10
sampler: auto
agent: optuna
data_dir: null
epochs: 8
seed: 0
storage: sqlite:////work/runs/continual-x/study.db
lr: null
objectives: acc,forgetting,energy
reference_point:
  cl_acc: 0.0
  forgetting: 1.0
  energy_uj: 0.4
"""


@pytest.mark.parametrize(
    ("cls", "text"), [(SearchConfig, WAVE1_SEARCH), (ContinualConfig, WAVE1_CONTINUAL)]
)
def test_wave1_config_files_open_and_round_trip(cls: type[SearchConfig], text: str) -> None:
    data = yaml.safe_load(text)
    cfg = cls.from_dict(data)
    assert cfg.trials in (40, 20) and cfg.reference_point == data["reference_point"]
    assert cfg.to_dict() == data  # nothing added, nothing lost, same keys
    assert cls.from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict()))) == cfg


def test_user_objectives_are_recorded_only_when_given() -> None:
    cfg = SearchConfig(user_objectives=("-latency",))
    assert cfg.to_dict()["user_objectives"] == ["-latency"]
    assert SearchConfig.from_dict(cfg.to_dict()) == cfg
    assert "user_objectives" not in SearchConfig().to_dict()


def test_resume_rules_in_one_place() -> None:
    recorded = SearchConfig.from_dict(yaml.safe_load(WAVE1_SEARCH))
    resumed = recorded.resumed_with({"trials": 60, "workers": 4, "seed": 0, "space": None})
    assert (resumed.trials, resumed.workers, resumed.seed) == (60, 4, 0)
    for key, value in (("seed", 3), ("space", "temporal"), ("objectives", "accuracy")):
        with pytest.raises(RunError, match=f"setting {key}="):
            recorded.resumed_with({key: value})
    assert set(SearchConfig.RESUMABLE) > set(ContinualConfig.RESUMABLE)


def test_unknown_keys_are_refused_and_configs_are_frozen(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="unknown setting 'sede'"):
        SearchConfig.from_dict({"sede": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        SearchConfig().trials = 3  # type: ignore[misc]
    assert SearchConfig(trials=5).given() == {"trials": 5}
