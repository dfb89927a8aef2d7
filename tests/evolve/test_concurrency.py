"""Several processes searching one study (`evolve search --join`): every trial is recorded exactly
once, and no sampler state is lost between them.

The sampler's state lives in the study, not in a process. NSGA-II (the default for two
objectives) records each trial's generation as the trial system attribute
``NSGAIISampler:generation`` and caches each generation's parents as the study system attribute
``NSGAIISampler:parent:<generation>`` (trial ids). A process starts generation g + 1 once the
study holds ``population`` complete trials of generation g, counting every process's trials. So
with P processes a generation holds between ``population`` and ``population + P - 1`` trials.
A process blind to the others' trials would fill generation 0 with its own ``population``
trials while the others did the same: about P times as many. The random part of the state
(the sampler's random streams) is re-seeded per trial from (seed, trial number): two processes
with the same seed never draw the same stream.
"""

from __future__ import annotations

import inspect
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
import pytest
from evolve_cli import evolve_at_once
from servers import postgres

from agents import OptunaAgent, open_storage, parse_objectives
from search_spaces import SearchSpace, load_space

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
NSGA2 = optuna.samplers.NSGAIISampler
GENERATION = NSGA2._get_generation_key()
PARENTS = NSGA2._get_parent_cache_key_prefix()
#: the NSGA-II generation size `evolve search` runs with (the agent's default)
POPULATION: int = inspect.signature(OptunaAgent).parameters["population_size"].default
PROCESSES = 2
#: past two full generations, so that children of shared parents are checked too; a generation
#: can hold up to PROCESSES - 1 extra trials (two asks at the same instant), so leave room for it
TRIALS = 2 * (POPULATION + PROCESSES - 1) + 2
TINY = (
    "name: tiny\n"
    "params:\n"
    "  kind: {type: categorical, choices: [mlp], default: mlp}\n"
    "  depth: {type: int, low: 1, high: 1, default: 1}\n"
    "  timesteps: {type: int, low: 1, high: 2, default: 1}\n"
    "layers:\n"
    "  repeat: depth\n"
    "  params:\n"
    "    width: {type: int, low: 8, high: 16, default: 8}\n"
    # a float: two random draws never agree by chance, so a repeated draw shows
    "    threshold: {type: float, low: 0.75, high: 1.25, default: 1.0}\n"
)
TWO = parse_objectives("accuracy,energy")


def _space(tmp_path: Path) -> SearchSpace:
    (tmp_path / "tiny.yaml").write_text(TINY)
    return load_space(str(tmp_path / "tiny.yaml"))


def _fake_result(arch: Mapping[str, Any]) -> dict[str, float]:
    width, steps, theta = arch["layer.0.width"], arch["timesteps"], arch["layer.0.threshold"]
    return {
        "accuracy": 0.5 + 0.02 * width * steps / theta - 0.2 * theta,
        "energy_uj": 0.01 * width * steps / theta,
    }


def _agents_taking_turns(
    storage: str, space: SearchSpace, sampler: str, n_agents: int, n: int
) -> list[dict[str, Any]]:
    agents = [
        OptunaAgent(
            space=space,
            objectives=TWO,
            storage=storage,
            study_name="shared",
            sampler=sampler,
            seed=0,
            population_size=4,
            join=True,
        )
        for _ in range(n_agents)
    ]
    archs = []
    for i in range(n):
        agent = agents[i % n_agents]
        proposal = agent.ask()
        archs.append(dict(proposal.arch))
        agent.tell(proposal, _fake_result(proposal.arch))
    return archs


@pytest.mark.parametrize("sampler", ["nsga2", "tpe", "random", "qmc"])
def test_agents_taking_turns_on_one_study_propose_what_one_agent_alone_would(
    tmp_path: Path, sampler: str
) -> None:
    """Two agents opened on one journal study with the same seed, before either asked: they
    used to draw the same random stream and propose every candidate twice."""
    space = _space(tmp_path)
    n = 14  # past NSGA-II's third generation (population 4)
    together = _agents_taking_turns(str(tmp_path / "two.log"), space, sampler, 2, n)
    alone = _agents_taking_turns(str(tmp_path / "one.log"), space, sampler, 1, n)
    assert together == alone
    thresholds = [arch["layer.0.threshold"] for arch in together[:4]]  # the random first draws
    assert len(set(thresholds)) == len(thresholds), together


def test_an_agent_joining_a_study_whose_creator_has_not_recorded_it_yet_opens_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--join` processes started together: one creates the study, the other opens it in the
    instant before its creator has recorded the objectives, space and constraints."""
    space = _space(tmp_path)
    storage = str(tmp_path / "s.log")
    create_study = optuna.create_study
    joined: list[OptunaAgent] = []

    def create_then_join(**kwargs: Any) -> optuna.Study:
        study = create_study(**kwargs)
        monkeypatch.setattr(optuna, "create_study", create_study)
        joined.append(
            OptunaAgent(
                space=space, objectives=TWO, storage=storage, study_name="s", join=True, seed=0
            )
        )
        return study

    monkeypatch.setattr(optuna, "create_study", create_then_join)
    creator = OptunaAgent(
        space=space, objectives=TWO, storage=storage, study_name="s", join=True, seed=0
    )
    assert len(joined) == 1
    for agent in (creator, joined[0], creator, joined[0]):
        proposal = agent.ask()
        agent.tell(proposal, _fake_result(proposal.arch))
    study = optuna.load_study(study_name="s", storage=open_storage(storage))
    assert study.user_attrs["space"] == "tiny"
    assert [o["name"] for o in study.user_attrs["objectives"]] == ["accuracy", "energy_uj"]
    assert study.user_attrs["constraints"] == []
    assert [t.number for t in study.trials if t.state in FINISHED] == [0, 1, 2, 3]


@contextmanager
def _journal(tmp_path: Path) -> Iterator[str]:
    yield str(tmp_path / "shared.log")


STORAGES = {"journal": _journal, "postgresql": lambda _tmp: postgres()}


@pytest.mark.parametrize("kind", sorted(STORAGES))
def test_processes_joining_one_study_record_each_trial_once_and_share_the_sampler(
    tmp_path: Path, kind: str
) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    with STORAGES[kind](tmp_path) as storage:
        logs = _search_together(tmp_path, storage)
        backend = open_storage(storage)
        trials = optuna.load_study(study_name="shared", storage=backend).trials
        study_attrs = backend.get_study_system_attrs(backend.get_study_id_from_name("shared"))

    # (a) every trial exactly once
    assert [t.number for t in trials] == list(range(len(trials)))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials), [
        (t.number, t.state.name, t.user_attrs.get("error")) for t in trials
    ]
    # each process stops once the study holds TRIALS finished or running trials; processes that
    # check at the same instant may each start one more (docs/cluster.md, "Several processes on
    # one study")
    assert TRIALS <= len(trials) <= TRIALS + PROCESSES - 1
    asked = {side: _numbers(log, r"trial (\d+) arch ") for side, log in logs.items()}
    done = {side: _numbers(log, r"trial (\d+) (?:complete|pruned)") for side, log in logs.items()}
    for side in logs:
        assert done[side], f"process {side} ran no trial"
        assert sorted(done[side]) == sorted(asked[side])
    assert sorted(n for numbers in done.values() for n in numbers) == list(range(len(trials))), (
        "a trial was run by both processes, or by none"
    )
    for t in trials:  # each trial holds the candidate it was asked with
        arch = t.user_attrs["arch"]
        assert {k: arch[k] for k in t.params} == t.params

    # (b) the sampler's state is the study's: both processes read and extended the same one
    missing = [t.number for t in trials if GENERATION not in t.system_attrs]
    assert not missing, f"trials without an NSGA-II generation: {missing}"
    generation: dict[int, int] = {t.number: t.system_attrs[GENERATION] for t in trials}
    sizes = Counter(generation.values())
    last = max(sizes)
    assert sorted(sizes) == list(range(last + 1)) and last >= 2, sizes  # none skipped
    for g, size in sizes.items():
        low = POPULATION if g < last else 1
        assert low <= size <= POPULATION + PROCESSES - 1, (
            f"generation {g} holds {size} trials (population {POPULATION}): {sizes}; a process "
            "that did not see the other's trials fills a generation with its own"
        )
    trial_id = {t._trial_id: t for t in trials}
    for g in range(1, last + 1):
        parents = study_attrs.get(f"{PARENTS}{g}")
        assert parents is not None, f"no parents recorded for generation {g}"
        assert len(parents) == POPULATION and set(parents) <= set(trial_id)
        assert all(generation[trial_id[i].number] < g for i in parents)
    # generation 0 is drawn at random: the same seed in both processes, yet no repeated draw
    first = [t.params["layer.0.threshold"] for t in trials if generation[t.number] == 0]
    assert len(set(first)) == len(first), first


def _search_together(tmp_path: Path, storage: str) -> dict[str, str]:
    """Start PROCESSES `evolve search --join` at the same instant; return each one's log."""
    sides = [f"p{i}" for i in range(PROCESSES)]
    args = [
        "search", "--space", "tiny.yaml", "--trials", str(TRIALS), "--epochs", "1",
        "--no-early-stop", "--study", "shared", "--storage", storage, "--join", "--no-progress",
    ]  # fmt: skip
    commands = [[*args, "--out", side] for side in sides]
    evolve_at_once(commands, tmp_path, env={"OMP_NUM_THREADS": "1"})
    return {side: (tmp_path / side / "shared" / "log.txt").read_text() for side in sides}


def _numbers(log: str, pattern: str) -> list[int]:
    return [int(m.group(1)) for m in re.finditer(pattern, log)]
