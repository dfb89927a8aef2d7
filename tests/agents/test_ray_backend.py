"""The Ray backend on a real local Ray instance (127.0.0.1), driving the real Optuna agent."""

from __future__ import annotations

import os
import time
from typing import Any

import optuna
import pytest
from agent_fakes import ToySpace

from agents import AgentError, MultiObjectiveStopper, OptunaAgent, parse_objectives
from agents.ray_backend import RAY_ENV, RayOptions, TrialEnd, epoch_report, final_report


@pytest.fixture
def ray_env() -> Any:
    old = {k: os.environ.get(k) for k in RAY_ENV}
    os.environ.update(RAY_ENV)
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_stopped_trials_are_pruned_failures_are_told_and_the_count_is_reached(
    ray_env: None,
) -> None:
    from agents.ray_backend import run_with_ray

    def trainable(config: dict[str, Any]) -> None:
        from ray import tune

        number = config["number"]
        if number == 3:
            raise RuntimeError("this worker always fails")
        accuracy = 0.9 if number < 2 else 0.1  # later trials are dominated from epoch 1 on
        for epoch in range(4):
            time.sleep(0.3)
            share = (epoch + 1) / 4  # as if each epoch trained on more of the data
            values = {"val_accuracy": accuracy, "energy_uj": 1.0, "data_fraction": share}
            tune.report(epoch_report(epoch, values))
        tune.report(final_report({"accuracy": accuracy, "energy_uj": 1.0}, {"note": "done"}))

    agent = OptunaAgent(
        space=ToySpace(),
        objectives=parse_objectives("accuracy,energy"),
        storage=None,
        study_name="ray-toy",
        sampler="random",
        seed=0,
        early_stopper=MultiObjectiveStopper(),
    )
    ends: list[TrialEnd] = []
    run_with_ray(
        agent,
        trainable,
        n_trials=5,
        options=RayOptions(workers=2, cpus_per_trial=1, max_retries=1),
        on_end=ends.append,
    )
    trials = {t.number: t for t in agent.study.trials}
    states = {n: t.state for n, t in trials.items()}
    assert agent.n_done() == 5
    assert optuna.trial.TrialState.RUNNING not in states.values()
    assert states[0] == states[1] == optuna.trial.TrialState.COMPLETE
    assert trials[0].values == [0.9, 1.0] and trials[0].user_attrs["note"] == "done"
    # the worker of trial 3 died twice (one retry): FAIL with the reason, and the search went on
    assert states[3] == optuna.trial.TrialState.FAIL
    assert "Ray worker failed" in trials[3].user_attrs["error"]
    pruned = [t for t in trials.values() if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "dominated trials are stopped by the agent's early stopping"
    for t in pruned:  # stopped early: never COMPLETE with partial metrics
        assert t.values is None and t.user_attrs["early_stop"]["stop"]
        assert t.user_attrs["metrics"]["val_accuracy"] == 0.1
        # as the local loop records it: the share of the data of the epoch it was stopped at
        stop_epoch = t.user_attrs["early_stop"]["epoch"]
        assert t.user_attrs["data_fraction"] == pytest.approx((stop_epoch + 1) / 4)
    assert sorted(e.proposal.number for e in ends) == sorted(trials)
    assert {e.proposal.number: e.state for e in ends} == {
        n: s.name.lower() for n, s in states.items()
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (RayOptions(workers=0), "^workers must be an integer >= 1"),
        (RayOptions(cpus_per_trial=0), "^cpus_per_trial must be > 0"),
        (RayOptions(gpus_per_trial=-1), "^gpus_per_trial must be >= 0"),
        (RayOptions(address="head"), "^Ray address 'head'"),
        (RayOptions(address="head"), "give auto or HOST:PORT"),
        (RayOptions(address="head:99999"), "give auto or HOST:PORT"),
    ],
)
def test_bad_options_are_refused(options: RayOptions, message: str) -> None:
    with pytest.raises(AgentError, match=message):
        options.validate()
