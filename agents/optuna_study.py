"""Opening an agent's study: create it, or resume / join it after checking what it recorded.

The rules (what must match on resume, a half-made study, joining) are described in
:mod:`agents.optuna_agent`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.exceptions import DuplicatedStudyError

from agents.base import SearchSpaceLike
from agents.errors import AgentError, StudyExistsError
from agents.objectives import Constraint, Objective
from agents.samplers import SamplerSettings, make_sampler
from agents.storage import describe_storage

__all__ = ["open_study"]


def open_study(
    backend: optuna.storages.BaseStorage,
    *,
    storage: str | optuna.storages.BaseStorage | None,
    study_name: str,
    space: SearchSpaceLike,
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint],
    sampler_name: str,
    seed: int | None,
    population_size: int,
    resume: bool,
    join: bool,
) -> tuple[optuna.Study, bool]:
    """Creates the study in ``backend``, or loads it when it exists (``resume`` or ``join``).

    Args:
        backend: The opened storage the study lives in.
        storage: What the caller passed to open it (named in error messages).
        study_name: The study's name.
        space: The search space (its name is recorded and checked).
        objectives: The objectives (recorded; checked on resume).
        constraints: The constraints (recorded; checked on resume).
        sampler_name: A resolved sampler name.
        seed: Seeds the sampler.
        population_size: NSGA-II generation size.
        resume: Continue an existing study.
        join: Open the study if it exists, or create it.

    Returns:
        ``(study, existed)``: the study, and whether it was in the storage already.

    Raises:
        StudyExistsError: The study exists and neither ``resume`` nor ``join`` is set.
        AgentError: A resumed study recorded with other objectives, constraints or space.
    """
    try:
        study_id: int | None = backend.get_study_id_from_name(study_name)
    except KeyError:
        study_id = None
    if study_id is not None and not (resume or join):
        raise StudyExistsError(
            f"study {study_name!r} already exists in {describe_storage(storage)}; "
            "continue it with resume=True or choose another study name"
        )

    n_existing = 0
    half_made = False
    if study_id is not None:
        recorded = backend.get_study_user_attrs(study_id)
        n_existing = len(backend.get_all_trials(study_id, deepcopy=False))
        half_made = _half_made(
            objectives, recorded, n_existing, backend.get_study_directions(study_id)
        )
        if not half_made:
            _check_recorded(study_name, recorded, objectives, constraints, space)
    settings = SamplerSettings(seed=seed, population_size=population_size, trial_offset=n_existing)
    optuna_sampler = make_sampler(sampler_name, n_objectives=len(objectives), settings=settings)

    if study_id is None:
        try:
            study = optuna.create_study(
                storage=backend,
                study_name=study_name,
                directions=[objective.direction for objective in objectives],
                sampler=optuna_sampler,
            )
        except DuplicatedStudyError as error:  # created by another process meanwhile
            if not join:
                raise StudyExistsError(
                    f"study {study_name!r} was just created in {describe_storage(storage)} by "
                    "another process; work on it too with join=True or choose another study "
                    "name"
                ) from error
            study = optuna.load_study(
                study_name=study_name, storage=backend, sampler=optuna_sampler
            )
        else:
            study.set_user_attr("space", space.name)
            study.set_user_attr("constraints", [c.to_dict() for c in constraints])
    else:
        study = optuna.load_study(study_name=study_name, storage=backend, sampler=optuna_sampler)
        if half_made:  # finish the record an interrupted creation left out
            study.set_user_attr("space", space.name)
            study.set_user_attr("constraints", [c.to_dict() for c in constraints])
    # Thresholds may change between runs: store the current ones.
    study.set_user_attr("objectives", [o.to_dict() for o in objectives])
    _name_metrics(study, [o.name for o in objectives])
    return study, study_id is not None


def _name_metrics(study: optuna.Study, names: list[str]) -> None:
    """Name the study's values (optuna-dashboard labels its Pareto-front and history panels with
    them instead of "Objective 0")."""
    if study.metric_names == names:
        return
    with warnings.catch_warnings():  # experimental in Optuna; the stored names are plain data
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(names)


def _half_made(
    objectives: Sequence[Objective],
    recorded: Mapping[str, Any],
    n_trials: int,
    directions: Sequence[optuna.study.StudyDirection],
) -> bool:
    """A study whose creation was interrupted (the process killed between creating it and
    recording its objectives): no objectives recorded, no trial, and our directions."""
    ours = [
        optuna.study.StudyDirection.MAXIMIZE
        if o.direction == "maximize"
        else optuna.study.StudyDirection.MINIMIZE
        for o in objectives
    ]
    return "objectives" not in recorded and n_trials == 0 and list(directions) == ours


def _check_recorded(
    study_name: str,
    recorded: Mapping[str, Any],
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint],
    space: SearchSpaceLike,
) -> None:
    """Refuses to resume a study recorded with other objectives, constraints or space."""
    stored_objectives = recorded.get("objectives")
    if not isinstance(stored_objectives, list):
        raise AgentError(
            f"study {study_name!r} was not created by snn-evolve (no objectives recorded); "
            "choose another study name"
        )
    was = [(o.get("name"), o.get("direction")) for o in stored_objectives]
    now = [(o.name, o.direction) for o in objectives]
    if was != now:
        raise AgentError(
            f"study {study_name!r} optimises {_pairs(was)}, not {_pairs(now)}; "
            "resume with the same objectives or choose another study name"
        )
    was_constraints = recorded.get("constraints", [])
    now_constraints = [c.to_dict() for c in constraints]
    if was_constraints != now_constraints:
        raise AgentError(
            f"study {study_name!r} has constraints {was_constraints}, not {now_constraints}; "
            "resume with the same constraints or choose another study name"
        )
    if recorded.get("space") != space.name:
        raise AgentError(
            f"study {study_name!r} searches space {recorded.get('space')!r}, not "
            f"{space.name!r}; resume with the same space or choose another study name"
        )


def _pairs(pairs: Sequence[tuple[object, object]]) -> str:
    return ", ".join(f"{name} ({direction})" for name, direction in pairs)
