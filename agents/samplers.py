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

Seeds: one random stream per trial. Before each trial, every random generator of the sampler
(its own and its fallback random sampler's) is re-seeded from ``(seed, trial number)``. So a
trial's proposal depends only on the seed, its number and the trials the study already holds:

* the same seed on the same data reproduces every proposal;
* a resumed study does not replay the candidates it drew before (its trials have new numbers);
* processes sharing one study (``join=True``) do not duplicate each other's proposals. Seeded
  once per process, their streams would be identical: two processes that opened the study
  together proposed the same candidates in pairs.

The constructor seeds (``seed + trial_offset``, ``trial_offset`` being the trials already in the
study) only matter for draws made outside a trial, which these samplers do not make. QMC keeps
``seed`` for its scrambling; its position in the sequence comes from the study.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import optuna
from optuna.samplers._lazy_random_state import LazyRandomState
from optuna.study import Study
from optuna.trial import FrozenTrial

from agents.errors import AgentError

__all__ = [
    "SAMPLERS",
    "SamplerSettings",
    "TrialSeededRandomSampler",
    "make_sampler",
    "resolve_sampler_name",
]


@dataclass(frozen=True)
class SamplerSettings:
    """What a sampler is built from.

    Attributes:
        seed: The user's seed (``None``: not reproducible).
        population_size: NSGA-II generation size (small for small budgets; at least 2).
        trial_offset: Trials already in the study (0 for a new study); shifts the constructor
            seed (each trial's stream comes from ``seed`` and the trial's number).
    """

    seed: int | None = 0
    population_size: int = 8
    trial_offset: int = 0

    @property
    def stream_seed(self) -> int | None:
        """The seed a sampler is constructed with: ``seed + trial_offset``."""
        return None if self.seed is None else self.seed + self.trial_offset


#: Seeds enter numpy's SeedSequence modulo 2**64 (it takes non-negative integers only).
_SEED_SPAN = 1 << 64


class TrialSeededRandomSampler(optuna.samplers.RandomSampler):
    """A random sampler that re-seeds its stream, and its owner's ``companions``, per trial.

    Used alone (``random``) or as the fallback random sampler of NSGA-II, TPE and QMC: those
    call its :meth:`before_trial` from theirs, before any draw of the trial.

    Args:
        seed: The user's seed; ``None`` leaves every stream unseeded (not reproducible).
        constructor_seed: The seed its stream starts from before the first trial.
        companions: The owner's own random states (crossover, mutation, TPE's candidates).
    """

    def __init__(
        self,
        seed: int | None,
        constructor_seed: int | None = None,
        companions: Sequence[LazyRandomState] = (),
    ) -> None:
        super().__init__(seed=constructor_seed)
        self._trial_seed = seed
        self._companions = tuple(companions)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        if self._trial_seed is not None:
            for k, state in enumerate((self._rng, *self._companions)):
                words = np.random.SeedSequence([self._trial_seed % _SEED_SPAN, trial.number, k])
                state.rng.seed(words.generate_state(4))
        super().before_trial(study, trial)


def _own_rng(sampler: optuna.samplers.BaseSampler) -> LazyRandomState:
    """The sampler's own random state (Optuna keeps it in ``_rng``; checked, not assumed)."""
    state = getattr(sampler, "_rng", None)
    if not isinstance(state, LazyRandomState):  # pragma: no cover - an Optuna layout change
        raise AssertionError(f"{type(sampler).__name__} has no _rng random state to seed per trial")
    return state


def _with_trial_seeds(
    sampler: optuna.samplers.BaseSampler, settings: SamplerSettings
) -> optuna.samplers.BaseSampler:
    """NSGA-II and TPE draw from ``_rng`` and a fallback ``_random_sampler`` whose
    ``before_trial`` they call: replace the fallback by one that seeds both per trial."""
    if not isinstance(getattr(sampler, "_random_sampler", None), optuna.samplers.RandomSampler):
        raise AssertionError(  # pragma: no cover - an Optuna layout change
            f"{type(sampler).__name__} has no _random_sampler to seed per trial"
        )
    sampler._random_sampler = TrialSeededRandomSampler(  # type: ignore[attr-defined]
        settings.seed, settings.stream_seed, companions=(_own_rng(sampler),)
    )
    return sampler


def _nsga2(settings: SamplerSettings) -> optuna.samplers.BaseSampler:
    if settings.population_size < 2:
        raise AgentError(f"nsga2 needs population_size >= 2, got {settings.population_size}")
    return _with_trial_seeds(
        optuna.samplers.NSGAIISampler(
            population_size=settings.population_size, seed=settings.stream_seed
        ),
        settings,
    )


def _tpe(settings: SamplerSettings) -> optuna.samplers.BaseSampler:
    # multivariate=None: Optuna's default, multivariate for one objective, independent for several.
    return _with_trial_seeds(optuna.samplers.TPESampler(seed=settings.stream_seed), settings)


def _random(settings: SamplerSettings) -> optuna.samplers.BaseSampler:
    return TrialSeededRandomSampler(settings.seed, settings.stream_seed)


def _qmc(settings: SamplerSettings) -> optuna.samplers.BaseSampler:
    with warnings.catch_warnings():  # experimental in Optuna: said once in this module's table
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.QMCSampler(
            qmc_type="sobol",
            scramble=True,
            seed=settings.seed,
            independent_sampler=TrialSeededRandomSampler(settings.seed, settings.stream_seed),
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
