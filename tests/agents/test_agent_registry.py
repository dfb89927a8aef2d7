from __future__ import annotations

import doctest
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
from agent_fakes import ToySpace

import agents
from agents import AGENTS, AgentError, OptunaAgent, make_agent, parse_objectives


def test_optuna_entry_builds_the_agent() -> None:
    assert AGENTS["optuna"]() is OptunaAgent
    agent = make_agent(
        "optuna",
        space=ToySpace(),
        objectives=parse_objectives("accuracy,energy"),
        storage=None,
        study_name="x",
    )
    assert isinstance(agent, OptunaAgent)


def test_ray_is_a_backend_not_an_agent() -> None:
    assert set(AGENTS) == {"optuna"}
    with pytest.raises(AgentError, match="use --agent optuna --backend ray"):
        make_agent("ray", storage=None)


def test_unknown_agent_lists_the_choices() -> None:
    with pytest.raises(AgentError, match=r"unknown agent 'hyperopt'; choose from optuna$"):
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
