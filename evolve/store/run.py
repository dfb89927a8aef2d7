"""Reading a run folder: its recorded configuration and its run store (the trials).

Every command and :class:`evolve.Run` open a run here, once: ``config.yaml`` gives the storage,
the objectives and the reference point; the storage gives the trials as
:class:`agents.TrialRecord`\\ s through a run store (an Optuna study is one implementation).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolve.errors import RunError

if TYPE_CHECKING:
    from agents import Objective, RunStore

__all__ = ["dataset_of", "front_settings", "load_run", "open_store", "recorded_objectives"]


def load_run(run_dir: Path, storage: str | None = None) -> tuple[RunStore, dict[str, Any]]:
    """The run store of a run folder and its ``config.yaml``.

    Args:
        run_dir: The run folder (``runs/<study>``).
        storage: Read the study from this storage instead of the recorded one.

    Raises:
        RunError: not a run folder, a damaged config.yaml, a storage that is missing, not an
            Optuna database, or does not hold the study.
    """
    from evolve.store.runfolder import read_run_config

    cfg = read_run_config(run_dir)
    try:
        objectives: tuple[Objective, ...] | None = recorded_objectives(cfg)
    except Exception:  # a damaged record: front_settings says so when it matters
        objectives = None
    return open_store(run_dir.name, storage or cfg["storage"], objectives=objectives), cfg


def open_store(
    name: str, storage: str, *, objectives: tuple[Objective, ...] | None = None
) -> RunStore:
    """Study ``name`` in ``storage``, which must already exist (a missing SQLite file is not
    created, a non-Optuna one not modified).

    Args:
        name: The study's name.
        storage: Its storage URL or journal file.
        objectives: Name the values by these (a run folder's own record) when the study
            recorded none of its own.

    Raises:
        RunError: the storage is missing, not an Optuna database, cannot be opened, or does
            not hold the study (the message lists the studies it holds).
    """
    from agents import AgentError, describe_storage, open_storage
    from agents.optuna_store import OptunaStore
    from agents.optuna_store import open_store as open_optuna_store
    from evolve.store.runfolder import check_sqlite_storage

    check_sqlite_storage(storage, must_exist=True)  # SQLAlchemy would create a missing file
    try:
        store = open_optuna_store(storage, name)
    except AgentError as e:
        if not str(e).startswith("no study "):
            raise RunError(str(e)) from None
        names = [s.study_name for s in open_storage(storage).get_all_studies()]
        raise RunError(
            f"storage {describe_storage(storage)} holds no study {name!r}; it holds: "
            f"{', '.join(names) or 'none'}"
        ) from None
    if objectives is not None:
        try:
            same = [o.name for o in store.objectives] == [o.name for o in objectives]
        except AgentError:  # malformed recorded objectives: the run folder's stand in
            same = False
        if not same:
            store = OptunaStore(store.storage, store.study_name, objectives=objectives)
    return store


def recorded_objectives(cfg: Mapping[str, Any]) -> tuple[Objective, ...]:
    """The objectives a ``config.yaml`` records: the named ones, then the caller's own
    (``user_objectives``: ``+name`` maximised, ``-name`` minimised)."""
    from agents import Objective, parse_objectives

    objectives = parse_objectives(cfg["objectives"])
    for spec in cfg.get("user_objectives") or ():
        spec = str(spec)
        name = spec.lstrip("+-").rsplit(":", 1)[-1]
        objectives += (Objective(name, "maximize" if spec.startswith("+") else "minimize"),)
    return objectives


def front_settings(
    cfg: Mapping[str, Any], run_dir: Path
) -> tuple[tuple[Objective, ...], dict[str, float]]:
    """The objectives and the hypervolume reference point a run's config.yaml records.

    Raises:
        RunError: either is missing or unreadable (a damaged run folder).
    """
    try:
        objectives = recorded_objectives(cfg)
        reference = {str(k): float(v) for k, v in dict(cfg["reference_point"]).items()}
    except (KeyError, TypeError, ValueError) as e:  # AgentError is a ValueError
        raise RunError(
            f"{run_dir / 'config.yaml'}: no readable objectives and reference_point ({e}); "
            "the run folder is damaged"
        ) from None
    return objectives, reference


def dataset_of(cfg: Mapping[str, Any], run_dir: Path) -> str:
    """The data set a search run's config.yaml names.

    Raises:
        RunError: none is named (a damaged folder, or a continual run: it records a scenario).
    """
    dataset = cfg.get("dataset")
    if not isinstance(dataset, str) or not dataset:
        raise RunError(
            f"{run_dir / 'config.yaml'} names no data set (a continual run records a scenario "
            "instead); this command reads search runs"
        )
    return dataset
