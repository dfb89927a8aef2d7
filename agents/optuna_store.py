"""A :class:`~agents.records.RunStore` over an Optuna study: its trials as :class:`TrialRecord`\\s.

:class:`OptunaStore` reads the storage directly (no ``optuna.Study``, no sampler): it never
writes. The study's objectives, constraints and space are the ones the agent recorded in the
study's user attributes (``objectives``, ``constraints``, ``space``); a study without them (made
by something else) gets objectives named ``objective_0``, ``objective_1``, ... in its directions.

:func:`open_store` opens the store of a study by storage and name, for readers that did not run
the search (``show``, ``report``, ``export``). It creates nothing: a missing SQLite or journal
file, a SQLite file that is not an Optuna database and a missing study are refused.

Example:
    >>> import optuna
    >>> from agents.objectives import parse_objectives
    >>> storage = optuna.storages.InMemoryStorage()
    >>> study = optuna.create_study(storage=storage, study_name="s", directions=["maximize"])
    >>> study.set_user_attr("objectives", [o.to_dict() for o in parse_objectives("accuracy")])
    >>> study.add_trial(optuna.trial.create_trial(value=0.5, user_attrs={"arch": {"t": 2}}))
    >>> store = open_store(storage, "s")
    >>> [(r.number, r.state, r.values, r.arch) for r in store.trials()]
    [(0, 'complete', {'accuracy': 0.5}, {'t': 2})]
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import optuna
from optuna.trial import FrozenTrial, TrialState

from agents.errors import AgentError
from agents.objectives import Constraint, Objective
from agents.pareto import pareto_records
from agents.records import RECORD_STATES, RecordState, TrialRecord, check_states
from agents.storage import JOURNAL_SUFFIXES, describe_storage, open_storage, with_trial_cache

__all__ = ["ARCH_ATTR", "OptunaStore", "open_store", "record_of"]

#: The trial user attribute holding the architecture handed out (``TrialRecord.arch``).
ARCH_ATTR = "arch"
#: The trial user attribute holding constraint violations in order (older studies only kept
#: them there).
CONSTRAINT_VALUES_ATTR = "constraint_values"

_TO_OPTUNA: dict[RecordState, TrialState] = {
    "running": TrialState.RUNNING,
    "complete": TrialState.COMPLETE,
    "pruned": TrialState.PRUNED,
    "fail": TrialState.FAIL,
    "waiting": TrialState.WAITING,
}
_FROM_OPTUNA: dict[TrialState, RecordState] = {v: k for k, v in _TO_OPTUNA.items()}


def _plain_copy(value: Any) -> Any:
    """A copy of JSON-like data (dicts and lists copied, everything else shared): attribute
    values are JSON, so this is a deep copy, several times faster than ``copy.deepcopy``."""
    if isinstance(value, dict):
        return {key: _plain_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_copy(item) for item in value]
    return value


def record_of(
    trial: FrozenTrial,
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint] = (),
) -> TrialRecord:
    """An Optuna trial as a :class:`TrialRecord` (attributes deep-copied: the record owns them).

    Args:
        trial: The trial.
        objectives: The study's objectives, naming ``trial.values`` in order.
        constraints: The study's constraints, naming violations kept only as the
            ``constraint_values`` attribute (older studies).

    Returns:
        The record; ``values`` is ``None`` unless the trial holds one value per objective.
    """
    attrs: dict[str, Any] = _plain_copy(dict(trial.user_attrs))
    arch = attrs.pop(ARCH_ATTR, None)
    values = None
    if trial.values is not None and len(trial.values) == len(objectives):
        values = {o.name: float(v) for o, v in zip(objectives, trial.values, strict=True)}
    violations = {str(k): float(v) for k, v in trial.constraints.items()}
    legacy = attrs.get(CONSTRAINT_VALUES_ATTR)
    if (
        not violations
        and isinstance(legacy, list)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in legacy)
    ):
        names = [c.name for c in constraints]
        if len(names) != len(legacy):
            names = [f"constraint_{i}" for i in range(len(legacy))]
        violations = {name: float(v) for name, v in zip(names, legacy, strict=True)}
    return TrialRecord(
        number=trial.number,
        state=_FROM_OPTUNA[trial.state],
        params=dict(trial.params),
        arch=dict(arch) if isinstance(arch, dict) else dict(trial.params),
        values=values,
        attrs=attrs,
        constraints=violations,
        datetime_start=trial.datetime_start,
        datetime_complete=trial.datetime_complete,
    )


def _objectives_of(
    name: str, recorded: object, directions: Sequence[optuna.study.StudyDirection]
) -> tuple[Objective, ...]:
    if recorded is None:
        return tuple(
            Objective(
                f"objective_{i}",
                "maximize" if d == optuna.study.StudyDirection.MAXIMIZE else "minimize",
            )
            for i, d in enumerate(directions)
        )
    try:
        objectives = tuple(
            Objective(str(o["name"]), o["direction"], o.get("threshold"))
            for o in cast(list[dict[str, Any]], recorded)
        )
    except (TypeError, KeyError, AttributeError) as error:
        raise AgentError(f"study {name!r} records malformed objectives: {recorded!r}") from error
    if len(objectives) != len(directions):
        raise AgentError(
            f"study {name!r} records {len(objectives)} objectives for {len(directions)} directions"
        )
    return objectives


def _constraints_of(name: str, recorded: object) -> tuple[Constraint, ...]:
    if recorded is None:
        return ()
    try:
        return tuple(
            Constraint(str(c["name"]), float(c["upper_bound"]))
            for c in cast(list[dict[str, Any]], recorded)
        )
    except (TypeError, KeyError, ValueError, AttributeError) as error:
        raise AgentError(f"study {name!r} records malformed constraints: {recorded!r}") from error


class OptunaStore:
    """The trials of one Optuna study as :class:`TrialRecord`\\s (read only).

    Args:
        storage: The Optuna storage holding the study (a database storage is read through
            Optuna's cache of finished trials, as ``optuna.Study`` reads it).
        study_name: The study's name.
        objectives: The study's objectives; ``None`` reads the ones the agent recorded.
        constraints: The study's constraints; ``None`` reads the recorded ones.

    Raises:
        AgentError: The study is not in the storage, or its recorded objectives or constraints
            are malformed.
    """

    def __init__(
        self,
        storage: optuna.storages.BaseStorage,
        study_name: str,
        *,
        objectives: Sequence[Objective] | None = None,
        constraints: Sequence[Constraint] | None = None,
    ) -> None:
        try:
            self._study_id = storage.get_study_id_from_name(study_name)
        except KeyError:
            raise AgentError(f"no study {study_name!r} in {_where(storage)}") from None
        self._storage = with_trial_cache(storage)
        self._name = study_name
        self._objectives = None if objectives is None else tuple(objectives)
        self._constraints = None if constraints is None else tuple(constraints)

    # -- the study ---------------------------------------------------------------------------

    @property
    def study_name(self) -> str:
        """The study's name in its storage."""
        return self._name

    @property
    def storage(self) -> optuna.storages.BaseStorage:
        """The Optuna storage, as read (for tools that speak Optuna: optuna-dashboard, plots)."""
        return self._storage

    @property
    def user_attrs(self) -> dict[str, Any]:
        """The study's user attributes (a deep copy)."""
        attrs: dict[str, Any] = _plain_copy(self._storage.get_study_user_attrs(self._study_id))
        return attrs

    @property
    def objectives(self) -> tuple[Objective, ...]:
        """The objectives: given, or recorded with the study, or named by its directions."""
        if self._objectives is None:
            self._objectives = _objectives_of(
                self._name,
                self._storage.get_study_user_attrs(self._study_id).get("objectives"),
                self._storage.get_study_directions(self._study_id),
            )
        return self._objectives

    @property
    def constraints(self) -> tuple[Constraint, ...]:
        """The constraints: given, or recorded with the study (empty when none)."""
        if self._constraints is None:
            self._constraints = _constraints_of(
                self._name, self._storage.get_study_user_attrs(self._study_id).get("constraints")
            )
        return self._constraints

    @property
    def space(self) -> str | None:
        """The name of the space the study searches (``None`` when not recorded)."""
        space = self._storage.get_study_user_attrs(self._study_id).get("space")
        return space if isinstance(space, str) else None

    # -- its trials --------------------------------------------------------------------------

    def _frozen(self, states: Iterable[RecordState] | None) -> list[FrozenTrial]:
        wanted = check_states(states)
        optuna_states = None if wanted is None else tuple(_TO_OPTUNA[s] for s in wanted)
        return self._storage.get_all_trials(self._study_id, deepcopy=False, states=optuna_states)

    def trials(self, states: Iterable[RecordState] | None = None) -> list[TrialRecord]:
        """Every trial, or those in ``states``, by number.

        Raises:
            AgentError: On an unknown state name.
        """
        objectives, constraints = self.objectives, self.constraints
        frozen = sorted(self._frozen(states), key=lambda t: t.number)
        return [record_of(t, objectives, constraints) for t in frozen]

    def trial(self, number: int) -> TrialRecord:
        """The trial with this number.

        Raises:
            AgentError: When the study has no such trial.
        """
        try:
            trial_id = self._storage.get_trial_id_from_study_id_trial_number(self._study_id, number)
            frozen = self._storage.get_trial(trial_id)
        except KeyError:
            n = len(self._frozen(None))
            known = f"trials 0..{n - 1}" if n else "no trials yet"
            raise AgentError(f"study {self._name!r} has no trial {number} ({known})") from None
        return record_of(frozen, self.objectives, self.constraints)

    def n_running(self) -> int:
        """How many trials are running (asked, not told) right now."""
        return len(self._frozen(("running",)))

    def counts(self) -> dict[str, int]:
        """Trials per state name, in :data:`~agents.records.RECORD_STATES` order."""
        found: dict[str, int] = {}
        for trial in self._frozen(None):
            state = _FROM_OPTUNA[trial.state]
            found[state] = found.get(state, 0) + 1
        return {state: found[state] for state in RECORD_STATES if state in found}

    def pareto(self) -> list[TrialRecord]:
        """The complete, feasible, non-dominated trials, by number (never pruned ones)."""
        return pareto_records(self.trials(("complete",)), self.objectives)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r} in {_where(self._storage)})"


def _where(storage: optuna.storages.BaseStorage) -> str:
    backend = getattr(storage, "_backend", storage)  # behind Optuna's cache, if any
    url = getattr(backend, "url", None)
    return describe_storage(url) if isinstance(url, str) else describe_storage(backend)


_SQLITE_HEADER = b"SQLite format 3\x00"
#: Study names a "no such study" message lists at most.
_LISTED = 5


def _check_existing_file(storage: str) -> None:
    """Refuses a SQLite or journal file that is missing, or a SQLite file without Optuna's
    tables, before Optuna opens it (it would create the file, or add its tables)."""
    if storage.startswith("sqlite:///"):
        path = Path(storage.removeprefix("sqlite:///").split("?", 1)[0])
        if str(path) in ("", ":memory:"):
            return
        where = f"storage {describe_storage(storage)}"
        if not path.exists():
            raise AgentError(f"{where}: no such database file {path}")
        if not path.is_file():
            raise AgentError(f"{where}: {path} is a folder, not a database file")
        with path.open("rb") as file:
            header = file.read(len(_SQLITE_HEADER))
        if header != _SQLITE_HEADER:
            raise AgentError(f"{where}: {path} is not a database (not SQLite)")
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        except sqlite3.Error:
            return  # e.g. a hot journal a read-only look cannot replay: Optuna's open decides
        if "studies" not in tables:
            shown = ", ".join(sorted(tables)[:3]) or "no tables"
            raise AgentError(f"{where}: {path} is not an Optuna database (it holds {shown})")
        return
    path_text = storage.removeprefix("journal:")
    is_journal = storage.startswith("journal:") or (
        "://" not in storage and path_text.endswith(JOURNAL_SUFFIXES)
    )
    if is_journal and not Path(path_text).is_file():
        raise AgentError(f"storage {path_text}: no such journal file")


def open_store(
    storage: str | optuna.storages.BaseStorage,
    study_name: str,
    *,
    objectives: Sequence[Objective] | None = None,
) -> OptunaStore:
    """The store of an existing study, for reading.

    Args:
        storage: A database URL, a journal file (see :func:`agents.storage.open_storage`) or an
            Optuna storage object.
        study_name: The study's name.
        objectives: Overrides the recorded objectives (for a study that recorded none).

    Returns:
        The store.

    Raises:
        AgentError: A missing file, a SQLite file that is not an Optuna database, a storage that
            cannot be opened, or no such study (one line each, listing the studies the storage
            holds; passwords masked).
    """
    if isinstance(storage, str):
        _check_existing_file(storage)
    backend = open_storage(storage)
    try:
        backend.get_study_id_from_name(study_name)
    except KeyError:
        names = sorted(study.study_name for study in backend.get_all_studies())
        shown = ", ".join(names[:_LISTED]) + (", ..." if len(names) > _LISTED else "")
        holds = f"it holds {shown}" if names else "it holds no study"
        raise AgentError(
            f"no study {study_name!r} in {describe_storage(storage)}; {holds}"
        ) from None
    return OptunaStore(backend, study_name, objectives=objectives)
