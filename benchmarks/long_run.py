"""A long search with a trivial evaluator: resident memory and time per trial over N trials.

Drives the real search loop (:func:`evolve.engine.loop.run_loop`: Optuna agent with the default
sampler on SQLite, pareto.json and trials.parquet rewritten, checkpoints saved and pruned after
every trial) in this process. Only the evaluation is trivial: each trial builds its candidate
(``snn_models.build``) and measures its energy on one tiny batch. Accuracy is made up (it grows
with width x timesteps), energy is measured, so the front is a real trade-off. Models, neurons or
hooks kept alive by anything would show as growing memory; bookkeeping that grows with the study
shows as growing seconds per trial.

Target (issue 10): resident memory grows by at most 50 MB from trial 50 to the last trial.

    .venv/bin/python benchmarks/long_run.py --trials 300 --out benchmarks/results/long_run.json
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from _common import table, write_json
from meta import default_out

from agents import OptunaAgent, Proposal, parse_objectives
from evolve.engine.arch import arch_to_specs
from evolve.engine.loop import run_loop
from evolve.engine.trial import ReportFn, TrialOutcome, resident_mb
from search_spaces import load_space
from snn_models import NetSpec, build, measure_energy
from snn_models.neurons.base import BaseNeuron

SPACE = """\
name: long_run
params:
  kind: {type: categorical, choices: [mlp], default: mlp}
  depth: {type: int, low: 1, high: 2, default: 1}
  timesteps: {type: int, low: 1, high: 4, default: 2}
layers:
  repeat: depth
  params:
    width: {type: int, low: 8, high: 64, default: 16}
    neuron: {type: categorical, choices: [if, lif, bif, adaptive], default: lif}
    threshold: {type: float, low: 0.75, high: 1.25, default: 1.0}
"""
INPUT_SHAPE = (1, 8, 8)
N_CLASSES = 10
WARM_UP = 50
TARGET_MB = 50.0


def rss_mb() -> float:
    """This process's resident set size in MB (Linux only)."""
    mb = resident_mb()
    if mb is None:
        raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")
    return mb


def made_up_accuracy(arch: Mapping[str, Any]) -> float:
    """Bigger and longer is better, with diminishing returns; the threshold costs a little."""
    size = sum(v for k, v in arch.items() if k.endswith(".width")) * arch["timesteps"]
    theta = sum(v for k, v in arch.items() if k.endswith(".threshold")) / arch["depth"]
    return 1.0 - 1.0 / (1.0 + 0.02 * size) - 0.05 * abs(theta - 1.0)


class Evaluator:
    """Build, one energy measurement on a tiny batch; records RSS and time every ``every``."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.x = torch.rand(4, *INPUT_SHAPE)
        self.start = time.perf_counter()
        self.marks: list[dict[str, float]] = []

    def mark(self, done: int) -> None:
        self.marks.append(
            {"trials_done": done, "rss_mb": rss_mb(), "seconds": time.perf_counter() - self.start}
        )

    def __call__(self, proposal: Proposal, report: ReportFn) -> TrialOutcome:
        if proposal.number % self.every == 0 or proposal.number == WARM_UP:
            self.mark(proposal.number)  # trials 0..n-1 done, told and recorded
        net, _ = arch_to_specs(proposal.arch)
        model = build(NetSpec.from_dict(net), INPUT_SHAPE, N_CLASSES)
        energy = measure_energy(model, [self.x])
        values = {"accuracy": made_up_accuracy(proposal.arch), "energy_uj": energy.energy_uj}
        report(0, {"val_accuracy": values["accuracy"], "energy_uj": energy.energy_uj})
        return TrialOutcome(
            values=values,
            attrs={"firing_rates": energy.firing_rates, "sops": energy.total_sops},
            checkpoint={
                "model": model,
                "spec": net,
                "input_shape": INPUT_SHAPE,
                "n_classes": N_CLASSES,
                "dataset": "digits",
            },
        )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--every", type=int, default=25, help="a table row every this many trials")
    ap.add_argument("--sampler", default="auto", help="auto (nsga2), tpe, random, qmc")
    ap.add_argument("--out", type=Path, default=default_out("long_run"))
    args = ap.parse_args()
    if args.trials <= WARM_UP:
        ap.error(f"--trials must be over {WARM_UP} (memory is compared from trial {WARM_UP})")
    torch.set_num_threads(1)

    objectives = parse_objectives("accuracy,energy")
    evaluator = Evaluator(args.every)
    with tempfile.TemporaryDirectory(prefix="long_run") as tmp:
        run_dir = Path(tmp) / "run"
        run_dir.mkdir()
        (Path(tmp) / "long_run.yaml").write_text(SPACE)
        space = load_space(str(Path(tmp) / "long_run.yaml"))
        agent = OptunaAgent(
            space=space,
            objectives=objectives,
            storage=f"sqlite:///{run_dir / 'study.db'}",
            study_name="long_run",
            sampler=args.sampler,
            seed=0,
        )
        evaluator.start = time.perf_counter()
        result = run_loop(
            agent,
            trials=args.trials,
            timeout=None,
            max_failures=10,
            objectives=objectives,
            reference={"accuracy": 0.0, "energy_uj": 1.0},
            run_dir=run_dir,
            run_trial=evaluator,
            desc="long run",
        )
        code = 130 if result.interrupted else 0
        assert code == 0, f"the search loop ended with {code}"
        gc.collect()
        evaluator.mark(args.trials)
        front = len(agent.pareto_trials())
        del agent
    gc.collect()
    alive = sum(1 for o in gc.get_objects() if issubclass(type(o), BaseNeuron))

    marks = evaluator.marks
    rows = []
    for before, mark in zip([None, *marks], marks, strict=False):
        per_trial = (
            (mark["seconds"] - before["seconds"]) / (mark["trials_done"] - before["trials_done"])
            if before is not None and mark["trials_done"] > before["trials_done"]
            else float("nan")
        )
        done, rss, seconds = mark["trials_done"], mark["rss_mb"], mark["seconds"]
        rows.append([f"{done:.0f}", f"{rss:.1f}", f"{seconds:.1f}", f"{per_trial:.3f}"])
    warm = next(m for m in marks if m["trials_done"] == WARM_UP)
    growth = marks[-1]["rss_mb"] - warm["rss_mb"]
    print(table(["trials done", "RSS MB", "seconds", "s / trial (since last row)"], rows))
    verdict = "pass" if growth <= TARGET_MB else "FAIL"
    print(
        f"RSS growth after trial {WARM_UP}: {growth:+.1f} MB (target <= {TARGET_MB:.0f}: "
        f"{verdict}); front {front} trials; neurons alive after the run: {alive}"
    )
    write_json(
        args.out,
        {
            "trials": args.trials,
            "sampler": args.sampler,
            "storage": "sqlite",
            "warm_up_trials": WARM_UP,
            "rss_growth_mb": growth,
            "target_mb": TARGET_MB,
            "pass": growth <= TARGET_MB,
            "front_size": front,
            "neurons_alive_after": alive,
            "total_seconds": marks[-1]["seconds"],
            "marks": marks,
        },
    )


if __name__ == "__main__":
    main()
