from __future__ import annotations

import random

import pytest

from agents import AgentError, TrialRecord, hypervolume, knee, pareto_front, pareto_records, pick
from agents.objectives import parse_objectives
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


# ----------------------------------------------------------------------------- picking
FRONT = [(0.9, 1.0), (0.85, 0.2), (0.7, 0.15), (0.5, 0.1)]


def _entries(points: list[tuple[float, float]], first: int = 0) -> list[dict[str, object]]:
    return [
        {"trial": first + i, "values": {"accuracy": a, "energy_uj": e}}
        for i, (a, e) in enumerate(points)
    ]


def test_knee_is_the_point_farthest_from_the_extremes_line() -> None:
    # the extremes are (0.9, 1.0) and (0.5, 0.1); (0.85, 0.2) bulges most
    assert knee(FRONT) == 1
    assert knee([(0.9, 1.0), (0.5, 0.1)]) == 0  # two points: none off the line
    assert knee([(0.9, 1.0), (0.7, 0.55), (0.5, 0.1)]) == 0  # all on the line
    assert knee([(0.8, 0.5)]) == 0
    assert knee([(0.8, 0.5), (0.8, 0.5)]) == 0  # one point twice: no line
    with pytest.raises(AgentError, match="empty front"):
        knee([])


def test_pick_by_accuracy_energy_and_knee_within_a_budget() -> None:
    front = _entries(FRONT, first=10)
    assert pick(front, "accuracy") == 10
    assert pick(front, "energy") == 13
    assert pick(front, "knee") == 11
    assert pick(front, "accuracy", max_energy=0.5) == 11  # the budget rules trial 10 out
    assert pick(front, "accuracy", max_energy=0.2) == 11  # at the budget is within it
    assert pick(front, "knee", max_energy=0.15) == 12  # the knee of what is left


def test_pick_ties_prefer_the_other_objective_then_the_first() -> None:
    tied = _entries([(0.9, 2.0), (0.9, 1.0), (0.5, 0.1), (0.6, 0.1), (0.9, 1.0)])
    assert pick(tied, "accuracy") == 1  # most accurate, then cheapest, then first
    assert pick(tied, "energy") == 3  # cheapest, then most accurate


def test_pick_reads_records_and_skips_entries_without_both_values() -> None:
    records = [
        TrialRecord(number=4, state="complete", values={"accuracy": 0.7, "energy_uj": 0.3}),
        TrialRecord(number=5, state="complete", values={"accuracy": 0.99}),
        TrialRecord(number=6, state="complete", values={"accuracy": 0.8, "energy_uj": 0.9}),
    ]
    assert pick(records, "accuracy") == 6
    assert pick(records, "energy") == 4
    assert pick([r.to_dict() for r in records], "accuracy") == 6  # "number" works as "trial"


def test_choose_trial_is_pick_by_evolves_name() -> None:
    from agents.pareto import choose_trial

    assert choose_trial(_entries(FRONT), "knee", None) == 1


def test_pick_errors_speak_the_librarys_language() -> None:
    front = _entries(FRONT)
    with pytest.raises(AgentError) as info:
        pick(front, "accuracy", max_energy=0.01)
    assert str(info.value) == (
        "no front trial at or below max_energy 0.01 µJ (the cheapest needs 0.1 µJ); "
        "raise the budget"
    )
    with pytest.raises(AgentError, match="no front trial has both accuracy and energy_uj"):
        pick([{"trial": 0, "values": {"accuracy": 0.9}}], "accuracy")
    with pytest.raises(AgentError, match="no front trial has both"):
        pick([], "knee")
    with pytest.raises(AgentError, match="unknown pick 'best'; choose from accuracy, energy, knee"):
        pick(front, "best")
    with pytest.raises(AgentError, match="needs a trial number"):
        pick([{"values": {"accuracy": 0.9, "energy_uj": 1.0}}], "accuracy")


def test_pareto_records_keep_complete_feasible_finite_non_dominated_trials() -> None:
    def rec(n: int, a: float, e: float, state: str, **kw: dict[str, float]) -> TrialRecord:
        values = {"accuracy": a, "energy_uj": e}
        return TrialRecord(number=n, state=state, values=values, **kw)  # type: ignore[arg-type]

    records = [
        rec(3, 0.6, 0.5, state="complete"),
        rec(0, 0.9, 2.0, state="complete"),
        rec(1, 0.8, 1.0, state="complete"),
        rec(2, 0.7, 1.5, state="complete"),  # dominated by 1
        rec(4, 0.99, 0.01, state="pruned"),  # never on the front
        rec(5, 0.99, 0.01, state="complete", constraints={"energy_uj": 0.1}),  # infeasible
        rec(6, float("inf"), 0.01, state="complete"),  # not finite
        TrialRecord(number=7, state="complete", values={"accuracy": 1.0}),  # energy missing
    ]
    objectives = parse_objectives("accuracy,energy")
    assert [r.number for r in pareto_records(records, objectives)] == [0, 1, 3]
