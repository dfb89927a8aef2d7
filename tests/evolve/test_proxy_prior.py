"""The proxy prior in a real (tiny) search: a new study's first trials are the best-scoring of
the drawn pool (scores recomputed here), recorded with their attributes, no other trial in the
study, nothing enqueued on resume, the same seed drawing the same candidates, and the filter
leaving the prior's trials alone."""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import evolve
from agents import OptunaAgent, parse_objectives
from evolve.data.datasets import load_digits
from evolve.engine.proxy_filter import ProxyFilter, proxy_batches, score_arch
from evolve.engine.proxy_prior import (
    POPULATION,
    Candidate,
    choose,
    prior_size,
    seed_population,
)
from evolve.errors import RunError, UserError
from search_spaces import RandomSuggester, load_space
from tests.evolve.evolve_cli import api_search

# low thresholds: the untrained candidates spike, so their scores differ
SPACE = (
    "name: tiny_prior\n"
    "params:\n"
    "  depth: {type: int, low: 1, high: 1}\n"
    "layers:\n"
    "  repeat: depth\n"
    "  params:\n"
    "    width: {type: int, low: 8, high: 32, step: 8}\n"
    "    neuron: {type: categorical, choices: [if, lif]}\n"
    "    threshold: {type: float, low: 0.05, high: 1.5}\n"
    "fixed: {kind: mlp, timesteps: 2}\n"
)


@pytest.fixture(scope="module")
def digits() -> Any:
    return load_digits(seed=0)


def _space(tmp_path: Path) -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(SPACE)
    return str(path)


def _best_of_pool(space: str, data: Any, n: int, size: int, seed: int) -> list[tuple[Any, ...]]:
    """(index, arch, score) of the best ``size`` of ``n`` draws, computed here from the space's
    own sampling and score_arch (ties: the earlier draw), in drawing order."""
    suggester, batches = RandomSuggester(seed=seed), proxy_batches(data, seed=seed)
    drawn = [dict(load_space(space).sample(suggester)) for _ in range(n)]
    scores = [score_arch(a, data, "sahd", batches, seed=seed + i) for i, a in enumerate(drawn)]
    best = sorted(range(n), key=lambda i: (-scores[i], i))[:size]
    return [(i, drawn[i], scores[i]) for i in sorted(best)]


def _search(space: str, tmp_path: Path, trials: int, **kw: Any) -> evolve.Run:
    return api_search(space, tmp_path, trials, **kw)


def test_first_trials_are_the_best_of_the_pool_and_resume_adds_none(
    tmp_path: Path, digits: Any
) -> None:
    space = _space(tmp_path)
    _search(space, tmp_path, 3, proxy_prior="sahd", proxy_pool=2)
    run_dir = tmp_path / "runs" / "p"
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert (cfg["proxy_prior"], cfg["proxy_pool"]) == ("sahd", 2)
    assert "proxy_filter" not in cfg

    df = pd.read_parquet(run_dir / "trials.parquet").sort_values("number")
    assert list(df["number"]) == [0, 1, 2] and set(df["state"]) == {"COMPLETE"}  # none extra
    assert set(df["proxy_prior"]) == {"sahd"}
    expected = _best_of_pool(space, digits, n=2 * 3, size=3, seed=0)
    assert len({round(s, 6) for _, _, s in _best_of_pool(space, digits, 6, 6, 0)}) > 3
    for (_, row), (_, arch, score) in zip(df.iterrows(), expected, strict=True):
        recorded = yaml.safe_load(row["arch"]) if isinstance(row["arch"], str) else row["arch"]
        assert dict(recorded) == arch
        assert math.isclose(row["proxy_score"], score, rel_tol=1e-9)

    # resume: the agent samples the next trial itself; the prior does not run again
    _search(space, tmp_path, 4, resume=True)
    df = pd.read_parquet(run_dir / "trials.parquet").sort_values("number")
    assert list(df["number"]) == [0, 1, 2, 3]
    assert list(df["proxy_prior"].notna()) == [True, True, True, False]
    with pytest.raises(RunError, match="proxy_prior='grad' differs"):
        _search(space, tmp_path, 5, resume=True, proxy_prior="grad")


def _agent(space: str, name: str = "s") -> OptunaAgent:
    return OptunaAgent(
        space=load_space(space),
        objectives=parse_objectives("accuracy,energy"),
        storage=None,
        study_name=name,
        seed=0,
    )


def test_same_seed_same_candidates_and_only_queued_trials(tmp_path: Path, digits: Any) -> None:
    space = _space(tmp_path)

    def seeded(seed: int) -> tuple[OptunaAgent, list[Candidate]]:
        agent = _agent(space)
        got = seed_population(
            agent, load_space(space), digits, proxy="sahd", pool=2, size=3, seed=seed
        )
        return agent, got

    agent, first = seeded(0)
    _, again = seeded(0)
    _, other = seeded(1)
    assert [c.params for c in first] == [c.params for c in again]
    assert [c.params for c in first] != [c.params for c in other]
    # the study holds the queued trials and nothing else (the draws made no trial)
    assert [t.state for t in agent.store.trials()] == ["waiting"] * 3
    for c in first:
        proposal = agent.ask()
        assert dict(proposal.arch) == c.arch
        attrs = agent.store.trial(proposal.number).attrs
        assert (attrs["proxy_prior"], attrs["proxy_score"]) == ("sahd", c.score)
        agent.tell(proposal, {"accuracy": 0.5, "energy_uj": 1.0})
    # a study that holds trials is left as it is
    again_seeded = seed_population(
        agent, load_space(space), digits, proxy="sahd", pool=2, size=3, seed=0
    )
    assert again_seeded == [] and len(agent.store.trials()) == 3


def test_filter_trains_the_prior_trials_then_filters(tmp_path: Path, digits: Any) -> None:
    space = _space(tmp_path)
    agent = _agent(space)
    seed_population(agent, load_space(space), digits, proxy="sahd", pool=2, size=2, seed=0)
    filt = ProxyFilter(agent, digits, proxy="grad", pool=3, seed=0)
    for expected in (0, 1):  # the queued trials, one ask each, nothing rejected
        proposal = filt.ask()
        assert proposal.number == expected and filt.rejected == 0
        filt.tell(proposal, {"accuracy": 0.5, "energy_uj": 1.0})
        attrs = agent.store.trial(expected).attrs  # the prior's score, no filter attributes
        assert attrs["proxy_prior"] == "sahd" and attrs["proxy_score"] is not None
        assert "proxy" not in attrs and "proxy_pool" not in attrs
    proposal = filt.ask()  # the agent's own proposals: a pool of 3, two rejected
    assert filt.rejected == 2 and proposal.number in (2, 3, 4)
    filt.tell(proposal, {"accuracy": 0.5, "energy_uj": 1.0})
    attrs = agent.store.trial(proposal.number).attrs
    assert (attrs["proxy"], attrs["proxy_pool"]) == ("grad", 3) and "proxy_prior" not in attrs
    assert filt.n_done() == 3


def test_choose_ranks_within_kinds_in_their_drawn_proportion() -> None:
    def cand(i: int, kind: str, score: float) -> Candidate:
        return Candidate(i, {"i": i}, {"kind": kind}, score)

    cnn = [cand(i, "cnn", s) for i, s in enumerate((5.0, 9.0, 1.0, 7.0, 3.0, 8.0))]
    mlp = [cand(6, "mlp", 0.5), cand(7, "mlp", -math.inf)]
    # 6 of 8 drawn are CNNs: 3 of 4 places; the MLP gets one, never the unbuildable one
    assert [c.index for c in choose(cnn + mlp, 4)] == [1, 3, 5, 6]
    # a kind without a buildable candidate leaves its place to the sampler
    assert [c.index for c in choose([*cnn, cand(6, "mlp", -math.inf)], 4)] == [1, 3, 5]
    assert choose([], 3) == [] and prior_size(3) == 3 and prior_size(100) == POPULATION
    # P is the agents' first generation: NSGA-II's population size
    assert inspect.signature(OptunaAgent).parameters["population_size"].default == POPULATION


def test_bad_prior_settings_record_nothing(tmp_path: Path) -> None:
    space = _space(tmp_path)
    with pytest.raises(UserError, match="proxy_prior must be one of sahd, grad, got 'nope'"):
        _search(space, tmp_path, 1, proxy_prior="nope")
    with pytest.raises(UserError, match="proxy_prior needs the local backend"):
        _search(space, tmp_path, 1, proxy_prior="sahd", backend="ray")
    with pytest.raises(UserError, match="leave out proxy_prior"):
        _search(space, tmp_path, 1, proxy_prior="grad", agent="oneshot")
    assert not (tmp_path / "runs" / "p").exists()
