from __future__ import annotations

from typing import Any

import optuna
import pytest
from agent_fakes import ToySpace, toy_result

from agents import SAMPLER_NAMES, SAMPLERS, AgentError, OptunaAgent, parse_objectives

TWO = parse_objectives("accuracy,energy")


def _run(
    storage: str | None, name: str, *, sampler: str, seed: int | None, n: int, resume: bool = False
) -> list[dict[str, Any]]:
    agent = OptunaAgent(
        space=ToySpace(),
        objectives=TWO,
        storage=storage,
        study_name=name,
        sampler=sampler,
        seed=seed,
        resume=resume,
        population_size=4,
    )
    archs = []
    for _ in range(n):
        proposal = agent.ask()
        archs.append(dict(proposal.arch))
        agent.tell(proposal, toy_result(proposal.arch))
    return archs


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_same_seed_same_sampler_same_proposals(sampler: str) -> None:
    n = 12  # past nsga2's first generations (population 4) and tpe's 10 startup trials
    first = _run(None, "a", sampler=sampler, seed=3, n=n)  # in memory: two separate studies
    second = _run(None, "a", sampler=sampler, seed=3, n=n)
    assert first == second
    assert len({str(arch) for arch in first}) > 1


@pytest.mark.parametrize("sampler", ["random", "tpe", "nsga2"])
def test_another_seed_gives_other_proposals(sampler: str) -> None:
    assert _run(None, "a", sampler=sampler, seed=1, n=3) != _run(
        None, "a", sampler=sampler, seed=2, n=3
    )


def test_resume_does_not_replay_the_random_stream(storage_url: str) -> None:
    first = _run(storage_url, "s", sampler="random", seed=0, n=3)
    resumed = _run(storage_url, "s", sampler="random", seed=0, n=3, resume=True)
    assert not any(arch in first for arch in resumed)
    fresh = _run(storage_url, "t", sampler="random", seed=0, n=6)
    assert fresh[:3] == first  # a new study with the same seed still replays exactly


def test_auto_picks_nsga2_for_several_objectives_and_tpe_for_one() -> None:
    several = OptunaAgent(space=ToySpace(), objectives=TWO, storage=None, study_name="x")
    assert several.sampler_name == "nsga2"
    assert isinstance(several.study.sampler, optuna.samplers.NSGAIISampler)
    one = OptunaAgent(
        space=ToySpace(), objectives=parse_objectives("accuracy"), storage=None, study_name="y"
    )
    assert one.sampler_name == "tpe"
    assert isinstance(one.study.sampler, optuna.samplers.TPESampler)


def test_unknown_sampler_lists_the_choices() -> None:
    with pytest.raises(AgentError, match="unknown sampler 'cmaes'") as info:
        OptunaAgent(space=ToySpace(), objectives=TWO, storage=None, study_name="x", sampler="cmaes")
    for name in SAMPLER_NAMES:
        assert name in str(info.value)


def test_nsga2_needs_a_population() -> None:
    with pytest.raises(AgentError, match="population_size"):
        OptunaAgent(
            space=ToySpace(), objectives=TWO, storage=None, study_name="x", population_size=1
        )
