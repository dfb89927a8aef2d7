from __future__ import annotations

from typing import Any

import optuna
import pytest
from agent_fakes import ToySpace
from optuna.trial import TrialState, create_trial

from agents import AgentError, MultiObjectiveStopper, OptunaAgent, parse_objectives

CURRENT = 10_000  # the number of the reporting trial: not in the study's finished trials


def _study_with(*curves: list[dict[str, float]], state: TrialState = TrialState.COMPLETE) -> Any:
    study = optuna.create_study(directions=["maximize", "minimize"])
    _add(study, *curves, state=state)
    return study


def _add(study: Any, *curves: list[dict[str, float]], state: TrialState) -> None:
    for curve in curves:
        values = [curve[-1]["val_accuracy"], curve[-1]["energy_uj"]]
        study.add_trial(
            create_trial(
                state=state,
                values=values if state == TrialState.COMPLETE else None,
                user_attrs={"curve": curve},
            )
        )


def _curve(accuracies: list[float], energy: float = 1.0) -> list[dict[str, float]]:
    return [{"epoch": e, "val_accuracy": a, "energy_uj": energy} for e, a in enumerate(accuracies)]


GOOD = _curve([0.6, 0.8, 0.9])


def test_clearly_dominated_trial_is_stopped() -> None:
    study = _study_with(GOOD, GOOD)
    stopper = MultiObjectiveStopper()
    decision = stopper.decide(
        study, trial_number=CURRENT, epoch=1, values={"val_accuracy": 0.3, "energy_uj": 2.0}
    )
    assert decision.stop
    assert (decision.n_compared, decision.n_dominators) == (2, 2)


def test_pruned_trials_count_as_peers() -> None:
    study = _study_with(GOOD)
    _add(study, GOOD, state=TrialState.PRUNED)
    assert MultiObjectiveStopper().should_stop(
        study, trial_number=CURRENT, epoch=1, values={"val_accuracy": 0.3, "energy_uj": 1.0}
    )


@pytest.mark.parametrize(
    "values",
    [
        {"val_accuracy": 0.85, "energy_uj": 2.0},  # better accuracy
        {"val_accuracy": 0.3, "energy_uj": 0.5},  # worse accuracy but cheaper
        {"val_accuracy": 0.795, "energy_uj": 1.0},  # within the margin
    ],
)
def test_non_dominated_trial_continues(values: dict[str, float]) -> None:
    study = _study_with(GOOD, GOOD, GOOD)
    assert not MultiObjectiveStopper().should_stop(
        study, trial_number=CURRENT, epoch=1, values=values
    )


def test_nothing_is_stopped_before_min_epoch() -> None:
    study = _study_with(GOOD, GOOD, GOOD)
    bad = {"val_accuracy": 0.0, "energy_uj": 9.0}
    stopper = MultiObjectiveStopper(min_epoch=2)
    assert not stopper.should_stop(study, trial_number=CURRENT, epoch=0, values=bad)
    assert not stopper.should_stop(study, trial_number=CURRENT, epoch=1, values=bad)
    assert stopper.should_stop(study, trial_number=CURRENT, epoch=2, values=bad)


def test_nothing_is_stopped_with_too_few_earlier_trials() -> None:
    bad = {"val_accuracy": 0.0, "energy_uj": 9.0}
    stopper = MultiObjectiveStopper()
    assert not stopper.should_stop(_study_with(), trial_number=CURRENT, epoch=1, values=bad)
    assert not stopper.should_stop(_study_with(GOOD), trial_number=CURRENT, epoch=1, values=bad)
    short = _curve([0.9])  # reported epoch 0 only: not compared at epoch 1
    assert not stopper.should_stop(
        _study_with(GOOD, short), trial_number=CURRENT, epoch=1, values=bad
    )


def test_running_and_failed_trials_and_itself_are_not_peers() -> None:
    study = _study_with(GOOD)
    _add(study, GOOD, state=TrialState.FAIL)
    running = study.ask()
    running.set_user_attr("curve", GOOD)
    bad = {"val_accuracy": 0.0, "energy_uj": 9.0}
    stopper = MultiObjectiveStopper()
    assert not stopper.should_stop(study, trial_number=CURRENT, epoch=1, values=bad)
    # Trial 0 (COMPLETE) is the reporting trial itself: excluded, so no peers dominate enough.
    _add(study, GOOD, state=TrialState.COMPLETE)  # trial 3
    assert stopper.decide(study, trial_number=0, epoch=1, values=bad).n_compared == 1


def test_min_fraction_needs_a_share_of_dominators() -> None:
    study = _study_with(GOOD, GOOD, *[_curve([0.1, 0.1, 0.1])] * 4)
    values = {"val_accuracy": 0.5, "energy_uj": 1.0}
    assert MultiObjectiveStopper().should_stop(study, trial_number=CURRENT, epoch=1, values=values)
    strict = MultiObjectiveStopper(min_fraction=0.5)  # 2 of 6 is not half
    assert not strict.should_stop(study, trial_number=CURRENT, epoch=1, values=values)


def test_accuracy_only_when_energy_key_is_none() -> None:
    study = _study_with(_curve([0.9, 0.9], energy=5.0), _curve([0.9, 0.9], energy=5.0))
    values = {"val_accuracy": 0.5, "energy_uj": 1.0}
    assert not MultiObjectiveStopper().should_stop(
        study, trial_number=CURRENT, epoch=1, values=values
    )
    assert MultiObjectiveStopper(energy_key=None).should_stop(
        study, trial_number=CURRENT, epoch=1, values={"val_accuracy": 0.5}
    )


def test_missing_metrics_are_agent_errors() -> None:
    study = _study_with(GOOD)
    with pytest.raises(AgentError, match="'val_accuracy'"):
        MultiObjectiveStopper().decide(study, trial_number=1, epoch=1, values={"acc": 0.5})
    with pytest.raises(AgentError, match="energy_key=None"):
        MultiObjectiveStopper().decide(study, trial_number=1, epoch=1, values={"val_accuracy": 0.5})


@pytest.mark.parametrize(
    "kwargs",
    [{"min_epoch": -1}, {"min_dominators": 0}, {"margin": -0.1}, {"min_fraction": 1.5}],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(AgentError):
        MultiObjectiveStopper(**kwargs)


def test_state_dict_is_the_configuration() -> None:
    stopper = MultiObjectiveStopper(min_dominators=3, margin=0.02)
    state = stopper.state_dict()
    assert state["min_dominators"] == 3 and state["margin"] == 0.02
    assert state["min_epoch"] == 1 and state["energy_key"] == "energy_uj"
    assert "min_dominators=3" in repr(stopper)


def test_agent_report_stops_a_dominated_trial_and_keeps_it_off_the_front(
    space: ToySpace, storage_url: str
) -> None:
    agent = OptunaAgent(
        space=space,
        objectives=parse_objectives("accuracy,energy"),
        storage=storage_url,
        study_name="stop",
        sampler="random",
        early_stopper=MultiObjectiveStopper(),
    )
    for _ in range(2):  # two good finished trials
        proposal = agent.ask()
        for epoch, accuracy in enumerate([0.6, 0.8, 0.9]):
            assert not agent.report(proposal, epoch, {"val_accuracy": accuracy, "energy_uj": 1.0})
        agent.tell(proposal, {"accuracy": 0.9, "energy_uj": 1.0})

    poor = agent.ask()
    assert not agent.report(poor, 0, {"val_accuracy": 0.1, "energy_uj": 2.0})  # < min_epoch
    assert agent.report(poor, 1, {"val_accuracy": 0.1, "energy_uj": 2.0})
    agent.tell(poor, {"val_accuracy": 0.1, "energy_uj": 2.0}, state="pruned")

    trial = agent.study.trials[poor.number]
    assert trial.state == TrialState.PRUNED
    assert trial.user_attrs["early_stop"]["n_dominators"] == 2
    assert [entry["epoch"] for entry in trial.user_attrs["curve"]] == [0, 1]
    assert poor.number not in [t.number for t in agent.pareto_trials()]
    assert agent.n_done() == 3
