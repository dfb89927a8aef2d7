from __future__ import annotations

import random

import pytest

from agents import AgentError, hypervolume, pareto_front
from agents.pareto import dominates

ACC_ENERGY = ["maximize", "minimize"]


def test_pareto_front_accuracy_energy() -> None:
    points = [
        (0.90, 2.0),  # best accuracy
        (0.80, 1.0),  # cheaper
        (0.70, 1.5),  # dominated by (0.80, 1.0)
        (0.60, 0.5),  # cheapest
        (0.90, 2.5),  # dominated by (0.90, 2.0): same accuracy, more energy
    ]
    assert pareto_front(points, ACC_ENERGY) == [0, 1, 3]


def test_pareto_front_keeps_duplicates_and_handles_empty() -> None:
    assert pareto_front([(1.0, 1.0), (1.0, 1.0)], ["minimize", "minimize"]) == [0, 1]
    assert pareto_front([], ACC_ENERGY) == []


def test_pareto_front_three_objectives() -> None:
    points = [(1, 2, 3), (2, 1, 3), (2, 2, 2), (2, 2, 3), (3, 3, 3)]
    assert pareto_front(points, ["minimize"] * 3) == [0, 1, 2]


def test_dominates_respects_directions() -> None:
    assert dominates((0.9, 1.0), (0.8, 1.0), ACC_ENERGY)
    assert not dominates((0.9, 1.0), (0.9, 1.0), ACC_ENERGY)
    assert not dominates((0.9, 2.0), (0.8, 1.0), ACC_ENERGY)


def test_hypervolume_2d_by_hand() -> None:
    # Reference: accuracy 0, energy 4 µJ. Front (0.9, 2.0), (0.6, 1.0):
    # strip of width 0.9 from energy 2 to 4 (1.8) + strip of width 0.6 from 1 to 2 (0.6).
    points = [(0.9, 2.0), (0.6, 1.0)]
    assert hypervolume(points, (0.0, 4.0), ACC_ENERGY) == pytest.approx(2.4)
    # Order, dominated points and points beyond the reference change nothing.
    more = [(0.6, 1.0), (0.5, 3.0), (0.95, 5.0), (0.9, 2.0), (-0.1, 0.1)]
    assert hypervolume(more, (0.0, 4.0), ACC_ENERGY) == pytest.approx(2.4)


def test_hypervolume_single_point_and_empty() -> None:
    assert hypervolume([(0.8, 1.0)], (0.0, 3.0), ACC_ENERGY) == pytest.approx(1.6)
    assert hypervolume([], (0.0, 3.0), ACC_ENERGY) == 0.0
    assert hypervolume([(0.8, 3.0)], (0.0, 3.0), ACC_ENERGY) == 0.0  # on the reference: nothing
    assert hypervolume([(0.8,)], (0.0,), ["maximize"]) == pytest.approx(0.8)


def test_hypervolume_3d_by_hand() -> None:
    # Two boxes against (1, 1, 1): 1*0.5*0.5 + 0.5*1*1 - overlap 0.5*0.5*0.5 = 0.625.
    points = [(0.0, 0.5, 0.5), (0.5, 0.0, 0.0)]
    assert hypervolume(points, (1.0, 1.0, 1.0), ["minimize"] * 3) == pytest.approx(0.625)


@pytest.mark.parametrize("dims", [2, 3, 4])
def test_hypervolume_matches_optunas(dims: int) -> None:
    np = pytest.importorskip("numpy")
    wfg = pytest.importorskip("optuna._hypervolume")
    rng = random.Random(dims)
    for _ in range(5):
        points = [tuple(rng.random() for _ in range(dims)) for _ in range(12)]
        reference = (1.1,) * dims
        expected = wfg.compute_hypervolume(np.array(points), np.array(reference))
        assert hypervolume(points, reference, ["minimize"] * dims) == pytest.approx(expected)
        # The same points with the first objective maximised (negated) give the same volume.
        flipped = [(-p[0], *p[1:]) for p in points]
        got = hypervolume(flipped, (-1.1, *reference[1:]), ["maximize"] + ["minimize"] * (dims - 1))
        assert got == pytest.approx(expected)


def test_bad_input_is_an_agent_error() -> None:
    with pytest.raises(AgentError, match="2 values for 3 objectives"):
        pareto_front([(1.0, 2.0)], ["minimize"] * 3)
    with pytest.raises(AgentError, match="direction"):
        hypervolume([(1.0,)], (2.0,), ["smaller"])
    with pytest.raises(AgentError, match="NaN"):
        pareto_front([(float("nan"), 1.0)], ACC_ENERGY)
