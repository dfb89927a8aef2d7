"""Pareto fronts and hypervolumes in pure Python (no numpy), exact, for small sets of points.

Points are sequences of objective values in the user's own directions (accuracy as a fraction,
energy in µJ, ...). Internally every objective is turned into a loss (maximised values negated),
so "better" always means "smaller".

Domination: ``a`` dominates ``b`` when ``a`` is no worse in every objective and strictly better in
at least one. Two equal points do not dominate each other, so both stay on the front.

The hypervolume is the measure of the region dominated by the front and bounded by the reference
point; points that are not strictly better than the reference in every objective add nothing.
In 2-D it is a sort and a sweep; above 2-D a slicing recursion (HSO: sort by the last objective,
add up slabs of the (d−1)-dimensional hypervolume), exact and fine for the tens to hundreds of
points a search produces.

Picking one trial off a front of (accuracy ↑, energy ↓) trials lives here too: :func:`knee` and
:func:`pick` (best accuracy, lowest energy or the knee, within an energy budget).

Example:
    >>> directions = ["maximize", "minimize"]  # accuracy, energy_uj
    >>> points = [(0.75, 2.0), (0.5, 1.0), (0.25, 1.5)]
    >>> pareto_front(points, directions)
    [0, 1]
    >>> hypervolume(points, reference=(0.0, 3.0), directions=directions)
    1.25
    >>> front = [{"trial": 4, "values": {"accuracy": 0.75, "energy_uj": 2.0}},
    ...          {"trial": 7, "values": {"accuracy": 0.5, "energy_uj": 1.0}}]
    >>> pick(front, "accuracy"), pick(front, "energy"), pick(front, "accuracy", max_energy=1.5)
    (4, 7, 7)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agents.errors import AgentError
from agents.records import TrialRecord

if TYPE_CHECKING:
    from agents.objectives import Objective

__all__ = [
    "ACCURACY_KEY",
    "ENERGY_KEY",
    "PICKS",
    "choose_trial",
    "dominates",
    "hypervolume",
    "knee",
    "pareto_front",
    "pareto_records",
    "pick",
]

#: The ways :func:`pick` chooses a trial off a front.
PICKS: tuple[str, ...] = ("accuracy", "energy", "knee")
#: The objectives :func:`knee` and :func:`pick` read (accuracy ↑, energy per inference in µJ ↓).
ACCURACY_KEY = "accuracy"
ENERGY_KEY = "energy_uj"


def _check_directions(directions: Sequence[str]) -> None:
    for direction in directions:
        if direction not in ("maximize", "minimize"):
            raise AgentError(f"direction must be 'maximize' or 'minimize', got {direction!r}")


def _as_losses(
    points: Sequence[Sequence[float]], directions: Sequence[str]
) -> list[tuple[float, ...]]:
    _check_directions(directions)
    signs = [-1.0 if direction == "maximize" else 1.0 for direction in directions]
    losses = []
    for index, point in enumerate(points):
        if len(point) != len(signs):
            raise AgentError(f"point {index} has {len(point)} values for {len(signs)} objectives")
        if any(math.isnan(value) for value in point):
            raise AgentError(f"point {index} has a NaN value")
        losses.append(tuple(sign * float(value) for sign, value in zip(signs, point, strict=True)))
    return losses


def _dominates_loss(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[str]) -> bool:
    """Whether point ``a`` dominates point ``b`` (no worse everywhere, strictly better somewhere).

    Args:
        a: Objective values of the first point.
        b: Objective values of the second point.
        directions: ``"maximize"``/``"minimize"`` per objective.

    Returns:
        True when ``a`` dominates ``b``.
    """
    loss_a, loss_b = _as_losses([a, b], directions)
    return _dominates_loss(loss_a, loss_b)


def pareto_front(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[int]:
    """Indices of the non-dominated points, in their original order.

    Args:
        points: Objective values per point, in the user's directions.
        directions: ``"maximize"``/``"minimize"`` per objective.

    Returns:
        The indices of the points that no other point dominates (duplicates are all kept).
    """
    losses = _as_losses(points, directions)
    return [
        i
        for i, candidate in enumerate(losses)
        if not any(_dominates_loss(other, candidate) for other in losses)
    ]


def hypervolume(
    points: Sequence[Sequence[float]],
    reference: Sequence[float],
    directions: Sequence[str],
) -> float:
    """Exact hypervolume dominated by ``points`` and bounded by ``reference``.

    Args:
        points: Objective values per point, in the user's directions (any, dominated included).
        reference: The reference point in the same units and directions: for a maximised
            objective its lowest value worth having (accuracy 0), for a minimised one its highest
            (e.g. the energy of the ANN teacher).
        directions: ``"maximize"``/``"minimize"`` per objective (at least one).

    Returns:
        The hypervolume, in the product of the objectives' units; 0.0 when no point is strictly
        better than the reference in every objective.

    Raises:
        AgentError: On mismatched lengths, NaN values or an unknown direction.
    """
    if not directions:
        raise AgentError("a hypervolume needs at least one objective")
    (ref,) = _as_losses([reference], directions)
    if any(not math.isfinite(value) for value in ref):
        raise AgentError("the hypervolume reference point must be finite")
    losses = [p for p in _as_losses(points, directions) if all(map(float.__lt__, p, ref))]
    if not losses:
        return 0.0
    front = [losses[i] for i in pareto_front(losses, ["minimize"] * len(ref))]
    return _hso(sorted(set(front)), ref)


def _hso(points: list[tuple[float, ...]], ref: tuple[float, ...]) -> float:
    """Hypervolume of loss points, all strictly below ``ref``, by slicing the last objective."""
    dims = len(ref)
    if dims == 1:
        return ref[0] - min(p[0] for p in points)
    if dims == 2:
        area, ceiling = 0.0, ref[1]
        for x, y in sorted(points):  # x ascending: each point adds the strip below the last y
            if y < ceiling:
                area += (ref[0] - x) * (ceiling - y)
                ceiling = y
        return area
    ordered = sorted(points, key=lambda p: p[-1])
    volume = 0.0
    for i, point in enumerate(ordered):
        upper = ordered[i + 1][-1] if i + 1 < len(ordered) else ref[-1]
        depth = upper - point[-1]
        if depth > 0.0:
            volume += depth * _hso([p[:-1] for p in ordered[: i + 1]], ref[:-1])
    return volume


def pareto_records(
    records: Iterable[TrialRecord], objectives: Sequence[Objective]
) -> list[TrialRecord]:
    """The front of a study's trials: complete, feasible, non-dominated, by number.

    Args:
        records: Trials in any state (pruned, failed and running ones never count).
        objectives: The study's objectives (names and directions).

    Returns:
        The ``complete`` and feasible records with a finite value for every objective that no
        other such record dominates, by trial number (equal points are all kept).
    """
    names = [objective.name for objective in objectives]
    candidates = sorted(
        (
            record
            for record in records
            if record.state == "complete"
            and record.values is not None
            and record.feasible
            and all(name in record.values and math.isfinite(record.values[name]) for name in names)
        ),
        key=lambda record: record.number,
    )
    points = [[record.values[name] for name in names] for record in candidates if record.values]
    front = pareto_front(points, [objective.direction for objective in objectives])
    return [candidates[i] for i in front]


def knee(points: Sequence[Sequence[float]]) -> int:
    """Index of the knee of a 2-D front of (accuracy ↑, energy ↓) points.

    Both coordinates are scaled to [0, 1] over the front; the knee is the point farthest from
    the straight line through the two extremes (the most accurate and the cheapest point). With
    fewer than three points, or all points on that line, it is the most accurate point.

    Args:
        points: ``(accuracy, energy)`` pairs, usually a Pareto front.

    Returns:
        The index of the knee in ``points``.

    Raises:
        AgentError: On an empty sequence.

    Example:
        >>> knee([(0.9, 1.0), (0.85, 0.2), (0.7, 0.15), (0.5, 0.1)])
        1
    """
    if not points:
        raise AgentError("an empty front has no knee")
    accs = [p[0] for p in points]
    ens = [p[1] for p in points]

    def scale(v: float, lo: float, hi: float) -> float:
        return 0.0 if hi == lo else (v - lo) / (hi - lo)

    norm = [(scale(a, min(accs), max(accs)), scale(e, min(ens), max(ens))) for a, e, *_ in points]
    i_acc = max(range(len(points)), key=lambda i: (accs[i], -ens[i]))
    i_en = min(range(len(points)), key=lambda i: (ens[i], -accs[i]))
    (x1, y1), (x2, y2) = norm[i_acc], norm[i_en]
    length = math.hypot(x2 - x1, y2 - y1)
    if length == 0.0:
        return i_acc
    dist = [abs((y2 - y1) * x - (x2 - x1) * y + x2 * y1 - y2 * x1) / length for x, y in norm]
    best = max(range(len(points)), key=lambda i: (round(dist[i], 12), accs[i]))
    return best if dist[best] > 1e-12 else i_acc


def _numbered(entry: TrialRecord | Mapping[str, Any]) -> tuple[int, Mapping[str, float]]:
    """A front entry's trial number and objective values (a record or a ``pareto.json`` entry)."""
    if isinstance(entry, TrialRecord):
        return entry.number, entry.values or {}
    number = entry.get("trial", entry.get("number"))
    if isinstance(number, bool) or not isinstance(number, int):
        raise AgentError(f"a front entry needs a trial number, got {number!r}")
    values = entry.get("values")
    return number, values if isinstance(values, Mapping) else {}


def pick(
    front: Sequence[TrialRecord | Mapping[str, Any]],
    pick: str = "accuracy",
    max_energy: float | None = None,
) -> int:
    """The trial to take off a front: best accuracy, lowest energy or the knee, within budget.

    Only entries with both ``accuracy`` and ``energy_uj`` values count. Ties: the most accurate
    is the cheapest of the most accurate, the cheapest the most accurate of the cheapest (then
    the first in ``front``).

    Args:
        front: Front trials: :class:`TrialRecord` objects, or mappings with ``trial`` (or
            ``number``) and ``values`` (objective name → value, as in ``pareto.json``).
        pick: ``"accuracy"``, ``"energy"`` or ``"knee"`` (see :func:`knee`).
        max_energy: Only entries whose ``energy_uj`` is at or below this budget (µJ).

    Returns:
        The chosen trial's number.

    Raises:
        AgentError: On an unknown ``pick``, a front with no entry holding both values, or a
            budget no entry meets (the message names the cheapest).
    """
    if pick not in PICKS:
        raise AgentError(f"unknown pick {pick!r}; choose from {', '.join(PICKS)}")
    entries = [_numbered(entry) for entry in front]
    points = [(n, v) for n, v in entries if ACCURACY_KEY in v and ENERGY_KEY in v]
    if not points:
        raise AgentError(
            f"no front trial has both {ACCURACY_KEY} and {ENERGY_KEY}; choose a trial by its number"
        )
    if max_energy is not None:
        points = [(n, v) for n, v in points if v[ENERGY_KEY] <= max_energy]
        if not points:
            cheapest = min(v[ENERGY_KEY] for _, v in entries if ENERGY_KEY in v)
            raise AgentError(
                f"no front trial at or below max_energy {max_energy:g} µJ (the cheapest needs "
                f"{cheapest:.4g} µJ); raise the budget"
            )
    if pick == "accuracy":
        chosen = max(points, key=lambda p: (p[1][ACCURACY_KEY], -p[1][ENERGY_KEY]))
    elif pick == "energy":
        chosen = min(points, key=lambda p: (p[1][ENERGY_KEY], -p[1][ACCURACY_KEY]))
    else:
        chosen = points[knee([(v[ACCURACY_KEY], v[ENERGY_KEY]) for _, v in points])]
    return int(chosen[0])


#: :func:`pick` by the name ``evolve`` gave it (``choose_trial(front, pick, max_energy)``).
choose_trial = pick
