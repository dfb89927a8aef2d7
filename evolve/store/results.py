"""What a search leaves behind: ``trials.parquet`` (one row per trial) and ``pareto.json``.

Both are derived from the run store (the study: the single record of trials), and rewritten atomically
after every trial, so a crash never leaves them half-written or out of step by more than the
trial that was running.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents import Objective, dominates, hypervolume, pareto_front
from agents.objectives import unit_of
from evolve.store.runfolder import atomic_file, write_json

if TYPE_CHECKING:
    from agents import RunStore, TrialRecord


def finished_points(
    store: RunStore,
    objectives: Sequence[Objective],
    trials: Sequence[TrialRecord] | None = None,
) -> list[tuple[TrialRecord, list[float]]]:
    """COMPLETE, feasible trials with finite values, in trial order (pruned trials never count).

    ``trials``: the store's trials when the caller has just read them (one read, not two).
    """
    out = []
    complete = store.trials(("complete",)) if trials is None else trials
    for t in complete:
        if t.state != "complete":
            continue
        if t.values is None or len(t.values) != len(objectives):
            continue
        values = [t.values[o.name] for o in objectives]
        if not all(math.isfinite(v) for v in values) or not t.feasible:
            continue
        out.append((t, values))
    return out


def pareto_summary(
    store: RunStore,
    objectives: Sequence[Objective],
    reference: Mapping[str, float],
    trials: Sequence[TrialRecord] | None = None,
) -> dict[str, Any]:
    """The front (non-dominated COMPLETE trials), its hypervolume and the hypervolume history.

    ``trials``: every trial of the store when the caller has just read them (one read, not two).
    """
    directions = [o.direction for o in objectives]
    ref = [float(reference[o.name]) for o in objectives]
    every = store.trials() if trials is None else trials
    pts = finished_points(store, objectives, every)
    front_idx = pareto_front([p for _, p in pts], directions) if pts else []
    front = []
    for i in sorted(front_idx, key=lambda i: pts[i][1][0], reverse=directions[0] == "maximize"):
        t, vals = pts[i]
        point = {
            "trial": t.number,
            "values": dict(zip([o.name for o in objectives], vals, strict=True)),
            "test_accuracy": t.attrs.get("test_accuracy"),
            "arch": t.arch,
        }
        if t.attrs.get("cv_folds"):  # k-fold selection (evolve.engine.selection): its spread
            point.update({k: t.attrs.get(k) for k in ("cv_folds", "cv_accuracy_std")})
        front.append(point)
    # the hypervolume after each trial, kept incrementally: a dominated point changes nothing,
    # a new front point replaces those it dominates (O(n·front) instead of one front per prefix)
    history: list[dict[str, Any]] = []
    current: list[list[float]] = []
    hv = 0.0
    for t, p in pts:
        if not any(dominates(f, p, directions) for f in current):
            current = [f for f in current if not dominates(p, f, directions)] + [p]
            hv = hypervolume(current, ref, directions)
        history.append({"trial": t.number, "hypervolume": hv})
    counts: dict[str, int] = {}
    for t in every:
        counts[t.state] = counts.get(t.state, 0) + 1
    return {
        "study": store.study_name,
        "objectives": [
            {"name": o.name, "direction": o.direction, "unit": o.unit or unit_of(o.name)}
            for o in objectives
        ],
        "reference_point": dict(zip([o.name for o in objectives], ref, strict=True)),
        "front": front,
        "hypervolume": history[-1]["hypervolume"] if history else 0.0,
        "hypervolume_history": history,
        "trial_counts": counts,
    }


def trial_rows(
    store: RunStore,
    objectives: Sequence[Objective],
    trials: Sequence[TrialRecord] | None = None,
) -> list[dict[str, Any]]:
    """One flat row per trial: number, state, objectives, parameters, diagnostics
    (``trials``: the store's trials when the caller has just read them)."""
    rows = []
    for t in store.trials() if trials is None else trials:
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state.upper(),
            "datetime_start": t.datetime_start,
            "datetime_complete": t.datetime_complete,
            "duration_s": t.duration_s,
        }
        for o in objectives:
            row[o.name] = None if t.values is None else t.values.get(o.name)
        for k, v in t.params.items():
            row[f"param.{k}"] = v
        attrs = {**t.attrs, "arch": t.arch} if t.state != "running" else t.attrs
        for k, v in attrs.items():  # nested diagnostics as JSON text: one flat table
            row[k] = json.dumps(v, default=str) if isinstance(v, dict | list) else v
        rows.append(row)
    return rows


def write_trials_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` as Parquet atomically."""
    import pandas as pd

    df = pd.DataFrame(rows)
    atomic_file(path, lambda tmp: df.to_parquet(tmp, index=False))


def write_results(
    run_dir: Path,
    store: RunStore,
    objectives: Sequence[Objective],
    reference: Mapping[str, float],
) -> dict[str, Any]:
    """Rewrite ``pareto.json`` and ``trials.parquet`` from the study; return the Pareto summary."""
    trials = store.trials()  # one read of the study for both files
    summary = pareto_summary(store, objectives, reference, trials)
    write_json(run_dir / "pareto.json", summary)
    write_trials_parquet(run_dir / "trials.parquet", trial_rows(store, objectives, trials))
    return summary
