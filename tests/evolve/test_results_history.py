"""The hypervolume history kept incrementally equals the hypervolume of every prefix."""

from __future__ import annotations

import random

import optuna

from agents import hypervolume, parse_objectives
from agents.optuna_store import open_store
from evolve.store.results import finished_points, pareto_summary


def test_incremental_history_equals_each_prefix_hypervolume() -> None:
    objectives = parse_objectives("accuracy,energy")
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, directions=["maximize", "minimize"])
    rng = random.Random(0)
    for i in range(60):
        values = [round(rng.random(), 2), round(rng.uniform(0.1, 2.0), 2)]
        if i % 7 == 3:
            values = [0.5, 1.0]  # repeated points
        study.add_trial(
            optuna.trial.create_trial(
                values=values,
                distributions={},
                params={},
            )
        )
    ref = {"accuracy": 0.0, "energy_uj": 2.5}
    store = open_store(storage, study.study_name, objectives=objectives)
    summary = pareto_summary(store, objectives, ref)
    pts = [p for _, p in finished_points(store, objectives)]
    directions = [o.direction for o in objectives]
    expected = [hypervolume(pts[:k], [0.0, 2.5], directions) for k in range(1, len(pts) + 1)]
    got = [h["hypervolume"] for h in summary["hypervolume_history"]]
    assert len(got) == 60
    assert got == expected or max(abs(a - b) for a, b in zip(got, expected, strict=True)) < 1e-12
    assert got == sorted(got)  # never decreases
