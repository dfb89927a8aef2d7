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

Example:
    >>> directions = ["maximize", "minimize"]  # accuracy, energy_uj
    >>> points = [(0.75, 2.0), (0.5, 1.0), (0.25, 1.5)]
    >>> pareto_front(points, directions)
    [0, 1]
    >>> hypervolume(points, reference=(0.0, 3.0), directions=directions)
    1.25
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from agents.errors import AgentError

__all__ = ["dominates", "hypervolume", "pareto_front"]


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
