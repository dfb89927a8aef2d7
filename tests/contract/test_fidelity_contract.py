"""Every scheduler in ``agents.FIDELITIES`` must follow the same contract.

Built by name with the same keywords; ``none`` is the only one that builds nothing; the others
have a JSON ``state_dict`` and decide every report of an agent-driven study with a
:class:`~agents.StopDecision` whose trial attributes are JSON and use only the reserved keys;
a stopped trial is told PRUNED and stays off the front; the decisions read only the study, so a
second scheduler built the same way decides the same. A new scheduler is its module plus one
line in ``FIDELITIES``: this file then checks it.
"""

from __future__ import annotations

import json

import pytest

from agents import FIDELITIES, OptunaAgent, StopDecision, make_scheduler, parse_objectives
from agents.fidelity import FIDELITY_ATTRS

NAMES = sorted(name for name in FIDELITIES if name != "none")


class _Space:
    name = "toy"

    def sample(self, trial):  # type: ignore[no-untyped-def]
        return {"width": trial.suggest_int("width", 1, 9)}


def test_none_builds_nothing() -> None:
    assert make_scheduler("none", max_epochs=6) is None


@pytest.mark.parametrize("name", NAMES)
def test_scheduler_contract(name: str) -> None:
    scheduler = make_scheduler(name, max_epochs=6, reduction_factor=2, min_epochs=1)
    assert scheduler is not None
    json.dumps(scheduler.state_dict())
    twin = make_scheduler(name, max_epochs=6, reduction_factor=2, min_epochs=1)
    assert twin is not None
    agent = OptunaAgent(
        space=_Space(),
        objectives=parse_objectives("accuracy,energy"),
        storage=None,
        study_name=name,
        sampler="random",
        seed=0,
        early_stopper=scheduler,
    )
    stopped = []
    for i in range(8):
        proposal = agent.ask()
        accuracy = 0.9 - 0.1 * i  # every trial worse than the ones before
        values = {"val_accuracy": accuracy, "energy_uj": 1.0 + i}
        for epoch in range(6):
            same = twin.decide(agent.study, trial_number=proposal.number, epoch=epoch, values={
                "epoch": epoch, **values})  # fmt: skip
            if agent.report(proposal, epoch, values):
                decision = scheduler.decide(
                    agent.study, trial_number=proposal.number, epoch=epoch, values=values
                )
                assert isinstance(decision, StopDecision) and decision.stop and same.stop
                assert set(decision.trial_attrs) <= set(FIDELITY_ATTRS)
                json.dumps(decision.to_dict())
                json.dumps(dict(decision.trial_attrs))
                agent.tell(proposal, None, state="pruned")
                stopped.append(proposal.number)
                break
            assert not same.stop
        else:
            agent.tell(proposal, {"accuracy": accuracy, "energy_uj": 1.0 + i})
    assert stopped, f"{name} never stopped a trial that every earlier one dominates"
    assert not set(stopped) & {t.number for t in agent.pareto_trials()}
    assert agent.n_done() == 8
