"""Accuracy, energy and latency against the number of time steps T (issue 4).

The architecture is the best-validation-accuracy point of a ``hybrid_attention`` search run
(``--search-run``, default the newest ``runs/hybrid_attention-*``; the space's default
architecture when there is none). It is retrained on digits at T in {1, 2, 4, 8, 16} with
everything else fixed, over several seeds: test accuracy, energy per inference (45 nm fp32, from
its validation spikes) and CPU latency per sample (median of repeated eval-mode forwards at batch
1 and batch 64, on this machine, measured after the training runs).

    .venv/bin/python benchmarks/timesteps.py --out benchmarks/results/timesteps.json
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from _common import (
    front_of,
    latency_ms,
    latest_search_run,
    load,
    mean_std,
    pm,
    pyplot,
    run,
    table,
    write_json,
)
from meta import default_out
from tqdm import tqdm

from evolve.engine.arch import arch_to_specs
from search_spaces import load_space
from snn_models import build


def pick_arch(search_run: Path | None) -> tuple[dict[str, Any], str]:
    run_dir = search_run or latest_search_run(Path("runs"), "hybrid_attention")
    if run_dir is None:
        return dict(load_space("hybrid_attention").default()), "hybrid_attention default"
    best = max(front_of(run_dir), key=lambda p: p["values"]["accuracy"])
    return dict(best["arch"]), f"{run_dir} trial {best['trial']}"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--timesteps", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--search-run", type=Path, help="a hybrid_attention run folder")
    ap.add_argument("--out", type=Path, default=default_out("timesteps"))
    args = ap.parse_args()
    arch, source = pick_arch(args.search_run)
    print(f"architecture: {source}: {arch}")
    data = load("digits")
    runs: dict[int, list[dict[str, Any]]] = {}
    bar = tqdm(total=len(args.timesteps) * args.seeds, desc="runs", unit="run")
    for t in args.timesteps:
        runs[t] = []
        for seed in range(args.seeds):
            runs[t].append(run(arch | {"timesteps": t}, data, epochs=args.epochs, seed=seed))
            bar.update()
    bar.close()
    latency = {}  # dense ops: the cost does not depend on the trained weights, only on T
    for t in args.timesteps:
        net, _ = arch_to_specs(arch | {"timesteps": t})
        torch.manual_seed(0)
        model = build(net, data.input_shape, data.n_classes)
        latency[t] = {
            "b1": latency_ms(model, data.test.x, 1, 30),
            "b64": latency_ms(model, data.test.x, 64, 10),
        }
    rows = [
        [
            str(t),
            pm([r["test_accuracy"] for r in rs], 100),
            pm([r["energy_uj"] for r in rs], 1, 4),
            f"{latency[t]['b1']:.3f}",
            f"{latency[t]['b64']:.4f}",
            pm([r["firing_rate"] for r in rs], 1, 3),
        ]
        for t, rs in runs.items()
    ]
    header = ["T", "test acc %", "energy µJ", "ms/sample b1", "ms/sample b64", "firing rate"]
    print(table(header, rows))
    summary = [
        {
            "timesteps": t,
            "test_accuracy": mean_std([r["test_accuracy"] for r in rs]),
            "energy_uj": mean_std([r["energy_uj"] for r in rs]),
            "latency_ms": (latency[t]["b64"], 0.0),
            "latency_b1_ms": latency[t]["b1"],
        }
        for t, rs in runs.items()
    ]
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    write_json(
        args.out,
        {
            "settings": settings,
            "arch": arch,
            "arch_source": source,
            "runs": runs,
            "summary": summary,
        },
    )
    plot(summary, args.out.with_suffix(".png"))


def plot(summary: list[dict[str, Any]], png: Path) -> None:
    plt = pyplot()
    if plt is None:
        return
    ts = [s["timesteps"] for s in summary]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, key, scale, title in (
        (axes[0], "test_accuracy", 100, "test accuracy (%)"),
        (axes[1], "energy_uj", 1, "energy per inference (µJ)"),
        (axes[2], "latency_ms", 1, "CPU latency (ms/sample, batch 64)"),
    ):
        ax.errorbar(
            ts,
            [s[key][0] * scale for s in summary],
            yerr=[s[key][1] * scale for s in summary],
            marker="o",
            capsize=3,
        )
        ax.set_xscale("log", base=2)
        ax.set_xticks(ts, [str(t) for t in ts])
        ax.set_xlabel("time steps T")
        ax.set_title(title)
    fig.suptitle("Time steps: accuracy, energy and latency (mean ± std over seeds)")
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    print(f"plot: {png}")


if __name__ == "__main__":
    main()
