"""The run store over an Optuna study: TrialRecords out, nothing written, one-line errors."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
import pytest
from agent_fakes import ToySpace, toy_result

from agents import (
    AgentError,
    Constraint,
    MultiObjectiveStopper,
    OptunaAgent,
    OptunaStore,
    TrialRecord,
    open_store,
    parse_objectives,
)

TWO = parse_objectives("accuracy,energy")


def _agent(storage: str | None, **kwargs: Any) -> OptunaAgent:
    settings: dict[str, Any] = {"space": ToySpace(), "objectives": TWO, "sampler": "random"}
    settings.update(kwargs)
    return OptunaAgent(storage=storage, study_name="study", **settings)


def _searched(storage_url: str) -> OptunaAgent:
    """A study with a complete, an infeasible, a pruned, a failed and a running trial."""
    agent = _agent(storage_url, constraints=[Constraint("energy_uj", 1.0)])
    for values in ({"accuracy": 0.8, "energy_uj": 0.5}, {"accuracy": 0.9, "energy_uj": 1.5}):
        proposal = agent.ask()
        agent.report(proposal, 0, {"val_accuracy": values["accuracy"]})
        agent.tell(proposal, values, attrs={"test_accuracy": 0.7})
    pruned = agent.ask()
    agent.tell(pruned, {"val_accuracy": 0.1}, state="pruned")
    failed = agent.ask()
    agent.tell(failed, None, state="fail", attrs={"error": "boom"})
    agent.ask()  # still running
    return agent


def test_a_reader_sees_the_agents_study_as_records(storage_url: str) -> None:
    agent = _searched(storage_url)
    store = open_store(storage_url, "study")
    assert isinstance(store, OptunaStore) and store.study_name == "study"
    assert [(o.name, o.direction) for o in store.objectives] == [
        ("accuracy", "maximize"),
        ("energy_uj", "minimize"),
    ]
    assert store.constraints == (Constraint("energy_uj", 1.0),)
    assert store.space == "toy" and store.user_attrs["space"] == "toy"
    records = store.trials()
    assert [(r.number, r.state) for r in records] == [
        (0, "complete"),
        (1, "complete"),
        (2, "pruned"),
        (3, "fail"),
        (4, "running"),
    ]
    first = records[0]
    assert first.values == {"accuracy": 0.8, "energy_uj": 0.5}
    assert first.arch == agent.store.trial(0).arch and first.params["timesteps"] > 0
    assert "arch" not in first.attrs and first.attrs["test_accuracy"] == 0.7
    assert first.attrs["curve"] == [{"epoch": 0, "val_accuracy": 0.8}]
    assert first.constraints == {"energy_uj": pytest.approx(-0.5)} and first.feasible
    assert not records[1].feasible
    assert isinstance(first.datetime_start, datetime) and first.duration_s is not None
    assert records[4].datetime_complete is None and records[4].duration_s is None
    assert store.n_running() == 1
    assert store.counts() == {"running": 1, "complete": 2, "pruned": 1, "fail": 1}
    assert [r.number for r in store.pareto()] == [0]  # trial 1 is infeasible
    assert store.pareto() == agent.pareto_trials()
    assert store.trial(3) == records[3]
    assert "OptunaStore('study' in sqlite:///" in repr(store)


def test_records_are_plain_data_that_round_trip(storage_url: str) -> None:
    _searched(storage_url)
    for record in open_store(storage_url, "study").trials():
        data = json.loads(json.dumps(record.to_dict()))
        assert TrialRecord.from_dict(data) == record


def test_records_do_not_share_state_with_the_storage() -> None:
    agent = _agent(None)
    proposal = agent.ask()
    agent.tell(proposal, toy_result(proposal.arch), attrs={"rates": [0.1, 0.2]})
    record = agent.store.trial(0)
    record.attrs["rates"].append(9.9)
    assert agent.store.trial(0).attrs["rates"] == [0.1, 0.2]


def test_missing_trial_and_bad_state_filter_are_one_line_errors(storage_url: str) -> None:
    _searched(storage_url)
    store = open_store(storage_url, "study")
    with pytest.raises(AgentError, match=r"^study 'study' has no trial 9 \(trials 0\.\.4\)$"):
        store.trial(9)
    with pytest.raises(AgentError, match="unknown trial state 'done'; choose from running, "):
        store.trials(["done"])  # type: ignore[list-item]
    with pytest.raises(AgentError, match="collection of names"):
        store.trials("complete")  # type: ignore[arg-type]


def test_a_missing_study_is_refused_in_one_line(storage_url: str) -> None:
    _searched(storage_url)
    with pytest.raises(
        AgentError, match=r"^no study 'ghost' in sqlite:///.*study\.db; it holds study$"
    ):
        open_store(storage_url, "ghost")
    storage = optuna.storages.InMemoryStorage()
    with pytest.raises(
        AgentError, match=r"^no study 'ghost' in InMemoryStorage; it holds no study$"
    ):
        open_store(storage, "ghost")
    for i in range(7):
        optuna.create_study(storage=storage, study_name=f"s{i}")
    with pytest.raises(AgentError, match=r"; it holds s0, s1, s2, s3, s4, \.\.\.$"):
        open_store(storage, "ghost")


def test_opening_creates_and_changes_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(AgentError, match="no such database file"):
        open_store(f"sqlite:///{missing}", "study")
    assert not missing.exists()
    with pytest.raises(AgentError, match="is a folder"):
        open_store(f"sqlite:///{tmp_path}", "study")
    journal = tmp_path / "missing.log"
    with pytest.raises(AgentError, match="no such journal file"):
        open_store(str(journal), "study")
    assert not journal.exists()
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE songs (title TEXT)")
    before = other.read_bytes()
    with pytest.raises(AgentError, match=r"not an Optuna database \(it holds songs\)$"):
        open_store(f"sqlite:///{other}", "study")
    assert other.read_bytes() == before
    text = tmp_path / "text.db"
    text.write_text("hello")
    with pytest.raises(AgentError, match=r"not a database \(not SQLite\)$"):
        open_store(f"sqlite:///{text}", "study")


def test_a_journal_file_is_read_like_a_database(tmp_path: Path) -> None:
    journal = str(tmp_path / "study.log")
    agent = _agent(journal)
    proposal = agent.ask()
    agent.tell(proposal, toy_result(proposal.arch))
    assert [r.state for r in open_store(journal, "study").trials()] == ["complete"]


def test_a_foreign_study_gets_objectives_named_by_direction() -> None:
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(
        storage=storage, study_name="plain", directions=["maximize", "minimize"]
    )
    study.add_trial(
        optuna.trial.create_trial(values=[0.5, 2.0], user_attrs={"constraint_values": [0.3]})
    )
    store = open_store(storage, "plain")
    assert [(o.name, o.direction) for o in store.objectives] == [
        ("objective_0", "maximize"),
        ("objective_1", "minimize"),
    ]
    (record,) = store.trials()
    assert record.values == {"objective_0": 0.5, "objective_1": 2.0}
    assert record.arch == {} and record.constraints == {"constraint_0": 0.3}
    assert not record.feasible and store.pareto() == []
    named = open_store(storage, "plain", objectives=TWO)
    assert named.trials()[0].values == {"accuracy": 0.5, "energy_uj": 2.0}


def test_malformed_recorded_objectives_are_an_agent_error() -> None:
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, study_name="odd", directions=["maximize"])
    study.set_user_attr("objectives", [{"name": "accuracy", "direction": "upward"}])
    with pytest.raises(AgentError, match="direction must be one of"):
        _ = open_store(storage, "odd").objectives


def test_a_record_refuses_an_unknown_state() -> None:
    with pytest.raises(AgentError, match="unknown state 'done'"):
        TrialRecord(number=0, state="done")  # type: ignore[arg-type]
    with pytest.raises(AgentError, match="needs a number and a state"):
        TrialRecord.from_dict({"state": "complete"})


def test_early_stopping_reads_a_store_as_it_reads_a_study() -> None:
    agent = _agent(None)
    for _ in range(2):
        proposal = agent.ask()
        for epoch in range(2):
            agent.report(proposal, epoch, {"val_accuracy": 0.9, "energy_uj": 1.0})
        agent.tell(proposal, {"accuracy": 0.9, "energy_uj": 1.0})
    stopper = MultiObjectiveStopper()
    values = {"val_accuracy": 0.3, "energy_uj": 1.0}
    by_study = stopper.decide(agent.study, trial_number=99, epoch=1, values=values)
    by_store = stopper.decide(agent.store, trial_number=99, epoch=1, values=values)
    assert by_study == by_store and by_store.stop
