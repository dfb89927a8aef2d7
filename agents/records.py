"""The project's own record of a search: one :class:`TrialRecord` per trial, read from a
:class:`RunStore`.

The engine (the search loop, ``show``, ``report``, ``export``) reads trials through these types,
never through the library that stores them: an Optuna study is one :class:`RunStore`
(:class:`agents.optuna_store.OptunaStore`), a future agent may bring another. A record is plain
data: numbers, strings, lists and dicts (JSON-serialisable through :meth:`TrialRecord.to_dict`).

Example:
    >>> record = TrialRecord(
    ...     number=3, state="complete", params={"timesteps": 4}, arch={"timesteps": 4},
    ...     values={"accuracy": 0.9, "energy_uj": 0.2}, attrs={"metrics": {"spike_rate": 0.1}})
    >>> record.finished, record.feasible
    (True, True)
    >>> TrialRecord.from_dict(record.to_dict()) == record
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast, get_args

from agents.errors import AgentError

if TYPE_CHECKING:
    from agents.objectives import Constraint, Objective

__all__ = ["RECORD_STATES", "RecordState", "RunStore", "TrialRecord", "check_states"]

#: Where a trial stands. ``running``: asked, not told yet; ``waiting``: queued, not started
#: (a storage may hold such trials, agents here never make them).
RecordState = Literal["running", "complete", "pruned", "fail", "waiting"]
#: Every :data:`RecordState`, in that order.
RECORD_STATES: tuple[RecordState, ...] = get_args(RecordState)


def check_states(states: Iterable[str] | None) -> tuple[RecordState, ...] | None:
    """Checks a filter of state names (``None``: no filter).

    Args:
        states: State names, or ``None``.

    Returns:
        The states as a tuple, or ``None``.

    Raises:
        AgentError: On a name that is not a :data:`RecordState` (the message lists them), or a
            single string given instead of a collection of names.
    """
    if states is None:
        return None
    if isinstance(states, str):
        raise AgentError(f"states must be a collection of names, e.g. ({states!r},)")
    out = tuple(states)
    for state in out:
        if state not in RECORD_STATES:
            raise AgentError(
                f"unknown trial state {state!r}; choose from {', '.join(RECORD_STATES)}"
            )
    return cast(tuple[RecordState, ...], out)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _moment(text: object) -> datetime | None:
    if text is None:
        return None
    if isinstance(text, datetime):
        return text
    try:
        return datetime.fromisoformat(str(text))
    except ValueError as error:
        raise AgentError(f"not a date and time: {text!r}") from error


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the engine sees it: plain data, no storage types.

    Attributes:
        number: The trial's number in its study (0, 1, 2, ... in the order asked).
        state: One of :data:`RECORD_STATES`.
        params: The values the sampler drew, by parameter name.
        arch: The architecture handed out (the ``arch`` attribute the agent recorded; the drawn
            ``params`` when none was recorded).
        values: Objective name → value for a ``complete`` trial; ``None`` otherwise (a pruned or
            failed trial has no values, only the ``metrics`` it was told).
        attrs: Every other attribute recorded with the trial: ``metrics`` (everything told),
            ``curve`` (per-epoch reports), ``error``/``fail_reason``, diagnostics.
        constraints: Constraint name → ``value - upper_bound`` (feasible when <= 0); empty
            without constraints.
        datetime_start: When the trial was asked (``None`` if unknown or not started).
        datetime_complete: When it was told (``None`` while it runs).
    """

    number: int
    state: RecordState
    params: dict[str, Any] = field(default_factory=dict)
    arch: dict[str, Any] = field(default_factory=dict)
    values: dict[str, float] | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    constraints: dict[str, float] = field(default_factory=dict)
    datetime_start: datetime | None = None
    datetime_complete: datetime | None = None

    def __post_init__(self) -> None:
        if self.state not in RECORD_STATES:
            raise AgentError(
                f"trial {self.number}: unknown state {self.state!r}; "
                f"choose from {', '.join(RECORD_STATES)}"
            )

    @property
    def finished(self) -> bool:
        """Whether the trial counts toward a budget (``complete`` or ``pruned``)."""
        return self.state in ("complete", "pruned")

    @property
    def feasible(self) -> bool:
        """Whether every constraint holds (always True without constraints)."""
        return all(value <= 0.0 for value in self.constraints.values())

    @property
    def duration_s(self) -> float | None:
        """Seconds from ask to tell (``None`` until both are known)."""
        if self.datetime_start is None or self.datetime_complete is None:
            return None
        return (self.datetime_complete - self.datetime_start).total_seconds()

    @property
    def metrics(self) -> dict[str, Any]:
        """Everything measured and told for the trial (the ``metrics`` attribute; may be empty)."""
        metrics = self.attrs.get("metrics")
        return dict(metrics) if isinstance(metrics, Mapping) else {}

    def to_dict(self) -> dict[str, Any]:
        """Returns the record as JSON-serialisable data (date and times in ISO 8601)."""
        return {
            "number": self.number,
            "state": self.state,
            "params": dict(self.params),
            "arch": dict(self.arch),
            "values": None if self.values is None else dict(self.values),
            "attrs": dict(self.attrs),
            "constraints": dict(self.constraints),
            "datetime_start": _iso(self.datetime_start),
            "datetime_complete": _iso(self.datetime_complete),
            "duration_s": self.duration_s,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialRecord:
        """Reads a record written by :meth:`to_dict` (``duration_s`` is derived, not read).

        Raises:
            AgentError: On a missing number or state, or an unknown state.
        """
        try:
            number, state = int(data["number"]), data["state"]
        except (KeyError, TypeError, ValueError) as error:
            raise AgentError(f"a trial record needs a number and a state: {error}") from error
        values = data.get("values")
        return cls(
            number=number,
            state=state,
            params=dict(data.get("params") or {}),
            arch=dict(data.get("arch") or {}),
            values=None if values is None else {str(k): float(v) for k, v in values.items()},
            attrs=dict(data.get("attrs") or {}),
            constraints={str(k): float(v) for k, v in (data.get("constraints") or {}).items()},
            datetime_start=_moment(data.get("datetime_start")),
            datetime_complete=_moment(data.get("datetime_complete")),
        )


class RunStore(Protocol):
    """The record of one search, read side: what ``show``, ``report`` and ``export`` read.

    An agent's own store (:attr:`agents.Agent.store`) is live: it sees each trial as soon as it
    is asked or told. :func:`agents.optuna_store.open_store` opens the store of a study another
    process wrote.
    """

    @property
    def study_name(self) -> str:
        """The study's name in its storage."""
        ...

    @property
    def objectives(self) -> tuple[Objective, ...]:
        """The objectives, in the study's order (the keys of each record's ``values``)."""
        ...

    @property
    def constraints(self) -> tuple[Constraint, ...]:
        """The constraints the study was created with (empty when none)."""
        ...

    @property
    def user_attrs(self) -> dict[str, Any]:
        """The study's own record: ``objectives``, ``constraints``, ``space`` and whatever the
        caller stored (a copy)."""
        ...

    def trials(self, states: Iterable[RecordState] | None = None) -> list[TrialRecord]:
        """Every trial (or those in ``states``), by number."""
        ...

    def trial(self, number: int) -> TrialRecord:
        """The trial with this number (:class:`AgentError` when there is none)."""
        ...

    def n_running(self) -> int:
        """How many trials are running (asked, not told) right now."""
        ...

    def counts(self) -> dict[str, int]:
        """Trials per state name (only states that occur)."""
        ...

    def pareto(self) -> list[TrialRecord]:
        """The complete, feasible, non-dominated trials, by number (never pruned ones)."""
        ...
