"""Multi-fidelity scheduling: multi-objective asynchronous successive halving and Hyperband.

A *scheduler* decides, from the per-epoch reports of a running trial, whether it goes on
training. :class:`~agents.early_stopping.MultiObjectiveStopper` (``stopper``, the default)
stops a trial that enough finished peers dominate at the same epoch. :class:`MultiObjectiveASHA`
(``asha``, ``hyperband``) gives every trial only the epochs it earns: multi-objective
asynchronous successive halving (Schmucker et al. 2021, "Multi-objective asynchronous
successive halving"; Li et al. 2020, ASHA), in its stopping form (a trial continues or stops
where it is, nothing is paused or resumed). Every scheduler has the :class:`EarlyStopper` shape
(``decide`` → :class:`~agents.early_stopping.StopDecision`), so an agent, the local loop, the
``--join`` processes and the Ray backend (its Tune scheduler calls the agent's ``report``) use
any of them unchanged. :data:`FIDELITIES` maps names to them: a new scheduler is one file plus
one line there.

The rule (``r`` = ``min_epochs``, ``η`` = ``reduction_factor``, ``R`` = ``max_epochs``; a report
at 0-based epoch ``e`` comes after ``e + 1`` epochs of training):

    1. The rung *levels* are ``r·η^k`` epochs for ``k = 0, 1, ...`` while ``r·η^k < R`` (a
       trial that trained all ``R`` epochs completes; it is never judged at its end).
    2. Hyperband runs ``B`` brackets (``asha``: ``B = 1``; ``hyperband``: ``B`` = number of
       levels + 1). Trial ``n`` belongs to bracket ``s = n mod B``; bracket ``s`` has the rungs
       ``levels[s:]`` (the last bracket has none: its trials always train fully). Trial
       numbers are the study's, so every process and the Ray driver agree.
    3. When trial T reports after ``L`` epochs and ``L`` is a rung of its bracket, the trials
       *at the rung* are T and every other trial of the same bracket whose ``curve`` has an
       entry for epoch ``L - 1`` with an accuracy (and an energy): COMPLETE, PRUNED and RUNNING
       ones (asynchronous: a trial that passed the rung counts; FAIL ones do not). Their
       number, T included, is ``n``.
    4. They are ranked by non-dominated sorting of (accuracy ↑, energy ↓) at that epoch; within
       T's front by crowding distance (NSGA-II: the sum over both objectives of the normalised
       gap between a point's neighbours; the two ends of a front are infinitely far), larger
       first; then by higher accuracy, lower energy, and lower trial number.
    5. With ``n < η`` T continues (the rung has too few trials to halve). Otherwise T continues
       iff its position (0-based) is ``< n // η``: it is in the top ``1/η``.

Every rung reached is recorded with the trial when it is told: the user attributes ``rung``
(epochs at the last rung reached), ``bracket`` and ``promotions`` (a list of ``{"rung",
"epoch", "rank", "n_at_rung", "promoted"}``, ``rank`` being T's 0-based position, plus
``data_fraction`` when the report carries one: the share of the training data), so
``trials.parquet`` has them as columns. A stopped trial also gets ``early_stop`` (the decision
and its reason) at once; the caller tells it PRUNED, and a pruned trial is never on the Pareto
front.

Decisions read the other trials' curves only (which every process writes at each report), so
``--join`` processes and the Ray driver see the same rungs. A per-study cache keeps the rung
values of finished trials (their curves never change), so a decision costs one storage read
plus ``O(n log n)``, and the rung history waits for the trial's ``tell`` (no storage write at a
rung but the curve's own).

Example:
    >>> scheduler = make_scheduler("asha", max_epochs=12)
    >>> scheduler.levels, scheduler.n_brackets
    ((1, 3, 9), 1)
    >>> make_scheduler("hyperband", max_epochs=12).rungs_of(2)
    (9,)
    >>> position_at_rung([(0, 0.9, 2.0), (1, 0.5, 1.0), (2, 0.4, 3.0)], 2)
    2
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any, Protocol

import optuna
from optuna.trial import TrialState

from agents.early_stopping import CURVE_ATTR, MultiObjectiveStopper, StopDecision, curve_value
from agents.errors import AgentError
from agents.records import RunStore, TrialRecord

__all__ = [
    "DEFAULT_FIDELITY",
    "FIDELITIES",
    "FIDELITY_ATTRS",
    "EarlyStopper",
    "MultiObjectiveASHA",
    "crowding_distances",
    "describe_stops",
    "make_scheduler",
    "non_dominated_fronts",
    "position_at_rung",
    "rung_levels",
]

#: The trial user attributes a scheduler writes (besides ``early_stop`` on a stopped trial).
FIDELITY_ATTRS = ("rung", "bracket", "promotions")

#: The trial states whose curves count at a rung (FAIL and WAITING do not).
_AT_RUNG = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)

#: ``(number, accuracy, energy)`` of one trial at one rung.
Point = tuple[int, float, float]


class EarlyStopper(Protocol):
    """What an agent needs of a scheduler (:class:`~agents.early_stopping.MultiObjectiveStopper`
    and :class:`MultiObjectiveASHA` have this shape)."""

    def state_dict(self) -> dict[str, Any]:
        """The configuration as plain data."""
        ...

    def decide(
        self,
        study: optuna.Study | RunStore,
        *,
        trial_number: int,
        epoch: int,
        values: Mapping[str, float],
    ) -> StopDecision:
        """Whether the trial reporting ``values`` at 0-based ``epoch`` stops now."""
        ...


def rung_levels(max_epochs: int, min_epochs: int = 1, reduction_factor: int = 3) -> tuple[int, ...]:
    """The rung levels ``r·η^k < R`` in epochs (``r`` = ``min_epochs``, ``η`` =
    ``reduction_factor``, ``R`` = ``max_epochs``), smallest first; empty when ``r >= R``.

    Raises:
        AgentError: ``max_epochs`` or ``min_epochs`` below 1, or ``reduction_factor`` below 2.
    """
    for name, value, low in (
        ("max_epochs", max_epochs, 1),
        ("min_epochs", min_epochs, 1),
        ("reduction_factor", reduction_factor, 2),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise AgentError(f"{name} must be an integer >= {low}, got {value!r}")
    levels, level = [], min_epochs
    while level < max_epochs:
        levels.append(level)
        level *= reduction_factor
    return tuple(levels)


def non_dominated_fronts(points: Sequence[Point]) -> list[int]:
    """The front index (0 = non-dominated) of each point, for accuracy ↑ and energy ↓.

    Two-objective non-dominated sorting in ``O(n log n)``: sweep the points by accuracy
    (highest first, then lowest energy); a point joins the first front none of whose members
    dominates it, which is decided by that front's lowest energy so far (fronts' lowest
    energies never decrease from one front to the next, so a bisection finds it). Equal points
    do not dominate each other.
    """
    order = sorted(range(len(points)), key=lambda i: (-points[i][1], points[i][2], points[i][0]))
    lowest: list[float] = []  # per front: the energy of its last (lowest-energy) member
    last_accuracy: list[float] = []  # ... and that member's accuracy
    front_of = [0] * len(points)
    for i in order:
        _, accuracy, energy = points[i]
        f = bisect.bisect_left(lowest, energy)
        # a front whose lowest energy equals ours dominates us unless that member equals us
        while f < len(lowest) and lowest[f] == energy and last_accuracy[f] != accuracy:
            f += 1
        if f == len(lowest):
            lowest.append(energy)
            last_accuracy.append(accuracy)
        else:
            lowest[f], last_accuracy[f] = energy, accuracy
        front_of[i] = f
    return front_of


def crowding_distances(front: Sequence[Point]) -> list[float]:
    """NSGA-II crowding distance of each point of one front (accuracy, energy): for each
    objective, the gap between a point's two neighbours divided by the front's range, summed;
    the ends of the front get ``inf`` (an objective with zero range adds nothing)."""
    n = len(front)
    distance = [0.0] * n
    if n <= 2:
        return [math.inf] * n
    for axis in (1, 2):
        order = sorted(range(n), key=lambda i: (front[i][axis], front[i][0]))
        low, high = front[order[0]][axis], front[order[-1]][axis]
        distance[order[0]] = distance[order[-1]] = math.inf
        if high == low:
            continue
        for j in range(1, n - 1):
            gap = front[order[j + 1]][axis] - front[order[j - 1]][axis]
            distance[order[j]] += gap / (high - low)
    return distance


def position_at_rung(points: Sequence[Point], index: int) -> int:
    """The 0-based rank of ``points[index]`` among ``points`` (rule 4 of the module docstring):
    non-dominated front, then crowding distance within the front (larger first), then higher
    accuracy, lower energy, lower trial number."""
    fronts = non_dominated_fronts(points)
    mine = fronts[index]
    ahead = sum(1 for f in fronts if f < mine)
    members = [i for i, f in enumerate(fronts) if f == mine]
    crowd = crowding_distances([points[i] for i in members])

    def key(j: int) -> tuple[float, float, float, int]:
        number, accuracy, energy = points[members[j]]
        return (-crowd[j], -accuracy, energy, number)

    me = key(members.index(index))
    return ahead + sum(1 for j in range(len(members)) if key(j) < me)


class MultiObjectiveASHA:
    """Multi-objective asynchronous successive halving over epochs, with Hyperband brackets.

    The rule is written out in this module's docstring.

    Args:
        max_epochs: The training budget ``R`` in epochs (rungs lie below it).
        reduction_factor: ``η`` (>= 2): the top ``1/η`` of a rung is promoted.
        min_epochs: ``r`` (>= 1): epochs at the first rung.
        brackets: Hyperband brackets ``B``; ``None``: one per level plus one without rungs
            (full Hyperband); 1: plain ASHA.
        accuracy_key: Reported metric to maximise.
        energy_key: Reported metric to minimise; ``None`` ranks by accuracy only.
        name: The name recorded in :meth:`state_dict` (``asha`` or ``hyperband``).

    Raises:
        AgentError: a setting out of range.
    """

    def __init__(
        self,
        *,
        max_epochs: int,
        reduction_factor: int = 3,
        min_epochs: int = 1,
        brackets: int | None = 1,
        accuracy_key: str = "val_accuracy",
        energy_key: str | None = "energy_uj",
        name: str = "asha",
    ) -> None:
        self.levels = rung_levels(max_epochs, min_epochs, reduction_factor)
        most = len(self.levels) + 1
        if brackets is None:
            brackets = most
        if isinstance(brackets, bool) or not isinstance(brackets, int) or brackets < 1:
            raise AgentError(f"brackets must be an integer >= 1, got {brackets!r}")
        self.max_epochs = max_epochs
        self.reduction_factor = reduction_factor
        self.min_epochs = min_epochs
        self.n_brackets = min(brackets, most)
        self.accuracy_key = accuracy_key
        self.energy_key = energy_key
        self.name = name
        # per study: trial number -> {rung level: (accuracy, energy)} of finished trials
        self._finished: dict[tuple[int, str], dict[int, dict[int, tuple[float, float]]]] = {}
        # per study and trial: the rungs it reached so far (the agent records them when told)
        self._history: dict[tuple[int, str, int], list[dict[str, Any]]] = {}

    def state_dict(self) -> dict[str, Any]:
        """Returns the configuration as plain data (for the run log)."""
        return {
            "rule": f"mo-{self.name}",
            "max_epochs": self.max_epochs,
            "reduction_factor": self.reduction_factor,
            "min_epochs": self.min_epochs,
            "brackets": self.n_brackets,
            "levels": list(self.levels),
            "accuracy_key": self.accuracy_key,
            "energy_key": self.energy_key,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.state_dict().items() if k != "rule")
        return f"{type(self).__name__}({args})"

    def bracket_of(self, trial_number: int) -> int:
        """The bracket of a trial: its number modulo the number of brackets."""
        return trial_number % self.n_brackets

    def rungs_of(self, bracket: int) -> tuple[int, ...]:
        """The rung levels (epochs) of a bracket: ``levels[bracket:]``."""
        return self.levels[bracket:]

    # -- reading the study --------------------------------------------------------------------

    @staticmethod
    def _key(history: optuna.Study | RunStore) -> tuple[int, str]:
        return id(history), str(getattr(history, "study_name", ""))

    def _values_at(self, curve: object, levels: Iterable[int]) -> dict[int, tuple[float, float]]:
        """A curve's (accuracy, energy) at each of ``levels`` (epochs) that it holds."""
        wanted = {level - 1: level for level in levels}
        out: dict[int, tuple[float, float]] = {}
        if not isinstance(curve, list):
            return out
        for entry in curve:
            if not isinstance(entry, Mapping):
                continue
            level = wanted.get(entry.get("epoch"))  # type: ignore[arg-type]
            if level is None:
                continue
            accuracy = curve_value(entry, self.accuracy_key)
            energy = 0.0 if self.energy_key is None else curve_value(entry, self.energy_key)
            if accuracy is not None and energy is not None:
                out[level] = (accuracy, energy)
        return out

    def _trials(self, history: optuna.Study | RunStore) -> Iterable[tuple[int, bool, Any]]:
        """``(number, finished, user attributes)`` of every trial that may stand at a rung."""
        if isinstance(history, optuna.Study):
            for t in history.get_trials(deepcopy=False, states=_AT_RUNG):
                yield t.number, t.state in _FINISHED, t.user_attrs
            return
        for record in history.trials(("complete", "pruned", "running")):
            yield record.number, record.finished, record.attrs

    def _at_rung(
        self, history: optuna.Study | RunStore, trial_number: int, level: int
    ) -> tuple[list[Point], Mapping[str, Any]]:
        """The other trials of ``trial_number``'s bracket at rung ``level``, and the reporting
        trial's own attributes (empty when the history does not hold it)."""
        cache = self._finished.setdefault(self._key(history), {})
        bracket = self.bracket_of(trial_number)
        points: list[Point] = []
        own: Mapping[str, Any] = {}
        for number, finished, attrs in self._trials(history):
            if number == trial_number:
                own = attrs
                continue
            if self.bracket_of(number) != bracket:
                continue
            values = cache.get(number)
            if values is None:
                values = self._values_at(attrs.get(CURVE_ATTR), self.levels)
                if finished:
                    cache[number] = values
            at = values.get(level)
            if at is not None:
                points.append((number, *at))
        return points, own

    # -- the decision ---------------------------------------------------------------------------

    def decide(
        self,
        study: optuna.Study | RunStore,
        *,
        trial_number: int,
        epoch: int,
        values: Mapping[str, float],
    ) -> StopDecision:
        """Applies the rule to one report.

        Args:
            study: The study (or run store) holding the trials and their curves.
            trial_number: The reporting trial.
            epoch: The 0-based epoch of the report (a rung at ``L`` epochs decides at ``L - 1``).
            values: The reported values; must hold ``accuracy_key`` (and ``energy_key`` if set).

        Returns:
            The decision (``n_compared``: the other trials at the rung; ``n_dominators``: those
            ranked above the trial); at a rung it carries the trial attributes to record in
            ``trial_attrs``: ``rung``, ``promotions`` and, at the trial's first rung,
            ``bracket``.

        Raises:
            AgentError: When a needed metric is missing from ``values``.
        """
        accuracy = curve_value(values, self.accuracy_key)
        if accuracy is None:
            raise AgentError(
                f"{self.name} needs {self.accuracy_key!r} in each report, got {sorted(values)}"
            )
        energy = 0.0
        if self.energy_key is not None:
            reported = curve_value(values, self.energy_key)
            if reported is None:
                raise AgentError(
                    f"{self.name} needs {self.energy_key!r} in each report, got "
                    f"{sorted(values)}; build it with energy_key=None to rank by accuracy only"
                )
            energy = reported
        level = epoch + 1
        bracket = self.bracket_of(trial_number)
        if level not in self.rungs_of(bracket):
            return StopDecision(False, epoch, 0, 0, f"epoch {epoch} is not at a rung")
        peers, own = self._at_rung(study, trial_number, level)
        points = [*peers, (trial_number, accuracy, energy)]
        n = len(points)
        keep = n // self.reduction_factor
        rank = position_at_rung(points, n - 1)
        promoted = n < self.reduction_factor or rank < keep
        mine = (*self._key(study), trial_number)
        earlier = self._history.get(mine, own.get("promotions"))
        history = [p for p in earlier or () if isinstance(p, dict) and p.get("rung") != level]
        history.append(
            {"rung": level, "epoch": epoch, "rank": rank, "n_at_rung": n, "promoted": promoted}
        )
        fraction = curve_value(values, "data_fraction")  # fidelity_resource "data"
        if fraction is not None:
            history[-1]["data_fraction"] = fraction
        self._history[mine] = history
        attrs = {"rung": level, "bracket": bracket, "promotions": history}
        eta = self.reduction_factor
        if n < eta:
            reason = f"rung {level} epochs holds {n} < {eta} trials: all continue"
        else:
            reason = (
                f"rank {rank + 1} of {n} trials at rung {level} epochs (bracket {bracket}); the "
                f"top {keep} (1/{eta}) continue"
            )
        if fraction is not None:
            reason += f"; trained on {fraction:.3g} of the training data"
        return StopDecision(not promoted, epoch, n - 1, rank, reason, trial_attrs=attrs)


def describe_stops(
    name: str,
    reduction_factor: int,
    min_epochs: int,
    records: Iterable[TrialRecord],
    resource: str = "epochs",
) -> str:
    """One line on what a scheduler did in a run (``evolve show``): its settings and how many
    trials stopped at each rung (from the ``rung`` of the pruned ``records``); ``resource``
    ``data`` says that the epochs before a rung also trained on a share of the data.

    Example:
        >>> stopped = [TrialRecord(number=4, state="pruned", attrs={"rung": 1})]
        >>> describe_stops("asha", 3, 1, stopped)
        'fidelity asha (eta 3, first rung 1 epochs): 1 trials stopped at rungs (1 after 1 epochs)'
    """
    at: dict[int, int] = {}
    for record in records:
        rung = record.attrs.get("rung")
        if record.state == "pruned" and isinstance(rung, int):
            at[rung] = at.get(rung, 0) + 1
    where = ", ".join(f"{n} after {rung} epochs" for rung, n in sorted(at.items()))
    return (
        f"fidelity {name}{' on growing data fractions' if resource == 'data' else ''} "
        f"(eta {reduction_factor}, first rung {min_epochs} epochs): "
        f"{sum(at.values())} trials stopped at rungs" + (f" ({where})" if where else "")
    )


#: Scheduler name → factory ``f(max_epochs=, reduction_factor=, min_epochs=)`` (``none``: no
#: early stopping). Adding one is its module plus one line here.
FIDELITIES: dict[str, Callable[..., EarlyStopper | None]] = {
    "none": lambda **_: None,
    "stopper": lambda **_: MultiObjectiveStopper(),
    "asha": MultiObjectiveASHA,
    "hyperband": partial(MultiObjectiveASHA, brackets=None, name="hyperband"),
}
#: The scheduler a search uses unless told otherwise (the domination stopper).
DEFAULT_FIDELITY = "stopper"


def make_scheduler(
    name: str, *, max_epochs: int, reduction_factor: int = 3, min_epochs: int = 1
) -> EarlyStopper | None:
    """Builds the scheduler called ``name`` (a key of :data:`FIDELITIES`).

    Args:
        name: ``none``, ``stopper``, ``asha`` or ``hyperband``.
        max_epochs: The training budget per trial (epochs).
        reduction_factor: ``η`` of ``asha``/``hyperband``.
        min_epochs: ``r`` of ``asha``/``hyperband``: epochs at the first rung.

    Returns:
        The scheduler, or ``None`` for ``none``.

    Raises:
        AgentError: An unknown name (the message lists the valid ones) or a bad setting.
    """
    factory = FIDELITIES.get(name)
    if factory is None:
        raise AgentError(f"fidelity must be one of {', '.join(FIDELITIES)}, got {name!r}")
    rung_levels(max_epochs, min_epochs, reduction_factor)  # the settings, for every name
    return factory(max_epochs=max_epochs, reduction_factor=reduction_factor, min_epochs=min_epochs)
