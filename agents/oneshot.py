"""The one-shot agent: NSGA-II over a weight-sharing supernet, then the front retrained.

The agent itself is the Optuna agent with NSGA-II as its default sampler; what makes it
one-shot is :attr:`OneShotAgent.weight_sharing`, which the engine reads
(:mod:`evolve.engine.oneshot`): it trains one supernet per structure with uniform path sampling,
lets a second study of this agent (``<study>-supernet``, same storage) search inside it on
inherited weights and measured energy, then retrains that study's front from scratch as the
trials of the run's own study. The run's trials, front, checkpoints and resume are therefore
those of every other agent.

Example:
    >>> from agents import parse_objectives
    >>> class Toy:
    ...     name = "toy"
    ...     def sample(self, trial):
    ...         return {"timesteps": trial.suggest_int("timesteps", 1, 8)}
    >>> agent = OneShotAgent(
    ...     space=Toy(), objectives=parse_objectives("accuracy,energy"),
    ...     storage=None, study_name="demo", seed=0)
    >>> agent.sampler_name, agent.weight_sharing
    ('nsga2', True)
"""

from __future__ import annotations

from typing import Any, ClassVar

from agents.optuna_agent import OptunaAgent

__all__ = ["OneShotAgent"]


class OneShotAgent(OptunaAgent):
    """Proposes with NSGA-II (``sampler="auto"``) and asks the engine for weight sharing.

    Takes the arguments of :class:`~agents.optuna_agent.OptunaAgent`; ``sampler="auto"``
    means NSGA-II whatever the number of objectives (another sampler name is used as given).
    """

    #: The engine trains a supernet and searches inside it before any trial is trained.
    weight_sharing: ClassVar[bool] = True

    def __init__(self, *, sampler: str = "auto", **kwargs: Any) -> None:
        super().__init__(sampler="nsga2" if sampler == "auto" else sampler, **kwargs)
