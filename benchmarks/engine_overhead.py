"""Engine overhead per trial: everything `evolve search` does around training.

Runs a real search in-process (Optuna agent, SQLite storage, trial evaluation, energy measurement,
test evaluation, pareto.json + trials.parquet rewritten after a trial when the last rewrite is a
second old) over a trivial space (one spiking layer of 4-8 units, 1 epoch on digits), then
measures, for each trial, the wall time from its start to the next trial's start minus the time
spent inside the training loop.

Target (issue 20, for many short low-fidelity trials): median <= 0.05 s per trial with SQLite
storage (issue 3 asked for <= 0.3 s).

    .venv/bin/python benchmarks/engine_overhead.py --trials 50 --out benchmarks/results/engine_overhead.json
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import tempfile
import time
from pathlib import Path

import optuna
import torch
from meta import default_out, write_result

from evolve.cli import main as evolve_main

TRIVIAL_SPACE = """\
name: trivial
description: one tiny spiking layer, for measuring the engine, not the model
params:
  timesteps: {type: int, low: 1, high: 2}
  lr: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}
fixed: {kind: mlp}
layers:
  repeat: 1
  params:
    width: {type: int, low: 4, high: 8, step: 4}
"""
TARGET_S = 0.05


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--out", type=Path, default=default_out("engine_overhead"))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        space = Path(tmp) / "trivial.yaml"
        space.write_text(TRIVIAL_SPACE)
        t0 = time.perf_counter()
        rc = evolve_main(
            [
                "search",
                "--space",
                str(space),
                "--trials",
                str(args.trials),
                "--epochs",
                "1",
                "--study",
                "overhead",
                "--out",
                tmp,
                "--no-progress",
                "--no-early-stop",
            ]
        )
        wall = time.perf_counter() - t0
        assert rc == 0, f"search failed with exit code {rc}"
        study = optuna.load_study(
            study_name="overhead", storage=f"sqlite:///{tmp}/overhead/study.db"
        )
        trials = sorted(study.trials, key=lambda t: t.number)
    overheads = []
    for cur, nxt in itertools.pairwise(trials):
        assert cur.datetime_start is not None and nxt.datetime_start is not None
        gap = (nxt.datetime_start - cur.datetime_start).total_seconds()
        overheads.append(gap - float(cur.user_attrs["train_seconds"]))
    med = statistics.median(overheads)
    q = statistics.quantiles(overheads, n=10)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "trials": args.trials,
        "storage": "sqlite",
        "median_overhead_s": med,
        "p10_s": q[0],
        "p90_s": q[-1],
        "max_s": max(overheads),
        "total_wall_s": wall,
        "target_s": TARGET_S,
        "pass": med <= TARGET_S,
        "torch": torch.__version__,
        "optuna": optuna.__version__,
        "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "overheads_s": overheads,
    }
    write_result(args.out, "engine_overhead", result)
    print("| measure | seconds per trial |")
    print("|---|---|")
    print(f"| median engine overhead | {med:.3f} |")
    print(f"| 10th / 90th percentile | {q[0]:.3f} / {q[-1]:.3f} |")
    print(f"| target | <= {TARGET_S} ({'pass' if med <= TARGET_S else 'FAIL'}) |")
    print(f"({args.trials} trials, {wall:.1f} s wall in all; JSON: {args.out})")


if __name__ == "__main__":
    main()
