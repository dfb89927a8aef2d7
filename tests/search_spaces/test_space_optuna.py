"""A real Optuna trial is a suggester: its params are exactly the ArchSpec's keys and values."""

from __future__ import annotations

import pytest

from search_spaces import load_space, parse_space
from search_spaces.loader import library_names

optuna = pytest.importorskip("optuna")


@pytest.mark.parametrize("name", library_names())
def test_optuna_trial_params_match_the_spec(name: str) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space(name)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5))
    for _ in range(15):
        trial = study.ask()
        spec = space.sample(trial)
        assert space.contains(spec)
        fixed = list(space.fixed)
        assert list(trial.params) == [k for k in spec if k not in fixed]
        assert trial.params == {k: v for k, v in spec.items() if k not in fixed}
        study.tell(trial, 0.0)


def test_optuna_grids_and_log_ranges_are_contained() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = parse_space(
        """
name: grids
params:
  a: {type: float, low: 0.1, high: 0.9, step: 0.1}
  b: {type: int, low: 1, high: 64, log: true}
  c: {type: float, low: 1.0e-5, high: 1.0, log: true}
  d: {type: int, low: 0, high: 100, step: 5}
  e: {type: categorical, choices: [1, 2.5, x, false]}
"""
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(50):
        trial = study.ask()
        assert space.contains(space.sample(trial))
        study.tell(trial, 0.0)


def test_enqueued_default_replays() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space("hybrid_neuron")
    study = optuna.create_study()
    study.enqueue_trial(space.default().to_dict())
    assert space.sample(study.ask()) == space.default()
