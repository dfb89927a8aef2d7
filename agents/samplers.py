"""Optuna samplers by name: one explicit table, every entry seeded.

========  =========================================  ========================================
name      sampler                                    use
========  =========================================  ========================================
nsga2     :class:`optuna.samplers.NSGAIISampler`     several objectives (what ``auto`` picks)
tpe       :class:`optuna.samplers.TPESampler`        one objective (what ``auto`` picks)
random    :class:`optuna.samplers.RandomSampler`     baselines, smoke runs
qmc       :class:`optuna.samplers.QMCSampler`        space-filling start (scrambled Sobol;
                                                     experimental in Optuna)
========  =========================================  ========================================

Constraints are not passed as ``constraints_func`` (deprecated since Optuna 5.0): the agent sets
them on each trial with :meth:`optuna.trial.Trial.set_constraint` before telling it, and the
constraint-aware samplers (NSGA-II, TPE) read them from the trial.

Seeds on resume: a sampler's random stream restarts from its seed in every process, so a resumed
study would draw the same candidates again. The agent therefore passes ``trial_offset`` (the
number of trials already in the study) and the stream is seeded with ``seed + trial_offset``;
QMC keeps ``seed`` for its scrambling (its position in the sequence comes from the study), and
offsets only its fallback random sampler.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import optuna

from agents.errors import AgentError

__all__ = ["SAMPLERS", "SamplerSettings", "make_sampler", "resolve_sampler_name"]


@dataclass(frozen=True)
class SamplerSettings:
    """What a sampler is built from.

    Attributes:
        seed: The user's seed (``None``: not reproducible).
        population_size: NSGA-II generation size (small for small budgets; at least 2).
        trial_offset: Trials already in the study (0 for a new study); shifts the random stream.
    """

    seed: int | None = 0
    population_size: int = 8
    trial_offset: int = 0

    @property
    def stream_seed(self) -> int | None:
        """The seed of the sampler's random stream: ``seed + trial_offset``."""
        return None if self.seed is None else self.seed + self.trial_offset


def _nsga2(settings: SamplerSettings) -> optuna.samplers.BaseSampler:
    if settings.population_size < 2:
        raise AgentError(f"nsga2 needs population_size >= 2, got {settings.population_size}")
    return optuna.samplers.NSGAIISampler(
        population_size=settings.population_size, seed=settings.stream_seed
    )


def _tpe(settings: SamplerSettings) -> optuna.samplers.BaseSampler:
    # multivariate=None: Optuna's default, multivariate for one objective, independent for several.
    return optuna.samplers.TPESampler(seed=settings.stream_seed)


def _random(settings: SamplerSettings) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=settings.stream_seed)


def _qmc(settings: SamplerSettings) -> optuna.samplers.BaseSampler:
    with warnings.catch_warnings():  # experimental in Optuna: said once in this module's table
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.QMCSampler(
            qmc_type="sobol",
            scramble=True,
            seed=settings.seed,
            independent_sampler=optuna.samplers.RandomSampler(seed=settings.stream_seed),
            warn_independent_sampling=False,
        )


#: Sampler name → builder. Adding a sampler is one function and one line here.
SAMPLERS: dict[str, Callable[[SamplerSettings], optuna.samplers.BaseSampler]] = {
    "nsga2": _nsga2,
    "tpe": _tpe,
    "random": _random,
    "qmc": _qmc,
}


def resolve_sampler_name(name: str, n_objectives: int) -> str:
    """Turns ``"auto"`` into ``nsga2`` (several objectives) or ``tpe`` (one); checks other names.

    Args:
        name: ``"auto"`` or a key of :data:`SAMPLERS`.
        n_objectives: How many objectives the study has.

    Returns:
        A key of :data:`SAMPLERS`.

    Raises:
        AgentError: On an unknown name (the message lists the valid ones).
    """
    if name == "auto":
        return "nsga2" if n_objectives > 1 else "tpe"
    if name not in SAMPLERS:
        raise AgentError(f"unknown sampler {name!r}; choose from auto, {', '.join(SAMPLERS)}")
    return name


def make_sampler(
    name: str, *, n_objectives: int, settings: SamplerSettings
) -> optuna.samplers.BaseSampler:
    """Builds the sampler called ``name`` (``"auto"`` allowed).

    Args:
        name: ``"auto"`` or a key of :data:`SAMPLERS`.
        n_objectives: How many objectives the study has.
        settings: Seed, population size and trial offset.

    Returns:
        A seeded Optuna sampler.
    """
    return SAMPLERS[resolve_sampler_name(name, n_objectives)](settings)
