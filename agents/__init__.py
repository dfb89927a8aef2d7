"""How to explore: agents that propose architectures and learn from their results.

An agent asks a search space for candidates (define-by-run), hands them out as proposals, is told
their accuracy and energy, stops dominated ones early, and keeps the Pareto front. Agents are
chosen by name from :data:`AGENTS`, an explicit name → import-function table: adding one is a new
file plus one line there. Where trials run is separate: :mod:`agents.ray_backend` runs any
agent's proposals on a Ray cluster (``ray`` is imported only then).

This package never imports torch, ``snn_models`` or ``evolve`` (DESIGN.md §1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agents.base import Agent, Proposal, SearchSpaceLike
from agents.early_stopping import MultiObjectiveStopper, StopDecision
from agents.errors import AgentError, StudyExistsError
from agents.objectives import OBJECTIVES, Constraint, Objective, parse_objectives
from agents.optuna_agent import OptunaAgent, describe_storage, open_storage
from agents.pareto import dominates, hypervolume, pareto_front
from agents.samplers import SAMPLERS

__all__ = [
    "AGENTS",
    "OBJECTIVES",
    "SAMPLERS",
    "SAMPLER_NAMES",
    "Agent",
    "AgentError",
    "Constraint",
    "MultiObjectiveStopper",
    "Objective",
    "OptunaAgent",
    "Proposal",
    "SearchSpaceLike",
    "StopDecision",
    "StudyExistsError",
    "describe_storage",
    "dominates",
    "hypervolume",
    "make_agent",
    "open_storage",
    "pareto_front",
    "parse_objectives",
]

#: Every name ``--sampler`` accepts.
SAMPLER_NAMES: tuple[str, ...] = ("auto", *SAMPLERS)


def _optuna_agent() -> type[Any]:
    return OptunaAgent


#: Agent name → function importing its class (an agent may load heavy packages only when chosen).
AGENTS: dict[str, Callable[[], type[Any]]] = {
    "optuna": _optuna_agent,
}


def make_agent(name: str, **kwargs: Any) -> Agent:
    """Builds the agent called ``name`` with keyword arguments for its constructor.

    Args:
        name: A key of :data:`AGENTS`.
        **kwargs: The agent's constructor arguments (see :class:`OptunaAgent`).

    Returns:
        The agent.

    Raises:
        AgentError: On an unknown name (the message lists the valid ones), or an agent that is
            not available.
    """
    loader = AGENTS.get(name)
    if name == "ray":
        raise AgentError(
            "Ray runs trials, it does not propose them: use --agent optuna --backend ray"
        )
    if loader is None:
        raise AgentError(f"unknown agent {name!r}; choose from {', '.join(AGENTS)}")
    agent: Agent = loader()(**kwargs)
    return agent
