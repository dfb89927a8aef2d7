from __future__ import annotations

import doctest
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from agent_fakes import ToySpace

import agents
from agents import AGENTS, AgentError, OptunaAgent, make_agent, parse_objectives
from agents.oneshot import OneShotAgent
from agents.random_agent import RandomAgent


@pytest.mark.parametrize(
    ("name", "cls"), [("optuna", OptunaAgent), ("random", RandomAgent), ("oneshot", OneShotAgent)]
)
def test_each_entry_builds_its_agent_from_the_same_keywords(name: str, cls: type) -> None:
    assert AGENTS[name]() is cls
    agent = make_agent(
        name,
        space=ToySpace(),
        objectives=parse_objectives("accuracy,energy"),
        storage=None,
        study_name="x",
        sampler="auto",
        seed=0,
        population_size=4,
    )
    assert isinstance(agent, cls)


def test_the_random_agent_samples_at_random_only() -> None:
    kwargs: dict[str, Any] = {
        "space": ToySpace(),
        "objectives": parse_objectives("accuracy"),
        "storage": None,
    }
    agent = make_agent("random", study_name="a", **kwargs)
    assert isinstance(agent, RandomAgent) and agent.sampler_name == "random"
    with pytest.raises(AgentError, match="samples at random, not with 'tpe'"):
        make_agent("random", study_name="b", sampler="tpe", **kwargs)


def test_ray_is_a_backend_not_an_agent() -> None:
    assert set(AGENTS) == {"optuna", "random", "oneshot"}
    with pytest.raises(AgentError, match=r"use agent 'optuna' and run its trials on Ray"):
        make_agent("ray", storage=None)


def test_unknown_agent_lists_the_choices() -> None:
    with pytest.raises(
        AgentError, match=r"unknown agent 'hyperopt'; choose from optuna, random, oneshot$"
    ):
        make_agent("hyperopt")


def test_importing_agents_loads_neither_torch_nor_ray() -> None:
    code = (
        "import sys, agents; "
        "bad = sorted({'torch', 'ray', 'snn_models', 'evolve'} & set(sys.modules)); "
        "assert not bad, bad"
    )
    root = Path(agents.__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=120)


@pytest.mark.parametrize(
    "module",
    ["agents"] + [m.name for m in pkgutil.walk_packages(agents.__path__, prefix="agents.")],
)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(
        importlib.import_module(module),
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.failed == 0
