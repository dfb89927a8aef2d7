"""Continual learning: naive, replay, STDP and replay+STDP on two task streams (issue 6).

Each run is one ``evolve continual`` trial (:func:`evolve.continual_learning.trial.evaluate_continual`,
the exact code the continual search runs): a spiking MLP learns the 5 tasks of a stream in
order; after each task it is tested on every task, filling the accuracy matrix R; ACC, BWT and
(max-based) forgetting come from the test-split R, energy per inference from the final model's
spikes on all tasks' validation inputs (45 nm fp32).

Streams: Split-Digits (class-incremental, 5 × 2 classes, one shared 10-way head, no task id)
and Permuted-Digits (domain-incremental, 5 fixed pixel permutations). Strategies:

* ``naive``        — fine-tune the whole network on each task (the forgetting baseline);
* ``replay``       — class-balanced buffer of past examples + class-balanced loss;
* ``replay (unbalanced loss)`` — the same buffer with plain cross-entropy;
* ``stdp``         — feature layers calibrated once, hidden layers adapted per task by
  unsupervised STDP, only the readout trained (no backpropagation into features);
* ``replay_stdp``  — ``stdp`` with the replay buffer for the readout;
* ``replay_stdp (stdp off)`` — the same with ``stdp_lr = 0``: what STDP itself adds.

    make bench-continual   # = .venv/bin/python benchmarks/continual.py --out benchmarks/results/continual.json
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

import torch
from _common import mean_std, pm, pyplot, table, write_json
from meta import RESULTS, default_out
from tqdm import tqdm

from evolve.continual_learning.streams import make_stream
from evolve.continual_learning.trial import evaluate_continual

STREAMS = ("split-digits", "permuted-digits")
#: (label, cl_* settings)
STRATEGIES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("naive", {"cl_strategy": "naive"}),
    ("replay", {"cl_strategy": "replay", "cl_buffer_size": 200}),
    (
        "replay (unbalanced loss)",
        {"cl_strategy": "replay", "cl_buffer_size": 200, "cl_balanced": False},
    ),
    ("stdp", {"cl_strategy": "stdp"}),
    ("replay_stdp", {"cl_strategy": "replay_stdp", "cl_buffer_size": 200}),
    (
        "replay_stdp (stdp off)",
        {"cl_strategy": "replay_stdp", "cl_buffer_size": 200, "cl_stdp_lr": 0.0},
    ),
)


def arch(width: int, timesteps: int, lr: float) -> dict[str, Any]:
    return {
        "kind": "mlp",
        "depth": 2,
        "timesteps": timesteps,
        "lr": lr,
        **{f"layer.{i}.{k}": v for i in range(2) for k, v in (("width", width), ("neuron", "lif"))},
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=8, help="epochs per task")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--timesteps", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--out", type=Path, default=default_out("continual"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    model = arch(args.width, args.timesteps, args.lr)
    print(f"model: {model}; {args.epochs} epochs per task, batch 32")
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {s: {} for s in STREAMS}
    jobs = [
        (s, label, cl, seed)
        for s in STREAMS
        for label, cl in STRATEGIES
        for seed in range(args.seeds)
    ]
    streams = {(s, seed): make_stream(s, seed=seed) for s in STREAMS for seed in range(args.seeds)}
    for stream_name, label, cl, seed in tqdm(jobs, desc="continual", unit="run"):
        settings = {"epochs": args.epochs, "lr": args.lr}
        out = evaluate_continual({**model, **cl}, streams[(stream_name, seed)], settings, seed=seed)
        a = out.attrs
        runs[stream_name].setdefault(label, []).append(
            {
                "seed": seed,
                "acc": a["test_acc"],
                "bwt": a["test_bwt"],
                "forgetting": a["test_forgetting"],
                "energy_uj": a["energy_uj"],
                "R": a["R"],
                "R_val": a["R_val"],
                "settings": a["strategy_settings"],
                "seconds": a["wall_seconds"],
            }
        )

    header = ["stream", "strategy", "ACC", "BWT", "forgetting", "energy µJ", "s / run"]
    rows = []
    summary: dict[str, dict[str, Any]] = {}
    for stream_name in STREAMS:
        for label, _ in STRATEGIES:
            rs = runs[stream_name][label]
            rows.append(
                [
                    stream_name,
                    label,
                    pm([r["acc"] for r in rs], digits=3),
                    pm([r["bwt"] for r in rs], digits=3),
                    pm([r["forgetting"] for r in rs], digits=3),
                    pm([r["energy_uj"] for r in rs], digits=3),
                    f"{mean_std([r['seconds'] for r in rs])[0]:.1f}",
                ]
            )
            summary.setdefault(stream_name, {})[label] = {
                k: mean_std([r[k] for r in rs]) for k in ("acc", "bwt", "forgetting", "energy_uj")
            }
    print(table(header, rows))

    verdicts = {}
    split = summary["split-digits"]
    best = max(split, key=lambda k: split[k]["acc"][0])
    met = split[best]["acc"][0] >= 0.85 and split[best]["bwt"][0] >= -0.10
    verdicts["target"] = (
        f"best strategy on Split-Digits: {best}, ACC {split[best]['acc'][0]:.3f}, "
        f"BWT {split[best]['bwt'][0]:+.3f} -> target ACC >= 0.85 with BWT >= -0.10 "
        f"{'met' if met else 'NOT met'}"
    )
    for stream_name in STREAMS:
        s = summary[stream_name]
        verdicts[f"stdp_{stream_name}"] = (
            f"{stream_name}: replay+STDP vs replay ACC "
            f"{s['replay_stdp']['acc'][0] - s['replay']['acc'][0]:+.3f}; "
            f"STDP on vs off (same frozen-feature readout) ACC "
            f"{s['replay_stdp']['acc'][0] - s['replay_stdp (stdp off)']['acc'][0]:+.3f}, BWT "
            f"{s['replay_stdp']['bwt'][0] - s['replay_stdp (stdp off)']['bwt'][0]:+.3f}"
        )
    for v in verdicts.values():
        print(v)
    write_json(
        args.out,
        {
            "model": model,
            "epochs_per_task": args.epochs,
            "seeds": args.seeds,
            "summary": summary,
            "verdicts": verdicts,
            "runs": runs,
        },
    )
    plot(runs, args.out.with_suffix(".png"))


def plot(runs: dict[str, dict[str, list[dict[str, Any]]]], path: Path) -> None:
    """Seed-0 accuracy matrices R, one panel per stream × strategy."""
    plt = pyplot()
    if plt is None:
        return
    labels = [label for label, _ in STRATEGIES]
    fig, axes = plt.subplots(len(STREAMS), len(labels), figsize=(3.1 * len(labels), 6.4))
    for i, stream_name in enumerate(STREAMS):
        for j, label in enumerate(labels):
            ax = axes[i][j]
            r = runs[stream_name][label][0]
            m = r["R"]
            ax.imshow(m, vmin=0, vmax=1, cmap="viridis")
            for a in range(len(m)):
                for b in range(len(m)):
                    ax.text(
                        b,
                        a,
                        f"{m[a][b]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="w" if m[a][b] < 0.6 else "k",
                    )
            ax.set_title(f"{label}\nACC {r['acc']:.2f} BWT {r['bwt']:+.2f}", fontsize=9)
            ax.set_xticks(range(len(m)))
            ax.set_yticks(range(len(m)))
            ax.set_xlabel("task tested", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{stream_name}\nafter training task", fontsize=8)
    fig.suptitle("accuracy matrix R (test), seed 0", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"plot: {path}")
    if path.resolve() != (RESULTS / path.name).resolve():
        RESULTS.mkdir(exist_ok=True)
        shutil.copy(path, RESULTS / path.name)


if __name__ == "__main__":
    main()
