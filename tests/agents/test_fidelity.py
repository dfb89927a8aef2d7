"""Multi-objective ASHA / Hyperband (agents.fidelity): rungs, the promotion rule on synthetic
studies, brackets, what the agent records, and the registry."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import optuna
import pytest
from agent_fakes import ToySpace
from optuna.trial import TrialState, create_trial

from agents import (
    FIDELITIES,
    AgentError,
    MultiObjectiveASHA,
    MultiObjectiveStopper,
    OptunaAgent,
    make_scheduler,
    parse_objectives,
)
from agents.fidelity import (
    crowding_distances,
    non_dominated_fronts,
    position_at_rung,
    rung_levels,
)
from agents.optuna_agent import RESERVED_ATTRS


def _study(*points: tuple[float, float], epoch: int = 0, state: TrialState = TrialState.COMPLETE):
    """A study whose trials 0, 1, ... reported ``(accuracy, energy)`` at ``epoch``."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    _add(study, *points, epoch=epoch, state=state)
    return study


def _add(study: Any, *points: tuple[float, float], epoch: int = 0, state: TrialState) -> None:
    for accuracy, energy in points:
        curve = [
            {"epoch": e, "val_accuracy": accuracy, "energy_uj": energy} for e in range(epoch + 1)
        ]
        study.add_trial(
            create_trial(
                state=state,
                values=[accuracy, energy] if state == TrialState.COMPLETE else None,
                user_attrs={"curve": curve},
            )
        )


def _decide(scheduler: MultiObjectiveASHA, study: Any, accuracy: float, energy: float, **kw: Any):
    number = kw.pop("trial_number", 10_000)
    return scheduler.decide(
        study,
        trial_number=number,
        epoch=kw.pop("epoch", 0),
        values={"val_accuracy": accuracy, "energy_uj": energy},
    )


# -- rungs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "levels"),
    [
        ((12, 1, 3), (1, 3, 9)),
        ((9, 1, 3), (1, 3)),  # a rung at the budget itself is the end of training, not a rung
        ((28, 1, 3), (1, 3, 9, 27)),
        ((10, 2, 2), (2, 4, 8)),
        ((1, 1, 3), ()),
        ((3, 4, 3), ()),
    ],
)
def test_rung_levels(args: tuple[int, int, int], levels: tuple[int, ...]) -> None:
    assert rung_levels(*args) == levels


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"max_epochs": 0}, "max_epochs"),
        ({"max_epochs": 12, "reduction_factor": 1}, "reduction_factor"),
        ({"max_epochs": 12, "min_epochs": 0}, "min_epochs"),
        ({"max_epochs": 12, "reduction_factor": 2.5}, "reduction_factor"),
        ({"max_epochs": 12, "brackets": 0}, "brackets"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], word: str) -> None:
    with pytest.raises(AgentError, match=word):
        MultiObjectiveASHA(**kwargs)


# -- non-dominated sorting and crowding -------------------------------------------------------


def _brute_fronts(points: list[tuple[int, float, float]]) -> list[int]:
    def dominates(p: tuple[int, float, float], q: tuple[int, float, float]) -> bool:
        return p[1] >= q[1] and p[2] <= q[2] and (p[1] > q[1] or p[2] < q[2])

    front = [-1] * len(points)
    left, f = set(range(len(points))), 0
    while left:
        layer = {i for i in left if not any(dominates(points[j], points[i]) for j in left)}
        for i in layer:
            front[i] = f
        left -= layer
        f += 1
    return front


@pytest.mark.parametrize("seed", range(6))
def test_fronts_match_brute_force_sorting(seed: int) -> None:
    rng = random.Random(seed)
    # a coarse grid: many ties in accuracy, in energy and whole duplicates
    points = [(i, rng.randrange(6) / 5, rng.randrange(5) / 4) for i in range(60)]
    assert non_dominated_fronts(points) == _brute_fronts(points)


def test_equal_points_share_a_front_and_a_chain_has_one_per_front() -> None:
    assert non_dominated_fronts([(0, 0.9, 1.0), (1, 0.9, 1.0), (2, 0.5, 2.0)]) == [0, 0, 1]
    chain = [(i, 1.0 - i / 10, 1.0 + i) for i in range(5)]
    assert non_dominated_fronts(chain) == [0, 1, 2, 3, 4]


def test_crowding_distance_of_a_front() -> None:
    front = [(0, 0.9, 4.0), (1, 0.8, 2.0), (2, 0.5, 1.0), (3, 0.85, 3.5)]
    d = crowding_distances(front)
    assert math.isinf(d[0]) and math.isinf(d[2])
    # trial 1: neighbours 0.85/0.5 in accuracy (range 0.4), 3.5/1.0 in energy (range 3.0)
    assert d[1] == pytest.approx(0.35 / 0.4 + 2.5 / 3.0)
    assert d[3] == pytest.approx(0.1 / 0.4 + 2.0 / 3.0)
    assert crowding_distances([(0, 0.5, 1.0), (1, 0.6, 2.0)]) == [math.inf, math.inf]


def test_position_orders_fronts_then_crowding_then_accuracy() -> None:
    points = [(0, 0.9, 4.0), (1, 0.8, 2.0), (2, 0.5, 1.0), (3, 0.85, 3.5), (4, 0.4, 4.0)]
    order = sorted(range(5), key=lambda i: position_at_rung(points, i))
    # ends of the front first (the more accurate one before), then the wider gap, then the
    # dominated trial
    assert order == [0, 2, 1, 3, 4]
    assert sorted(position_at_rung(points, i) for i in range(5)) == list(range(5))


# -- the promotion rule --------------------------------------------------------------------------


def test_only_rung_epochs_are_judged() -> None:
    scheduler = MultiObjectiveASHA(max_epochs=12)
    study = _study(*[(0.9, 1.0)] * 5, epoch=1)
    decision = _decide(scheduler, study, 0.1, 9.0, epoch=1)  # 2 epochs: not a rung
    assert not decision.stop and not decision.trial_attrs
    # 12 epochs = the budget: never judged (the trial completes)
    assert not _decide(scheduler, _study(*[(0.9, 1.0)] * 5, epoch=11), 0.1, 9.0, epoch=11).stop


def test_a_rung_with_fewer_than_eta_trials_promotes_everyone() -> None:
    scheduler = MultiObjectiveASHA(max_epochs=12)
    decision = _decide(scheduler, _study((0.9, 1.0)), 0.1, 9.0)  # 2 trials at the rung < 3
    assert not decision.stop
    assert decision.trial_attrs["promotions"] == [
        {"rung": 1, "epoch": 0, "rank": 1, "n_at_rung": 2, "promoted": True}
    ]


def test_top_third_continues_the_rest_stops() -> None:
    # five peers at rung 1 (epoch 0) + the reporting trial: n = 6, the top 2 continue
    peers = [(0.9, 2.0), (0.6, 1.0), (0.7, 3.0), (0.5, 2.5), (0.4, 4.0)]
    scheduler = MultiObjectiveASHA(max_epochs=12)
    best = _decide(scheduler, _study(*peers), 0.95, 0.5)  # dominates everybody
    assert not best.stop and best.n_dominators == 0
    worst = _decide(scheduler, _study(*peers), 0.3, 5.0)
    assert worst.stop and worst.n_dominators == 5 and worst.n_compared == 5
    assert "rank 6 of 6" in worst.reason and "top 2 (1/3)" in worst.reason
    # on the front but not at its ends: its crowding ranks it third, past the top 2
    middle = _decide(scheduler, _study(*peers), 0.8, 1.5)
    assert middle.stop and middle.n_dominators == 2


def test_crowding_breaks_ties_within_the_front() -> None:
    # n = 9, top 3: the ends of the front (0.95, 4.0) and (0.5, 0.5) first, then the larger gap
    ends = [(0.95, 4.0), (0.5, 0.5)]
    dominated = [(0.3, 5.0)] * 5
    crowded = (0.9, 3.8)  # close to one end: small crowding distance
    scheduler = MultiObjectiveASHA(max_epochs=12)
    spread = _decide(scheduler, _study(*ends, crowded, *dominated), 0.75, 2.0)
    assert not spread.stop and spread.trial_attrs["promotions"][0]["rank"] == 2
    squeezed = _decide(scheduler, _study(*ends, (0.75, 2.0), *dominated), *crowded)
    assert squeezed.stop and squeezed.trial_attrs["promotions"][0]["rank"] == 3


def test_running_trials_count_failed_ones_do_not() -> None:
    scheduler = MultiObjectiveASHA(max_epochs=12)
    study = _study((0.9, 1.0), state=TrialState.RUNNING)
    _add(study, (0.9, 1.0), (0.9, 1.0), state=TrialState.FAIL)
    assert _decide(scheduler, study, 0.5, 2.0).trial_attrs["promotions"][0]["n_at_rung"] == 2
    _add(study, (0.9, 1.0), state=TrialState.PRUNED)
    decision = _decide(scheduler, study, 0.5, 2.0)
    assert decision.stop and decision.trial_attrs["promotions"][0]["n_at_rung"] == 3


def test_accuracy_only_ranking() -> None:
    scheduler = MultiObjectiveASHA(max_epochs=12, energy_key=None)
    study = _study((0.9, 100.0), (0.8, 100.0))
    assert not scheduler.decide(study, trial_number=99, epoch=0, values={"val_accuracy": 0.95}).stop
    assert scheduler.decide(study, trial_number=99, epoch=0, values={"val_accuracy": 0.85}).stop


def test_missing_metric_is_an_agent_error() -> None:
    with pytest.raises(AgentError, match="energy_uj"):
        MultiObjectiveASHA(max_epochs=12).decide(
            _study(), trial_number=0, epoch=0, values={"val_accuracy": 0.5}
        )


def test_hyperband_brackets_by_trial_number() -> None:
    scheduler = make_scheduler("hyperband", max_epochs=12)
    assert isinstance(scheduler, MultiObjectiveASHA)
    assert scheduler.n_brackets == 4
    assert [scheduler.rungs_of(s) for s in range(4)] == [(1, 3, 9), (3, 9), (9,), ()]
    # trials 0..7 all reported 3 epochs; trial 9 (bracket 1) meets only trials 1 and 5
    study = _study(*[(0.9, 1.0)] * 8, epoch=2)
    assert not _decide(scheduler, study, 0.1, 9.0, epoch=0, trial_number=9).trial_attrs
    at_3 = _decide(scheduler, study, 0.1, 9.0, epoch=2, trial_number=9)
    assert at_3.trial_attrs["bracket"] == 1
    assert at_3.trial_attrs["promotions"][0]["n_at_rung"] == 3 and at_3.stop
    # trial 11 (bracket 3) has no rung: it always trains fully
    assert not _decide(scheduler, study, 0.1, 9.0, epoch=8, trial_number=11).stop


def test_finished_trials_are_read_once_per_study() -> None:
    scheduler = MultiObjectiveASHA(max_epochs=12)
    study = _study(*[(0.5, 1.0)] * 20)
    _decide(scheduler, study, 0.6, 1.0)
    (cache,) = scheduler._finished.values()
    assert len(cache) == 20
    # a finished trial's curve never changes: a damaged copy is not read again
    study.get_trials(deepcopy=False)[0].user_attrs["curve"] = []
    assert _decide(scheduler, study, 0.6, 1.0).trial_attrs["promotions"][0]["n_at_rung"] == 21


# -- through the agent ---------------------------------------------------------------------------


def test_agent_records_rungs_and_stops_at_a_rung(space: ToySpace) -> None:
    agent = OptunaAgent(
        space=space,
        objectives=parse_objectives("accuracy,energy"),
        storage=None,
        study_name="asha",
        sampler="random",
        seed=0,
        early_stopper=make_scheduler("asha", max_epochs=12),
    )
    # three trials, each better than the one before at every rung
    for i in range(3):
        good = agent.ask()
        values = {"val_accuracy": 0.9 + i / 100, "energy_uj": 1.0}
        for epoch in range(12):
            assert not agent.report(good, epoch, values)
        agent.tell(good, {"accuracy": values["val_accuracy"], "energy_uj": 1.0})
    record = agent.store.trials()[2]
    assert record.attrs["rung"] == 9 and record.attrs["bracket"] == 0
    assert [p["rung"] for p in record.attrs["promotions"]] == [1, 3, 9]
    bad = agent.ask()
    assert agent.report(bad, 0, {"val_accuracy": 0.2, "energy_uj": 2.0})
    running = agent.store.trials()[3]  # the rungs are written with the outcome, not at each rung
    assert "rung" not in running.attrs and running.attrs["early_stop"]["stop"]
    agent.tell(bad, {"accuracy": 0.2, "energy_uj": 2.0}, state="pruned")
    stopped = agent.store.trials()[3]
    assert stopped.state == "pruned" and stopped.attrs["rung"] == 1
    assert stopped.attrs["promotions"][-1]["promoted"] is False
    assert stopped.attrs["early_stop"]["epoch"] == 0
    assert 3 not in [t.number for t in agent.pareto_trials()]


def test_fidelity_attributes_are_reserved() -> None:
    assert {"rung", "bracket", "promotions", "curve"} <= RESERVED_ATTRS


# -- the registry --------------------------------------------------------------------------------


def test_registry_builds_each_scheduler() -> None:
    assert set(FIDELITIES) == {"none", "stopper", "asha", "hyperband"}
    assert make_scheduler("none", max_epochs=4) is None
    assert isinstance(make_scheduler("stopper", max_epochs=4), MultiObjectiveStopper)
    asha = make_scheduler("asha", max_epochs=30, reduction_factor=2, min_epochs=2)
    assert isinstance(asha, MultiObjectiveASHA)
    assert asha.levels == (2, 4, 8, 16) and asha.n_brackets == 1
    assert asha.state_dict()["rule"] == "mo-asha"


@pytest.mark.parametrize(
    ("name", "kwargs", "word"),
    [
        ("bohb", {}, "fidelity must be one of none, stopper, asha, hyperband"),
        ("asha", {"reduction_factor": 1}, "reduction_factor"),
        ("hyperband", {"min_epochs": 0}, "min_epochs"),
    ],
)
def test_registry_refuses_bad_input(name: str, kwargs: dict[str, Any], word: str) -> None:
    with pytest.raises(AgentError, match=word):
        make_scheduler(name, max_epochs=12, **kwargs)


def test_every_ordering_of_peers_gives_the_same_rank() -> None:
    peers = [(0.9, 2.0), (0.6, 1.0), (0.7, 3.0), (0.5, 2.5)]
    ranks = set()
    for perm in itertools.permutations(peers):
        points = [(i, a, e) for i, (a, e) in enumerate(perm)] + [(99, 0.8, 1.5)]
        ranks.add(position_at_rung(points, 4))
    assert ranks == {2}


def test_ray_backend_stops_trials_at_rungs() -> None:
    """Ray's Tune scheduler asks the agent, so the agent's scheduler decides there too."""
    import os
    import time

    from agents.ray_backend import RAY_ENV, RayOptions, epoch_report, final_report, run_with_ray

    def trainable(config: dict[str, Any]) -> None:
        from ray import tune

        # one worker, trials in order: 0 and 1 pass rung 1 (fewer than eta trials there)
        accuracy = 0.9 if config["number"] < 2 else 0.1  # later trials lose at the first rung
        for epoch in range(4):
            time.sleep(0.2)
            tune.report(epoch_report(epoch, {"val_accuracy": accuracy, "energy_uj": 1.0}))
        tune.report(final_report({"accuracy": accuracy, "energy_uj": 1.0}, {}))

    agent = OptunaAgent(
        space=ToySpace(),
        objectives=parse_objectives("accuracy,energy"),
        storage=None,
        study_name="ray-asha",
        sampler="random",
        seed=0,
        early_stopper=make_scheduler("asha", max_epochs=4, reduction_factor=3),  # rungs 1, 3
    )
    old = {k: os.environ.get(k) for k in RAY_ENV}
    os.environ.update(RAY_ENV)
    try:
        run_with_ray(agent, trainable, n_trials=4, options=RayOptions(workers=1), on_end=print)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    records = {t.number: t for t in agent.store.trials()}
    assert [records[n].state for n in range(4)] == ["complete", "complete", "pruned", "pruned"]
    for n in (2, 3):
        assert records[n].attrs["rung"] == 1 and len(records[n].attrs["curve"]) == 1
        assert records[n].attrs["promotions"][0]["promoted"] is False
    assert [p["rung"] for p in records[0].attrs["promotions"]] == [1, 3]
