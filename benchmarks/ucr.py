"""Temporal SNNs on UCR/UEA series (GunPoint, ItalyPowerDemand, BasicMotions): the best searched
SNN against its same-size ANN twin, 3 seeds.

For each data set:

1. ``evolve search --space temporal --dataset <set>`` (seed 0) finds an architecture; the front
   point with the best *validation* accuracy is taken (the test split is never used to choose);
2. that architecture is retrained from scratch as a search trial builds it (its front fitted
   on the training split: the series standardised per channel) with seeds 0..S-1 for
   ``--retrain-epochs`` (300; the search ranks at ``--epochs``, 100: on GunPoint the searched
   SNN still fitted only 90 % of its 40 training series after 100 epochs), and so is its ANN twin
   (:func:`snn_models.ann.build_ann`: the same layers with ReLU instead of spiking neurons, one
   pass over the whole series);
3. both are measured on the official test split: accuracy, and energy per inference (45 nm): the
   SNN's from its real spikes (SOPs, plus MACs of the first layer that reads the samples), the
   ANN's from its MACs;
4. beside them, the simple baselines of :func:`evolve.training.baselines.compute_baselines`
   (1-nearest-neighbour with the Euclidean distance, and a ridge classifier, on the raw series)
   fitted on the same training split and scored on the same test split; the target (issue 18) is
   the SNN within 3 points of 1-NN.

Run: ``make bench-ucr`` (= ``python benchmarks/ucr.py --out benchmarks/results/ucr.json``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
from _common import front_of, load, mean_std, pm, table, write_json
from meta import default_out
from tables import ucr_net_text
from tqdm import tqdm

from evolve.engine.arch import arch_to_specs
from evolve.training.baselines import compute_baselines
from evolve.training.trainer import TrainConfig, evaluate, train
from snn_models import build, measure_energy
from snn_models.ann import build_ann
from snn_models.preprocess import data_kind_of, default_preprocess, prepare_inputs

SETS = ("gunpoint", "italy_power_demand", "basic_motions")


def search(name: str, args: argparse.Namespace) -> Path:
    """The search run of ``name`` (reused when it already finished)."""
    run_dir = args.runs / f"ucr-{name}"
    if (run_dir / "pareto.json").exists() and not args.fresh:
        print(f"{name}: reusing the search in {run_dir}")
        return run_dir
    cmd = [
        sys.executable,
        "-m",
        "evolve",
        "search",
        "--space",
        "temporal",
        "--dataset",
        name,
        "--trials",
        str(args.trials),
        "--epochs",
        str(args.epochs),
        "--study",
        run_dir.name,
        "--out",
        str(args.runs),
        "--seed",
        "0",
        "--no-progress",
    ]
    print(f"{name}: {' '.join(cmd[2:])}")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return run_dir


def measure(model: torch.nn.Module, data: Any) -> dict[str, Any]:
    model.eval()
    e = measure_energy(model, (x for x, _ in data.test.batches(256)))
    return {
        "test_accuracy": evaluate(model, data.test),
        "val_accuracy": evaluate(model, data.val),
        "energy_uj": e.energy_uj,
        "spikes_per_inference": sum(e.spikes_per_inference.values()),
    }


def run_set(name: str, args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    run_dir = search(name, args)
    search_s = time.perf_counter() - t0
    best = max(front_of(run_dir), key=lambda p: p["values"]["accuracy"])
    net, over = arch_to_specs(best["arch"])
    data = load(name)
    kind = data_kind_of(data.input_shape, getattr(data, "kind", None))
    # as a search trial builds it: the data kind's front (standardised per channel), fitted below
    net.setdefault("preprocess", default_preprocess(kind, net.get("encoder", "direct")))
    lr = float(over.get("lr", 5e-3))
    rows: dict[str, list[dict[str, Any]]] = {"SNN": [], "ANN twin": []}
    bar = tqdm(total=2 * args.seeds, desc=name, unit="model")
    for seed in range(args.seeds):
        cfg = TrainConfig(
            epochs=args.retrain_epochs,
            lr=lr,
            batch_size=int(over.get("batch_size", 8)),
            weight_decay=float(over.get("weight_decay", 0.0)),  # the searched one, as in a trial
            seed=seed,
            progress=False,
        )
        for label, make in (("SNN", build), ("ANN twin", build_ann)):
            torch.manual_seed(seed)
            model = make(net, data.input_shape, data.n_classes)
            prepare_inputs(model, data.train.x, kind)  # on the training split only
            train(model, data.train, data.val, cfg)
            rows[label].append(measure(model, data) | {"seed": seed})
            bar.update()
    bar.close()
    base = compute_baselines(data)  # fitted on the same training split, scored on the test split
    return {
        "baselines": [
            {"name": m["name"], "label": m["label"], "test_accuracy": m["test_accuracy"]}
            for m in base["models"]
        ],
        "dataset": name,
        "source": data.source,
        "search_run": str(run_dir),
        "search_trial": best["trial"],
        "search_seconds": round(search_s, 1),
        "snn_spec": net,
        "lr": lr,
        "weight_decay": float(over.get("weight_decay", 0.0)),
        "rows": rows,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sets", default=",".join(SETS), help="comma-separated UCR sets")
    p.add_argument("--trials", type=int, default=12, help="search trials per set (default 12)")
    p.add_argument("--epochs", type=int, default=100, help="epochs per search trial (default 100)")
    p.add_argument(
        "--retrain-epochs",
        type=int,
        default=300,
        help="epochs of each retrained SNN and ANN twin (default 300: at 100 the SNNs underfit)",
    )
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--runs", type=Path, default=Path("runs/bench/ucr"), help="search runs")
    p.add_argument("--fresh", action="store_true", help="search again even if a run exists")
    p.add_argument("--out", type=Path, default=default_out("ucr"))
    args = p.parse_args()
    results = [run_set(name, args) for name in args.sets.split(",")]
    header = ["data set", "SNN (searched)", "model", "test accuracy %", "energy µJ", "SNN/ANN"]
    lines = []
    for r in results:
        ann_e, _ = mean_std([x["energy_uj"] for x in r["rows"]["ANN twin"]])
        for label, runs in r["rows"].items():
            e, _ = mean_std([x["energy_uj"] for x in runs])
            lines.append(
                [
                    r["dataset"],
                    ucr_net_text(r["snn_spec"], r.get("weight_decay")) if label == "SNN" else "",
                    label,
                    pm([x["test_accuracy"] for x in runs], 100, 1),
                    f"{e:.4g}",
                    f"{e / ann_e:.3f}" if label == "SNN" else "1",
                ]
            )
        for b in r["baselines"]:
            lines.append(["", "", b["label"], f"{100 * b['test_accuracy']:.1f}", "", ""])
    print(table(header, lines))
    write_json(
        args.out,
        {
            "settings": vars(args) | {"runs": str(args.runs), "out": str(args.out)},
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
