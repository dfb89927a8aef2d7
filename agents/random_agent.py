"""The random agent: every candidate drawn independently and uniformly from the space.

The baseline any search strategy must beat, and the cheapest smoke test of a space. It records
its trials in an Optuna study like :class:`~agents.optuna_agent.OptunaAgent` (same storage, same
resume and join rules, same early stopping, same :attr:`store`), drawing each trial's values from
its own seeded stream (:class:`~agents.samplers.TrialSeededRandomSampler`): trial ``n`` of a
given seed proposes the same architecture in any study, whatever the trials before it.

Example:
    >>> from agents import parse_objectives
    >>> class Toy:
    ...     name = "toy"
    ...     def sample(self, trial):
    ...         return {"timesteps": trial.suggest_int("timesteps", 1, 8)}
    >>> agent = RandomAgent(
    ...     space=Toy(), objectives=parse_objectives("accuracy,energy"),
    ...     storage=None, study_name="demo", seed=0)
    >>> agent.sampler_name
    'random'
"""

from __future__ import annotations

from collections.abc import Sequence

import optuna

from agents.base import SearchSpaceLike
from agents.errors import AgentError
from agents.fidelity import EarlyStopper
from agents.objectives import Constraint, Objective
from agents.optuna_agent import OptunaAgent

__all__ = ["RandomAgent"]


class RandomAgent(OptunaAgent):
    """Explores a search space at random, recording trials in an Optuna study.

    Takes the arguments of :class:`~agents.optuna_agent.OptunaAgent` (so
    :func:`agents.make_agent` builds either from the same keywords); ``sampler`` may only be
    ``"auto"`` or ``"random"`` and ``population_size`` is ignored.

    Raises:
        AgentError: A sampler other than ``auto``/``random``, or any error of
            :class:`~agents.optuna_agent.OptunaAgent`.
    """

    def __init__(
        self,
        *,
        space: SearchSpaceLike,
        objectives: Sequence[Objective],
        storage: str | optuna.storages.BaseStorage | None,
        study_name: str,
        sampler: str = "auto",
        seed: int | None = 0,
        constraints: Sequence[Constraint] = (),
        resume: bool = False,
        early_stopper: EarlyStopper | None = None,
        population_size: int = 8,
        join: bool = False,
    ) -> None:
        if sampler not in ("auto", "random"):
            raise AgentError(
                f"the random agent samples at random, not with {sampler!r}; use sampler 'auto' "
                "or 'random', or the 'optuna' agent"
            )
        super().__init__(
            space=space,
            objectives=objectives,
            storage=storage,
            study_name=study_name,
            sampler="random",
            seed=seed,
            constraints=constraints,
            resume=resume,
            early_stopper=early_stopper,
            population_size=population_size,
            join=join,
        )
