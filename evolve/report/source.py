"""The study a report is about, read from its run store: objectives, reference point, trial
counts, ANN teachers and the best models to show a card for."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolve.errors import RunError, UserError

if TYPE_CHECKING:
    from agents import Objective, RunStore, TrialRecord

__all__ = [
    "PICKS",
    "STATE_WORDS",
    "Source",
    "best_picks",
    "counts_of",
    "counts_text",
    "keyed",
    "open_source",
    "teachers_of",
]

#: The best models the page shows a card for, in order: pick name → its title.
PICKS = {"accuracy": "best accuracy", "energy": "lowest energy", "knee": "knee of the front"}
#: Trial states as the page counts them (a failed trial reads "failed").
STATE_WORDS = {"complete": "complete", "pruned": "pruned", "fail": "failed", "running": "running"}


@dataclass
class Source:
    """The study a report is about, and what its run folder records (when it has one).

    Attributes:
        store: The study's trials; its records' values are named by ``objectives``.
        cfg: The run folder's ``config.yaml`` (empty without a run folder).
        run_dir: The run folder, or ``None`` for a study reported from its storage alone.
        objectives: The study's objectives.
        reference: The hypervolume reference point.
        reference_note: Where the reference point comes from, when worth saying.
        storage: The storage URL the study was read from.
    """

    store: RunStore
    cfg: dict[str, Any]
    run_dir: Path | None
    objectives: tuple[Objective, ...]
    reference: dict[str, float]
    reference_note: str
    storage: str


def _objectives(store: RunStore, cfg: Mapping[str, Any]) -> tuple[Objective, ...]:
    from agents import AgentError, Objective, parse_objectives
    from evolve.store.run import recorded_objectives

    name = store.study_name
    try:
        if cfg.get("objectives"):
            return recorded_objectives(cfg)
        recorded = store.user_attrs.get("objectives")
        if recorded:
            return tuple(
                Objective(str(o["name"]), o["direction"], o.get("threshold")) for o in recorded
            )
    except (AgentError, KeyError, TypeError) as e:
        raise UserError(f"study {name!r} records unreadable objectives: {e}") from None
    directions = [o.direction for o in store.objectives]
    if directions == ["maximize", "minimize"]:
        return parse_objectives("accuracy,energy")
    raise UserError(f"study {name!r} records no objectives; report it from its run folder")


def keyed(store: RunStore, objectives: Sequence[Objective]) -> RunStore:
    """``store`` with its records' values named by ``objectives``: the run folder's names for a
    study that recorded none (its store names them ``objective_0``, ...)."""
    from agents import AgentError
    from agents.optuna_store import OptunaStore

    try:
        if [o.name for o in store.objectives] == [o.name for o in objectives]:
            return store
    except AgentError:  # malformed recorded objectives: the run folder's stand in
        pass
    if isinstance(store, OptunaStore):
        return OptunaStore(store.storage, store.study_name, objectives=objectives)
    return store


def _reference(
    store: RunStore, objectives: Sequence[Objective], cfg: Mapping[str, Any]
) -> tuple[dict[str, float], str]:
    """The hypervolume reference point the run recorded, or the best stand-in and a note."""
    recorded = cfg.get("reference_point") or {}
    if all(o.name in recorded for o in objectives):
        note = ""
        if "energy_uj" in recorded:
            note = (
                f"energy_uj {float(recorded['energy_uj']):.4g} µJ is the energy of the "
                "equivalent ANN of the space's default model"
            )
        return {o.name: float(recorded[o.name]) for o in objectives}, note
    from evolve.store.results import finished_points

    pts = [p for _, p in finished_points(store, objectives)]
    ref: dict[str, float] = {}
    guessed = []
    for i, o in enumerate(objectives):
        if o.name in recorded:
            ref[o.name] = float(recorded[o.name])
        elif o.threshold is not None:
            ref[o.name] = float(o.threshold)
        else:  # the worst value seen stands in
            vals = [p[i] for p in pts]
            worst = (max if o.direction == "minimize" else min)(vals, default=1.0)
            ref[o.name] = float(worst)
            guessed.append(o.name)
    note = ""
    if guessed:
        note = (
            f"the storage records no reference point for {', '.join(guessed)} (the run folder's "
            "config.yaml does): the worst value seen stands in"
        )
    return ref, note


def open_source(
    run_dir: str | Path | None = None,
    *,
    study: str | None = None,
    runs: str | Path = "runs",
    storage: str | None = None,
) -> Source:
    """The study named by a run folder, or by its name (with ``storage`` if given).

    Args:
        run_dir: A run folder (``runs/<study>``).
        study: A study name instead: its run folder, if any, is ``runs/<study>``; with
            ``storage`` the study needs no run folder.
        runs: Where run folders are (with ``study``).
        storage: Read the study from this storage URL instead of the run folder's own.

    Raises:
        UserError: neither or both of ``run_dir`` and ``study``, a folder that is not a run,
            a storage that cannot be opened or does not hold the study.
    """
    from evolve.store.run import open_store as run_store
    from evolve.store.runfolder import read_run_config

    if (run_dir is None) == (study is None):
        raise UserError("give run_dir (a run folder) or study (a study name)")
    folder: Path | None = Path(run_dir if run_dir is not None else Path(runs) / str(study))
    assert folder is not None
    folder = folder.resolve()
    name = folder.name if run_dir is not None else str(study)
    has_config = (folder / "config.yaml").is_file()
    if storage is None:
        if not folder.exists():
            raise RunError(
                f"{folder}: no such run folder; list runs with `ls {folder.parent}` or give "
                "storage=URL"
            )
        cfg = read_run_config(folder)
        store = run_store(folder.name, cfg["storage"])
        storage = str(cfg.get("storage", ""))
    else:
        if run_dir is not None and not has_config:
            raise RunError(
                f"{folder} is not a search run folder (no config.yaml); use study=NAME with "
                "storage=URL for a study without one"
            )
        cfg = read_run_config(folder) if has_config else {}
        store = run_store(name, storage)
        if not has_config:
            folder = None
    objectives = _objectives(store, cfg)
    store = keyed(store, objectives)
    reference, note = _reference(store, objectives, cfg)
    return Source(store, cfg, folder, objectives, reference, note, storage)


def counts_of(store: RunStore) -> dict[str, int]:
    """Trials by state word: complete, pruned, failed, running (always), waiting (if any)."""
    counts = {w: 0 for w in STATE_WORDS.values()}
    for state, n in store.counts().items():
        word = STATE_WORDS.get(state, state)
        counts[word] = counts.get(word, 0) + n
    return counts


def counts_text(counts: Mapping[str, int]) -> str:
    """``3 complete, 1 pruned, 0 failed, 0 running``."""
    return ", ".join(f"{n} {w}" for w, n in counts.items() if n or w in STATE_WORDS.values())


def teachers_of(trials: Iterable[TrialRecord]) -> list[dict[str, Any]]:
    """The ANN teachers distilled trials recorded, one per teacher name."""
    seen: dict[str, dict[str, Any]] = {}
    for t in trials:
        info = t.attrs.get("teacher")
        if (
            isinstance(info, dict)
            and info.get("name")
            and str(info["name"]) not in seen
            and info.get("val_accuracy") is not None
            and info.get("energy_uj") is not None
        ):
            seen[str(info["name"])] = info
    return list(seen.values())


def best_picks(
    front: Sequence[Mapping[str, Any]], objectives: Sequence[Objective]
) -> list[tuple[int, list[str]]]:
    """(trial, [why]) for the best models: best accuracy, lowest energy, knee (one card per
    trial); for other objectives, the best of each."""
    from agents import AgentError, pick

    picks: dict[int, list[str]] = {}
    if not front:
        return []
    try:
        for how, title in PICKS.items():
            picks.setdefault(pick(front, how), []).append(title)
    except AgentError:  # a front without accuracy and energy_uj: best per objective
        for o in objectives:
            sign = 1.0 if o.direction == "maximize" else -1.0
            best = max(front, key=lambda f: sign * float(f["values"][o.name]))
            picks.setdefault(int(best["trial"]), []).append(f"best {o.name}")
    return list(picks.items())
