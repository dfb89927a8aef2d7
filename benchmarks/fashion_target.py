"""A Fashion-MNIST SNN found and retrained within two hours on two cores: does it reach >= 90 %
test accuracy at <= 20 % of its ANN twin's energy?

Everything runs on the full data set of the Debian package ``dataset-fashion-mnist`` (60 000
training images, of which 6 000 are the validation split, and the 10 000 test images), one
process, the clock running from the start:

1. **Search** (``--search-minutes``, default 30): ``evolve.search`` on the space
   ``benchmarks/spaces/fashion_cnn.yaml`` (spiking CNNs: 2-3 layers, 16-32 channels, IF / LIF /
   BIF with their threshold and decay per layer, 2-4 timesteps, the learning rate), objectives
   accuracy and energy relative to the ANN twin, limited to a ratio of ``--max-ratio`` (0.2):
   NSGA-II with ``--fidelity hyperband --fidelity-resource data`` (``--epochs`` 4: in the
   first bracket a trial's first epoch trains on 1/9 of the training split, its next two on
   1/3, its last on all of it, and each rung keeps the top third on the accuracy-energy front).
2. **Retrain** the ``--retrain-top`` (3) front points within the ratio limit, best validation
   accuracy first, from scratch for ``--retrain-epochs`` (10) on the whole training split, as a
   search trial trains them (seed 0; the epoch kept is the best on validation).
3. **Choose** among the retrained models those whose validation-measured energy ratio is within
   the limit, the one with the best validation accuracy. The test split is only read to report
   it: test accuracy, and energy per inference from its spikes on the test images against the
   ANN twin's MACs (45 nm, fp32).

The clock stops there (the target's two hours). Outside it, for context: the chosen
architecture retrained with ``--seeds`` more seeds (the spread), and its ANN twin (the same
layers with ReLU, one pass) trained as long and tested.

Run: ``make bench-fashion`` (= ``python benchmarks/fashion_target.py --out
benchmarks/results/fashion_target.json``), about an hour on two cores.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch
from _common import front_of, mean_std, table, write_json
from meta import default_out
from tables_fashion import arch_text

import evolve
from evolve.data.datasets import load_dataset
from evolve.engine.arch import arch_to_specs
from evolve.engine.trial import TrialSettings, evaluate_trial
from evolve.store.runlog import run_log
from evolve.training.trainer import TrainConfig, evaluate, train
from snn_models import measure_energy
from snn_models.ann import build_ann

SPACE = Path(__file__).resolve().parent / "spaces" / "fashion_cnn.yaml"
TARGET_ACCURACY = 0.90
TARGET_HOURS = 2.0


def retrain(arch: dict[str, Any], data: Any, epochs: int, seed: int) -> dict[str, Any]:
    """Train ``arch`` from scratch as a search trial does; its validation and test figures."""
    with run_log(None, echo="WARNING"):
        out = evaluate_trial(dict(arch), data, TrialSettings(epochs=epochs, seed=seed))
    assert out.checkpoint is not None
    model = out.checkpoint["model"].eval()
    test = measure_energy(model, (x for x, _ in data.test.batches(256)))
    return {
        "seed": seed,
        "val_accuracy": out.values["accuracy"],
        "val_energy_ratio": out.values["energy_ratio_to_ann"],
        "test_accuracy": out.attrs["test_accuracy"],
        "test_energy_uj": test.energy_uj,
        "test_energy_ratio": test.ratio_to_ann,
        "ann_energy_uj": test.ann_energy_uj,
        "firing_rates": test.firing_rates,
        "train_seconds": out.attrs["train_seconds"],
    }


def ann_twin(arch: dict[str, Any], data: Any, epochs: int) -> dict[str, Any]:
    """The same layers with ReLU (one pass), trained as long: its test accuracy."""
    net, over = arch_to_specs(arch)
    torch.manual_seed(0)
    ann = build_ann(net, data.input_shape, data.n_classes)
    cfg = TrainConfig(epochs=epochs, lr=float(over.get("lr", 3e-3)), seed=0, progress=False)
    train(ann, data.train, data.val, cfg)
    ann.eval()
    return {"val_accuracy": evaluate(ann, data.val), "test_accuracy": evaluate(ann, data.test)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--search-minutes", type=float, default=30.0, help="search time (default 30)")
    p.add_argument("--epochs", type=int, default=4, help="epochs per search trial (default 4)")
    p.add_argument("--retrain-top", type=int, default=3, help="front points retrained (3)")
    p.add_argument("--retrain-epochs", type=int, default=10, help="epochs of a retrain (10)")
    p.add_argument("--max-ratio", type=float, default=0.2, help="energy limit vs the ANN (0.2)")
    p.add_argument("--seeds", type=int, default=2, help="extra retraining seeds, unclocked (2)")
    p.add_argument("--runs", type=Path, default=Path("runs/bench"), help="where the search goes")
    p.add_argument("--out", type=Path, default=default_out("fashion_target"))
    args = p.parse_args()
    t0 = time.monotonic()
    study = "fashion-target"
    if (args.runs / study).exists():
        raise SystemExit(f"{args.runs / study} exists: remove it (the clock counts a whole search)")
    run = evolve.search(
        str(SPACE),
        "fashion_mnist",
        objectives="accuracy,energy_ratio",
        limits={"energy_ratio": args.max_ratio},
        epochs=args.epochs,
        trials=10_000,
        timeout=60 * args.search_minutes,
        fidelity="hyperband",
        fidelity_resource="data",
        seed=0,
        study=study,
        out=args.runs,
    )
    search_s = time.monotonic() - t0
    trials = run.trials
    states = trials["state"].value_counts().to_dict() if "state" in trials else {}
    front = sorted(
        (pt for pt in front_of(run.path) if pt["values"]["energy_ratio_to_ann"] <= args.max_ratio),
        key=lambda pt: -pt["values"]["accuracy"],
    )
    print(f"search: {len(trials)} trials {states} in {search_s / 60:.1f} min, front {len(front)}")
    data = load_dataset("fashion_mnist", seed=0)
    retrained = []
    for pt in front[: args.retrain_top]:
        arch = dict(pt["arch"])
        r = retrain(arch, data, args.retrain_epochs, seed=0)
        retrained.append(
            {"trial": pt["trial"], "arch": arch, "search_values": pt["values"], "seed0": r}
        )
        print(f"  trial {pt['trial']} {arch_text(arch)}: {r}")
    ok = [r for r in retrained if r["seed0"]["val_energy_ratio"] <= args.max_ratio]
    chosen = max(ok, key=lambda r: r["seed0"]["val_accuracy"]) if ok else None
    clock_s = time.monotonic() - t0
    spread: list[dict[str, Any]] = []
    twin = None
    if chosen is not None:
        spread = [chosen["seed0"]] + [
            retrain(chosen["arch"], data, args.retrain_epochs, seed=s)
            for s in range(1, 1 + args.seeds)
        ]
        twin = ann_twin(chosen["arch"], data, args.retrain_epochs)
    met = (
        chosen is not None
        and chosen["seed0"]["test_accuracy"] >= TARGET_ACCURACY
        and chosen["seed0"]["test_energy_ratio"] <= args.max_ratio
        and clock_s <= 3600 * TARGET_HOURS
    )
    header = ["trial", "architecture", "val acc %", "test acc %", "energy vs ANN (test)"]
    rows = [
        [
            str(r["trial"]) + (" (chosen)" if r is chosen else ""),
            arch_text(r["arch"]),
            f"{100 * r['seed0']['val_accuracy']:.2f}",
            f"{100 * r['seed0']['test_accuracy']:.2f}",
            f"{r['seed0']['test_energy_ratio']:.3f}",
        ]
        for r in retrained
    ]
    print(table(header, rows))
    print(f"found and retrained in {clock_s / 60:.1f} min; target met: {met}")
    acc, acc_sd = mean_std([r["test_accuracy"] for r in spread]) if spread else (None, None)
    write_json(
        args.out,
        {
            "settings": vars(args) | {"runs": str(args.runs), "out": str(args.out)},
            "space": str(SPACE.relative_to(SPACE.parents[2])),
            "search": {
                "run": str(run.path),
                "seconds": round(search_s, 1),
                "trials": len(trials),
                "states": states,
                "hypervolume": run.hypervolume,
                "front": front,
            },
            "retrained": retrained,
            "chosen_trial": chosen["trial"] if chosen else None,
            "clock_seconds": round(clock_s, 1),
            "seeds": spread,
            "test_accuracy_mean": acc,
            "test_accuracy_std": acc_sd,
            "ann_twin": twin,
            "target": f">= {100 * TARGET_ACCURACY:.0f}% test accuracy at <= {args.max_ratio} of "
            f"the ANN twin's energy, found and retrained within {TARGET_HOURS:g} h",
            "target_met": met,
        },
    )


if __name__ == "__main__":
    main()
