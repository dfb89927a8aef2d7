"""Ray backend: trials per minute with 1 and 2 workers, and Ray's per-trial overhead (issue 7).

The same fixed workload runs three times as a real ``evolve search`` process: the local backend,
then ``--backend ray`` with 1 and 2 workers (1 CPU each, a local Ray instance started by the
search). Early stopping is off so that every trial trains the same number of epochs.

* throughput: finished trials per minute between the first trial's start and the last trial's
  end in the study (Ray's start-up, about 5 s, is outside that window; it is reported apart);
* cost beyond training per trial: the worker-seconds of that window per trial minus the time the
  trial's own code measured (``wall_seconds``: build, train, measure), so gaps between trials
  (Tune's scheduling, asking, actor reuse) count; and its in-trial part, median over trials of
  the trial's duration in the study (asked → told) minus ``wall_seconds``.

    .venv/bin/python benchmarks/ray_scaling.py --out benchmarks/results/ray_scaling.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
from _common import table, write_json
from meta import default_out

from agents.ray_backend import RAY_ENV

SPACE = """name: scaling
params:
  kind: {type: categorical, choices: [mlp], default: mlp}
  depth: {type: int, low: 2, high: 2, default: 2}
  timesteps: {type: int, low: 4, high: 4, default: 4}
layers:
  repeat: depth
  params:
    width: {type: int, low: 128, high: 256, step: 128, default: 128}
    neuron: {type: categorical, choices: [if, lif], default: lif}
"""
ENV = {**RAY_ENV, "OMP_NUM_THREADS": "1"}


def one_run(folder: Path, backend: str, workers: int, trials: int, epochs: int) -> dict[str, Any]:
    study = f"{backend}{workers}"
    args = [
        sys.executable, "-m", "evolve", "search", "--space", "scaling.yaml",
        "--trials", str(trials), "--epochs", str(epochs), "--study", study,
        "--no-early-stop", "--no-progress", "--seed", "0",
    ]  # fmt: skip
    if backend == "ray":
        args += ["--backend", "ray", "--workers", str(workers), "--cpus-per-trial", "1"]
    t0 = time.perf_counter()
    proc = subprocess.run(
        args, cwd=folder, env={**os.environ, **ENV}, capture_output=True, text=True, timeout=3600
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{study} failed: {proc.stderr[-2000:]}")
    db = folder / "runs" / study / "study.db"
    trials_ = [
        t
        for t in optuna.load_study(study_name=study, storage=f"sqlite:///{db}").trials
        if t.state == optuna.trial.TrialState.COMPLETE
    ]
    start = min(t.datetime_start for t in trials_)
    end = max(t.datetime_complete for t in trials_)
    window = (end - start).total_seconds()
    overhead = [t.duration.total_seconds() - float(t.user_attrs["wall_seconds"]) for t in trials_]
    own = [float(t.user_attrs["wall_seconds"]) for t in trials_]
    # what each trial costs beyond its own work, gaps between trials included:
    # worker-seconds in the window per trial, minus the trial's own time
    per_trial_cost = window * workers / len(trials_) - statistics.fmean(own)
    return {
        "backend": backend,
        "workers": workers,
        "trials": len(trials_),
        "window_s": window,
        "process_wall_s": wall,
        "startup_s": wall - window,
        "trials_per_min": 60 * len(trials_) / window,
        "overhead_median_s": statistics.median(overhead),
        "overhead_s": overhead,
        "cost_beyond_training_s": per_trial_cost,
        "trial_seconds_median": statistics.median(
            float(t.user_attrs["wall_seconds"]) for t in trials_
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--out", type=Path, default=default_out("ray_scaling"))
    args = ap.parse_args()
    rows, runs = [], []
    with tempfile.TemporaryDirectory(prefix="scaling") as tmp:
        folder = Path(tmp)
        (folder / "scaling.yaml").write_text(SPACE)
        for backend, workers in (("local", 1), ("ray", 1), ("ray", 2)):
            r = one_run(folder, backend, workers, args.trials, args.epochs)
            runs.append(r)
            print(f"{backend} x{workers}: {r['trials_per_min']:.2f} trials/min", flush=True)
    for r in runs:
        rows.append(
            [
                r["backend"],
                str(r["workers"]),
                str(r["trials"]),
                f"{r['trials_per_min']:.2f}",
                f"{r['trial_seconds_median']:.2f}",
                f"{r['overhead_median_s']:.2f}",
                f"{r['cost_beyond_training_s']:.2f}",
                f"{r['startup_s']:.1f}",
            ]
        )
    print(
        table(
            [
                "backend",
                "workers",
                "trials",
                "trials/min",
                "trial s (median)",
                "in-trial overhead s (median)",
                "cost beyond training s / trial",
                "start-up + summary s",
            ],
            rows,
        )
    )
    one, two = runs[1], runs[2]
    speedup = two["trials_per_min"] / one["trials_per_min"]
    verdicts = {
        "speedup": f"2 workers / 1 worker: {speedup:.2f}x (target >= 1.6x: "
        f"{'met' if speedup >= 1.6 else 'NOT met'})",
        "overhead": f"Ray's cost per trial beyond training: {one['cost_beyond_training_s']:.2f} s "
        f"with 1 worker, {two['cost_beyond_training_s']:.2f} s with 2 (in-trial part, median: "
        f"{one['overhead_median_s']:.2f} / {two['overhead_median_s']:.2f} s); target <= 1.5 s: "
        f"{'met' if max(one['cost_beyond_training_s'], two['cost_beyond_training_s']) <= 1.5 else 'NOT met'}",
    }
    for v in verdicts.values():
        print(v)
    write_json(args.out, {"trials": args.trials, "epochs": args.epochs, "runs": runs,
                          "speedup": speedup, "verdicts": verdicts})  # fmt: skip


if __name__ == "__main__":
    main()
