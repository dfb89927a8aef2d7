"""Every agent in AGENTS must satisfy the same contract, through project types only.

ask → a numbered, JSON-serialisable proposal; report → a bool (True when dominated); tell
complete/pruned/fail → the right states and values in the agent's store; the budget counts
complete and pruned trials; resume sees the old trials and continues their numbering; the same
seed proposes the same architectures; the front is made of TrialRecords. A new agent is its
module plus one line in ``agents.AGENTS``: this file then checks it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import optuna
import pytest

from agents import (
    AGENTS,
    Agent,
    AgentError,
    MultiObjectiveStopper,
    Proposal,
    StudyExistsError,
    TrialRecord,
    make_agent,
    open_store,
    parse_objectives,
)

NAMES = sorted(AGENTS)
TWO = parse_objectives("accuracy,energy")


class ToySpace:
    """A tiny define-by-run space with a conditional parameter (as real spaces have)."""

    name = "toy"

    def sample(self, suggester: Any) -> dict[str, Any]:
        neuron = suggester.suggest_categorical("neuron", ["if", "lif", "bif"])
        arch: dict[str, Any] = {
            "neuron": neuron,
            "timesteps": suggester.suggest_int("timesteps", 1, 8),
            "threshold": suggester.suggest_float("threshold", 0.5, 2.0),
        }
        if neuron == "bif":
            arch["v_reset"] = suggester.suggest_float("v_reset", 0.1, 0.4)
        return arch


def toy_result(arch: Mapping[str, Any]) -> dict[str, float]:
    """A deterministic fake evaluation: more timesteps, more accuracy and more energy."""
    accuracy = 0.5 + 0.05 * arch["timesteps"] - 0.1 * abs(arch["threshold"] - 1.0)
    return {"accuracy": accuracy, "energy_uj": 0.1 * arch["timesteps"] * arch["threshold"]}


@pytest.fixture(autouse=True)
def _quiet_optuna() -> Iterator[None]:
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(verbosity)


@pytest.fixture
def storage_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/study.db"


def _agent(name: str, storage: str | None = None, **kwargs: Any) -> Agent:
    settings: dict[str, Any] = {
        "space": ToySpace(),
        "objectives": TWO,
        "study_name": "contract",
        "seed": 0,
        "population_size": 4,
    }
    settings.update(kwargs)
    return make_agent(name, storage=storage, **settings)


def _finish(agent: Agent, values: Mapping[str, float] | None = None) -> Proposal:
    proposal = agent.ask()
    agent.tell(proposal, values or toy_result(proposal.arch))
    return proposal


@pytest.mark.parametrize("name", NAMES)
def test_ask_hands_out_a_numbered_json_proposal_recorded_as_running(name: str) -> None:
    agent = _agent(name)
    first, second = agent.ask(), agent.ask()
    assert isinstance(first, Proposal) and (first.number, second.number) == (0, 1)
    assert json.loads(json.dumps(dict(first.arch))) == dict(first.arch)
    assert set(vars(first)) == {"number", "arch", "curve"}  # no library object travels with it
    record = agent.store.trial(0)
    assert isinstance(record, TrialRecord)
    assert (record.state, record.values, record.arch) == ("running", None, dict(first.arch))
    assert agent.store.n_running() == 2 and agent.n_done() == 0
    json.dumps(record.to_dict())


@pytest.mark.parametrize("name", NAMES)
def test_report_returns_a_bool_true_once_dominated(name: str) -> None:
    stopper = MultiObjectiveStopper(min_dominators=2)
    agent = _agent(name, early_stopper=stopper)
    for _ in range(2):  # two finished peers, far better at every epoch, for the same energy
        peer = agent.ask()
        for epoch in range(3):
            assert agent.report(peer, epoch, {"val_accuracy": 0.9, "energy_uj": 1.0}) is False
        agent.tell(peer, {"accuracy": 0.9, "energy_uj": 1.0})
    weak = agent.ask()
    assert agent.report(weak, 0, {"val_accuracy": 0.2, "energy_uj": 1.0}) is False  # min_epoch
    assert agent.report(weak, 1, {"val_accuracy": 0.2, "energy_uj": 1.0}) is True
    agent.tell(weak, {"val_accuracy": 0.2, "energy_uj": 1.0}, state="pruned")
    record = agent.store.trial(weak.number)
    assert record.state == "pruned" and [e["epoch"] for e in record.attrs["curve"]] == [0, 1]
    assert record.attrs["early_stop"]["stop"] is True


@pytest.mark.parametrize("name", NAMES)
def test_tell_records_each_state_and_the_budget_counts_complete_and_pruned(name: str) -> None:
    agent = _agent(name)
    done = agent.ask()
    agent.tell(done, {"accuracy": 0.8, "energy_uj": 0.5, "spike_rate": 0.1}, attrs={"n": 3})
    pruned = agent.ask()
    agent.tell(pruned, {"val_accuracy": 0.3}, state="pruned")
    failed = agent.ask()
    agent.tell(failed, None, state="fail", attrs={"error": "diverged"})

    store = agent.store
    by_number = {r.number: r for r in store.trials()}
    assert [by_number[n].state for n in (0, 1, 2)] == ["complete", "pruned", "fail"]
    assert by_number[0].values == {"accuracy": 0.8, "energy_uj": 0.5}
    assert by_number[0].metrics["spike_rate"] == 0.1 and by_number[0].attrs["n"] == 3
    assert by_number[1].values is None and by_number[1].metrics == {"val_accuracy": 0.3}
    assert by_number[2].values is None and by_number[2].attrs["error"] == "diverged"
    assert [r.number for r in store.trials(("pruned", "fail"))] == [1, 2]
    assert store.counts() == {"complete": 1, "pruned": 1, "fail": 1}
    assert store.n_running() == 0
    assert agent.n_done() == 2  # a failure does not count toward the budget
    assert all(r.duration_s is not None and r.duration_s >= 0 for r in by_number.values())
    with pytest.raises(AgentError, match="not open"):
        agent.tell(done, {"accuracy": 0.8, "energy_uj": 0.5})


@pytest.mark.parametrize("name", NAMES)
def test_a_malformed_result_is_told_fail_and_raised(name: str) -> None:
    agent = _agent(name)
    proposal = agent.ask()
    with pytest.raises(AgentError, match="'energy_uj' missing"):
        agent.tell(proposal, {"accuracy": 0.9})
    assert agent.store.trial(proposal.number).state == "fail"


@pytest.mark.parametrize("name", NAMES)
def test_resume_sees_the_old_trials_and_continues_numbering(name: str, storage_url: str) -> None:
    first = _agent(name, storage_url)
    _finish(first)
    _finish(first)
    first.ask()  # trial 2: asked, never told (the process "crashed")

    with pytest.raises(StudyExistsError, match="resume=True"):
        _agent(name, storage_url)
    resumed = _agent(name, storage_url, resume=True)
    assert resumed.recovered_on_resume == [2]
    assert [(r.number, r.state) for r in resumed.store.trials()] == [
        (0, "complete"),
        (1, "complete"),
        (2, "fail"),
    ]
    assert resumed.n_done() == 2
    assert _finish(resumed).number == 3
    assert resumed.n_done() == 3
    # a reader that did not run the search sees the same record
    reader = open_store(storage_url, "contract")
    assert reader.trials() == resumed.store.trials()
    assert [o.name for o in reader.objectives] == ["accuracy", "energy_uj"]


@pytest.mark.parametrize("name", NAMES)
def test_the_same_seed_proposes_the_same_architectures(name: str) -> None:
    def archs(seed: int) -> list[dict[str, Any]]:
        agent = _agent(name, seed=seed, study_name=f"seed-{seed}")
        return [dict(_finish(agent).arch) for _ in range(10)]

    assert archs(0) == archs(0)
    assert archs(0) != archs(1)


@pytest.mark.parametrize("name", NAMES)
def test_the_front_is_made_of_trial_records(name: str) -> None:
    agent = _agent(name)
    for values in [(0.9, 2.0), (0.8, 1.0), (0.7, 1.5), (0.6, 0.5)]:
        _finish(agent, {"accuracy": values[0], "energy_uj": values[1]})
    pruned = agent.ask()
    agent.tell(pruned, {"accuracy": 0.99, "energy_uj": 0.01}, state="pruned")
    front = agent.pareto_trials()
    assert all(isinstance(r, TrialRecord) for r in front)
    assert [r.number for r in front] == [0, 1, 3]
    assert front == agent.store.pareto()
    assert front[0].values == {"accuracy": 0.9, "energy_uj": 2.0}


@pytest.mark.parametrize("name", NAMES)
def test_a_library_space_samples_within_itself(name: str) -> None:
    from search_spaces import load_space

    space = load_space("hybrid_neuron")
    agent = _agent(name, space=space, objectives=parse_objectives("accuracy"))
    for _ in range(3):
        proposal = agent.ask()
        assert space.contains(proposal.arch)
        agent.tell(proposal, {"accuracy": 0.5})
    assert agent.store.user_attrs["space"] == "hybrid_neuron"
