"""How to explore: agents that propose architectures and learn from their results.

An agent asks a search space for candidates (define-by-run), hands them out as proposals, is told
their accuracy and energy, stops dominated ones early (or by multi-objective successive
halving: :mod:`agents.fidelity`, chosen by name from :data:`FIDELITIES`), and keeps the Pareto
front. Agents are chosen by name from :data:`AGENTS`, an explicit name → import-function table:
adding one is a new file plus one line there (``tests/contract/test_agent_contract.py`` then checks it). Where trials
run is separate: :mod:`agents.ray_backend` runs any agent's proposals on a Ray cluster (``ray``
is imported only then).

What the engine reads back is the project's own record, not a library's: each trial is a
:class:`TrialRecord` (number, state, params, arch, values by objective, attributes), read from a
:class:`RunStore` (an agent's live :attr:`Agent.store`, or :func:`open_store` for a finished run).
Picking one trial off the front (:func:`pick`: best accuracy, lowest energy or :func:`knee`,
within an energy budget) lives with the Pareto code.

This package never imports torch, ``snn_models`` or ``evolve``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import partial
from typing import Any

from agents.base import Agent, Proposal, SearchSpaceLike, TrialStateName
from agents.early_stopping import MultiObjectiveStopper, StopDecision
from agents.errors import AgentError, StudyExistsError
from agents.fidelity import (
    DEFAULT_FIDELITY,
    FIDELITIES,
    EarlyStopper,
    MultiObjectiveASHA,
    make_scheduler,
)
from agents.objectives import OBJECTIVES, Constraint, Objective, parse_objectives
from agents.optuna_agent import OptunaAgent
from agents.optuna_store import OptunaStore, open_store
from agents.pareto import (
    PICKS,
    dominates,
    hypervolume,
    knee,
    pareto_front,
    pareto_records,
    pick,
)
from agents.records import RECORD_STATES, RecordState, RunStore, TrialRecord
from agents.samplers import SAMPLERS
from agents.storage import describe_storage, open_storage

__all__ = [
    "AGENTS",
    "DEFAULT_FIDELITY",
    "FIDELITIES",
    "OBJECTIVES",
    "PICKS",
    "RECORD_STATES",
    "SAMPLERS",
    "SAMPLER_NAMES",
    "Agent",
    "AgentError",
    "Constraint",
    "EarlyStopper",
    "MultiObjectiveASHA",
    "MultiObjectiveStopper",
    "Objective",
    "OptunaAgent",
    "OptunaStore",
    "Proposal",
    "RecordState",
    "RunStore",
    "SearchSpaceLike",
    "StopDecision",
    "StudyExistsError",
    "TrialRecord",
    "TrialStateName",
    "describe_storage",
    "dominates",
    "hypervolume",
    "knee",
    "make_agent",
    "make_scheduler",
    "open_storage",
    "open_store",
    "pareto_front",
    "pareto_records",
    "parse_objectives",
    "pick",
]

#: Every sampler name an agent's ``sampler`` argument accepts.
SAMPLER_NAMES: tuple[str, ...] = ("auto", *SAMPLERS)


def _load(module: str, name: str) -> type[Any]:
    """The class ``name`` of ``module``, imported now (an agent's heavy imports wait for it)."""
    cls: type[Any] = getattr(importlib.import_module(module), name)
    return cls


#: Agent name → function importing its class. Every agent takes the keyword arguments of
#: :class:`OptunaAgent`; adding one is its module plus one line here.
AGENTS: dict[str, Callable[[], type[Any]]] = {
    "optuna": partial(_load, "agents.optuna_agent", "OptunaAgent"),
    "random": partial(_load, "agents.random_agent", "RandomAgent"),
    "oneshot": partial(_load, "agents.oneshot", "OneShotAgent"),
}


def make_agent(name: str, **kwargs: Any) -> Agent:
    """Builds the agent called ``name`` with keyword arguments for its constructor.

    Args:
        name: A key of :data:`AGENTS`.
        **kwargs: The agent's constructor arguments, the same for every agent (see
            :class:`OptunaAgent`).

    Returns:
        The agent.

    Raises:
        AgentError: On an unknown name (the message lists the valid ones), or an agent that is
            not available.
    """
    loader = AGENTS.get(name)
    if name == "ray":
        raise AgentError(
            "Ray runs trials, it does not propose them: use agent 'optuna' and run its trials "
            "on Ray (agents.ray_backend.run_with_ray)"
        )
    if loader is None:
        raise AgentError(f"unknown agent {name!r}; choose from {', '.join(AGENTS)}")
    agent: Agent = loader()(**kwargs)
    return agent
