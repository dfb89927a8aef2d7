from __future__ import annotations

from typing import Any

import optuna
import pytest
from agent_fakes import ToyArch, ToySpace, toy_result
from optuna.trial import TrialState

from agents import (
    AgentError,
    Constraint,
    Objective,
    OptunaAgent,
    Proposal,
    StudyExistsError,
    parse_objectives,
)

TWO = parse_objectives("accuracy,energy")


def _agent(storage: str | None, **kwargs: Any) -> OptunaAgent:
    settings: dict[str, Any] = {
        "space": ToySpace(),
        "objectives": TWO,
        "study_name": "study",
        "sampler": "random",
    }
    settings.update(kwargs)
    return OptunaAgent(storage=storage, **settings)


def _finish(agent: OptunaAgent, values: dict[str, float] | None = None) -> Proposal:
    proposal = agent.ask()
    agent.tell(proposal, values or toy_result(proposal.arch))
    return proposal


def test_ask_tell_round_trip_over_sqlite(storage_url: str) -> None:
    agent = _agent(storage_url)
    proposal = agent.ask()
    assert isinstance(proposal.arch, ToyArch)
    assert proposal.number == 0
    result = toy_result(proposal.arch)
    agent.tell(proposal, {**result, "spike_rate": 0.1}, attrs={"n_params": 1234})

    study = optuna.load_study(study_name="study", storage=storage_url)  # a fresh reader
    (trial,) = study.trials
    assert trial.state == TrialState.COMPLETE
    assert trial.values == [result["accuracy"], result["energy_uj"]]
    assert trial.user_attrs["arch"] == proposal.arch.to_dict()
    assert trial.user_attrs["metrics"]["spike_rate"] == 0.1
    assert trial.user_attrs["n_params"] == 1234
    assert trial.params["timesteps"] == proposal.arch["timesteps"]
    assert study.user_attrs["space"] == "toy"
    assert [o["name"] for o in study.user_attrs["objectives"]] == ["accuracy", "energy_uj"]
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    # optuna-dashboard labels its panels with these instead of "Objective 0/1"
    assert study.metric_names == ["accuracy", "energy_uj"]
    assert agent.n_done() == 1


def test_pruned_and_failed_trials_are_told_without_values() -> None:
    agent = _agent(None)
    pruned = agent.ask()
    agent.tell(pruned, {"val_accuracy": 0.2}, state="pruned")
    failed = agent.ask()
    agent.tell(failed, None, state="fail", attrs={"error": "diverged"})
    trials = agent.study.trials
    assert trials[0].state == TrialState.PRUNED and trials[0].values is None
    assert trials[0].user_attrs["metrics"] == {"val_accuracy": 0.2}
    assert trials[1].state == TrialState.FAIL and trials[1].user_attrs["error"] == "diverged"
    assert agent.n_done() == 1  # PRUNED counts toward the budget, FAIL does not
    _finish(agent)
    assert agent.n_done() == 2


def test_existing_study_without_resume_is_refused(storage_url: str) -> None:
    _finish(_agent(storage_url))
    with pytest.raises(StudyExistsError) as info:
        _agent(storage_url)
    message = str(info.value)
    assert "resume=True" in message and "study name" in message and "\n" not in message
    assert "--" not in message  # library words; the CLI names its flags
    assert isinstance(info.value, AgentError)


def test_resume_on_a_new_study_creates_it(storage_url: str) -> None:
    agent = _agent(storage_url, resume=True)
    assert agent.recovered_on_resume == []
    _finish(agent)
    assert agent.n_done() == 1


def test_resume_fails_stale_running_trials_and_continues(storage_url: str) -> None:
    crashed = _agent(storage_url)
    _finish(crashed)
    crashed.ask()  # trial 1: asked, never told (the process "crashed")
    stray = crashed.ask()
    crashed.tell(stray, None, state="fail")  # trial 2: a failure

    resumed = _agent(storage_url, resume=True)
    assert resumed.recovered_on_resume == [1]
    assert resumed.study.trials[1].state == TrialState.FAIL
    assert resumed.study.user_attrs["recovered_stale_trials"] == [1]
    assert resumed.recover_stale_trials() == []  # nothing left
    assert resumed.n_done() == 1
    proposal = _finish(resumed)
    assert proposal.number == 3
    assert resumed.n_done() == 2


def test_recover_spares_the_agents_own_open_trials() -> None:
    agent = _agent(None)
    mine = agent.ask()
    assert agent.recover_stale_trials() == []
    agent.tell(mine, toy_result(mine.arch))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"objectives": parse_objectives("accuracy,latency")}, "optimises"),
        ({"objectives": (Objective("accuracy", "minimize"), TWO[1])}, "optimises"),
        ({"space": ToySpace("other")}, "searches space 'toy'"),
        ({"constraints": [Constraint("energy_uj", 1.0)]}, "constraints"),
    ],
)
def test_resume_refuses_a_different_setup(
    storage_url: str, change: dict[str, Any], match: str
) -> None:
    _finish(_agent(storage_url))
    with pytest.raises(AgentError, match=match):
        _agent(storage_url, resume=True, **change)


def test_resume_may_change_thresholds(storage_url: str) -> None:
    _finish(_agent(storage_url))
    new = (TWO[0], Objective("energy_uj", "minimize", threshold=3.0))
    agent = _agent(storage_url, resume=True, objectives=new)
    assert agent.study.user_attrs["objectives"][1]["threshold"] == 3.0


def test_foreign_study_is_refused(storage_url: str) -> None:
    optuna.create_study(storage=storage_url, study_name="study", directions=["maximize"] * 2)
    with pytest.raises(AgentError, match="not created by snn-evolve"):
        _agent(storage_url, resume=True)


def test_pruned_trials_never_reach_the_front() -> None:
    agent = _agent(None)
    kept = _finish(agent, {"accuracy": 0.7, "energy_uj": 1.0})
    pruned = agent.ask()
    agent.tell(pruned, {"accuracy": 0.99, "energy_uj": 0.01}, state="pruned")
    assert [t.number for t in agent.pareto_trials()] == [kept.number]
    assert [t.number for t in agent.best_trials] == [kept.number]


def test_front_is_the_non_dominated_complete_trials() -> None:
    agent = _agent(None)
    for values in [(0.9, 2.0), (0.8, 1.0), (0.7, 1.5), (0.6, 0.5)]:
        _finish(agent, {"accuracy": values[0], "energy_uj": values[1]})
    assert [t.number for t in agent.pareto_trials()] == [0, 1, 3]
    assert agent.objective_values(agent.pareto_trials()[0]) == {"accuracy": 0.9, "energy_uj": 2.0}
    with pytest.raises(AgentError, match="energy_uj"):
        agent.hypervolume()  # energy has no threshold
    # Against (accuracy 0, energy 3): 0.9*1 + 0.8*1 + 0.6*0.5 = 2.0
    assert agent.hypervolume((0.0, 3.0)) == pytest.approx(2.0)


def test_constraint_makes_a_trial_infeasible_and_keeps_it_off_the_front(
    storage_url: str,
) -> None:
    agent = _agent(storage_url, constraints=[Constraint("energy_uj", 0.5)])
    over = _finish(agent, {"accuracy": 0.99, "energy_uj": 0.7})  # would dominate everything
    on_bound = _finish(agent, {"accuracy": 0.8, "energy_uj": 0.5})
    within = _finish(agent, {"accuracy": 0.6, "energy_uj": 0.2})

    trials = optuna.load_study(study_name="study", storage=storage_url).trials
    assert trials[over.number].constraints == {"energy_uj": pytest.approx(0.2)}
    assert trials[over.number].user_attrs["feasible"] is False
    assert trials[over.number].user_attrs["constraint_values"] == [pytest.approx(0.2)]
    assert trials[on_bound.number].user_attrs["feasible"] is True
    assert [t.number for t in agent.pareto_trials()] == [on_bound.number, within.number]
    assert agent.study.user_attrs["constraints"] == [{"name": "energy_uj", "upper_bound": 0.5}]


def test_constrained_metric_may_come_from_attrs() -> None:
    agent = _agent(None, constraints=[Constraint("n_params", 100)])
    proposal = agent.ask()
    agent.tell(proposal, {"accuracy": 0.9, "energy_uj": 1.0}, attrs={"n_params": 500})
    assert agent.pareto_trials() == []


class BrokenSpace:
    name = "broken"

    def sample(self, suggester: optuna.trial.Trial) -> dict[str, Any]:
        suggester.suggest_int("depth", 1, 3)
        raise KeyError("block.9.neuron")


def test_space_error_while_sampling_is_told_fail_and_reraised() -> None:
    agent = _agent(None, space=BrokenSpace())
    with pytest.raises(KeyError, match=r"block\.9\.neuron"):
        agent.ask()
    (trial,) = agent.study.trials
    assert trial.state == TrialState.FAIL
    assert "KeyError" in trial.user_attrs["fail_reason"]
    assert agent.n_done() == 0


@pytest.mark.parametrize(
    ("values", "attrs", "match"),
    [
        ({"accuracy": 0.9}, {}, "'energy_uj' missing"),
        ({"accuracy": float("nan"), "energy_uj": 1.0}, {}, "'accuracy' missing or not a number"),
        ({"accuracy": 0.9, "energy_uj": 1.0}, {"model": object()}, "JSON-serialisable"),
        ({"accuracy": 0.9, "energy_uj": 1.0}, {"curve": []}, "reserved"),
    ],
)
def test_malformed_result_is_told_fail_and_raised(
    values: dict[str, float], attrs: dict[str, Any], match: str
) -> None:
    agent = _agent(None)
    proposal = agent.ask()
    with pytest.raises(AgentError, match=match) as info:
        agent.tell(proposal, values, attrs=attrs)
    (trial,) = agent.study.trials
    assert trial.state == TrialState.FAIL
    assert trial.user_attrs["fail_reason"] == str(info.value)


def test_a_failure_may_carry_the_arch_again() -> None:
    # evolve's conductor tells failures with attrs={"error": ..., "arch": dict(proposal.arch)}.
    agent = _agent(None)
    proposal = agent.ask()
    agent.tell(proposal, None, state="fail", attrs={"error": "boom", "arch": dict(proposal.arch)})
    assert agent.study.trials[0].user_attrs["arch"] == dict(proposal.arch)


def test_a_proposal_is_told_once() -> None:
    agent = _agent(None)
    proposal = _finish(agent)
    with pytest.raises(AgentError, match="not open"):
        agent.tell(proposal, toy_result(proposal.arch))
    with pytest.raises(AgentError, match="not open"):
        agent.report(proposal, 0, {"val_accuracy": 0.5})


def test_unknown_state_is_refused() -> None:
    agent = _agent(None)
    proposal = agent.ask()
    with pytest.raises(AgentError, match="complete, pruned, fail"):
        agent.tell(proposal, None, state="stopped")  # type: ignore[arg-type]


def test_report_stores_the_curve_for_other_readers(storage_url: str) -> None:
    agent = _agent(storage_url)
    proposal = agent.ask()
    assert agent.report(proposal, 0, {"val_accuracy": 0.5, "energy_uj": 1.0}) is False
    assert agent.report(proposal, 1, {"val_accuracy": 0.6, "energy_uj": 1.1}) is False
    reader = optuna.load_study(study_name="study", storage=storage_url)
    assert reader.trials[0].state == TrialState.RUNNING
    assert reader.trials[0].user_attrs["curve"] == [
        {"epoch": 0, "val_accuracy": 0.5, "energy_uj": 1.0},
        {"epoch": 1, "val_accuracy": 0.6, "energy_uj": 1.1},
    ]
    with pytest.raises(AgentError, match="epochs must increase"):
        agent.report(proposal, 1, {"val_accuracy": 0.7, "energy_uj": 1.0})
    with pytest.raises(AgentError, match="not a number"):
        agent.report(proposal, 2, {"val_accuracy": float("nan")})
    with pytest.raises(AgentError, match="epoch must be an int"):
        agent.report(proposal, -1, {"val_accuracy": 0.7})


def test_bad_constructor_input_is_an_agent_error() -> None:
    with pytest.raises(AgentError, match="at least one objective"):
        _agent(None, objectives=())
    with pytest.raises(AgentError, match="repeat"):
        _agent(None, objectives=(TWO[0], TWO[0]))
    with pytest.raises(AgentError, match="study_name"):
        _agent(None, study_name="")
