"""LIF against bistable BIF in the same architectures, on digits and Fashion-MNIST (issue 4).

For every task (data set × architecture) the same network is trained with every layer's neuron
set to LIF, then to BIF, over several seeds; each run is selected on validation accuracy and
reports test accuracy, energy (45 nm fp32, from its validation spikes) and mean firing rate.
The claim under test: BIF beats LIF on at least one task. A task counts as a BIF win only when
the mean test accuracy is higher by more than the larger of the two seed standard deviations.

Fashion-MNIST (Debian package ``dataset-fashion-mnist``) is cut to a seeded subset so the whole
experiment fits in minutes on 2 cores; ``--fashion-train`` raises it.

    .venv/bin/python benchmarks/bif_vs_lif.py --out benchmarks/results/bif_vs_lif.json
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from _common import load, mean_std, pm, pyplot, run, table, write_json
from meta import default_out
from tqdm import tqdm

NEURONS = ("lif", "bif")


def architectures(patch: int, timesteps: int) -> dict[str, dict[str, Any]]:
    """The architectures compared; ``{neuron}`` is filled in per run."""
    mlp = {"kind": "mlp", "depth": 2, "timesteps": timesteps, "lr": 3e-3}
    for i in range(2):
        mlp |= {f"layer.{i}.width": 128, f"layer.{i}.threshold": 1.0}
    tf = {"kind": "transformer", "depth": 2, "dim": 32, "heads": 2, "patch": patch}
    tf |= {"timesteps": timesteps, "lr": 3e-3}
    for i in range(2):
        tf |= {f"layer.{i}.attention": "sdsa", f"layer.{i}.threshold": 1.0}
    return {"mlp-128x2": mlp, "transformer-sdsa-d2": tf}


def with_neuron(arch: dict[str, Any], neuron: str) -> dict[str, Any]:
    depth = int(arch["depth"])
    return arch | {f"layer.{i}.neuron": neuron for i in range(depth)}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--timesteps", type=int, default=4)
    ap.add_argument("--digits-epochs", type=int, default=15)
    ap.add_argument("--fashion-epochs", type=int, default=4)
    ap.add_argument("--fashion-train", type=int, default=6000, help="training samples kept")
    ap.add_argument("--fashion-eval", type=int, default=2000, help="val and test samples kept")
    ap.add_argument("--datasets", nargs="+", default=["digits", "fashion_mnist"])
    ap.add_argument("--out", type=Path, default=default_out("bif_vs_lif"))
    args = ap.parse_args()

    tasks = []
    for name in args.datasets:
        if name == "digits":
            data, epochs, patch = load("digits"), args.digits_epochs, 2
        else:
            data = load(name, train=args.fashion_train, evaluate=args.fashion_eval)
            epochs, patch = args.fashion_epochs, 4
        for arch_name, arch in architectures(patch, args.timesteps).items():
            tasks.append((data, epochs, arch_name, arch))

    results: list[dict[str, Any]] = []
    bar = tqdm(total=len(tasks) * len(NEURONS) * args.seeds, desc="runs", unit="run")
    for data, epochs, arch_name, arch in tasks:
        for neuron in NEURONS:
            for seed in range(args.seeds):
                r = run(with_neuron(arch, neuron), data, epochs=epochs, seed=seed)
                results.append({"dataset": data.name, "arch": arch_name, "neuron": neuron} | r)
                bar.update()
    bar.close()

    rows, summary = [], []
    for data, _, arch_name, _ in tasks:
        by = {
            n: [
                r
                for r in results
                if (r["dataset"], r["arch"], r["neuron"]) == (data.name, arch_name, n)
            ]
            for n in NEURONS
        }
        acc = {n: mean_std([r["test_accuracy"] for r in by[n]]) for n in NEURONS}
        diff = acc["bif"][0] - acc["lif"][0]
        noise = max(acc["bif"][1], acc["lif"][1])
        verdict = "BIF wins" if diff > noise else ("LIF wins" if -diff > noise else "tie")
        summary.append(
            {
                "dataset": data.name,
                "arch": arch_name,
                "bif_minus_lif_points": 100 * diff,
                "noise_points": 100 * noise,
                "verdict": verdict,
            }
        )
        for n in NEURONS:
            runs = by[n]
            rows.append(
                [
                    data.name,
                    arch_name,
                    n,
                    pm([r["test_accuracy"] for r in runs], 100),
                    pm([r["energy_uj"] for r in runs], 1, 4),
                    pm([r["firing_rate"] for r in runs], 1, 3),
                    verdict if n == "bif" else "",
                ]
            )
    header = ["data", "architecture", "neuron", "test acc %", "energy µJ", "firing rate", "verdict"]
    print(table(header, rows))
    wins = [s for s in summary if s["verdict"] == "BIF wins"]
    claim = bool(wins)
    print(
        f"claim 'BIF beats LIF on at least one task': {'holds' if claim else 'does not hold'} "
        f"({len(wins)} of {len(summary)} tasks; mean over {args.seeds} seeds, a win needs a "
        "margin above the seed std)"
    )
    write_json(
        args.out,
        {
            "settings": vars(args) | {"out": str(args.out)},
            "runs": results,
            "summary": summary,
            "claim_bif_beats_lif_somewhere": claim,
        },
    )
    plot(results, summary, args.out.with_suffix(".png"))


def plot(results: list[dict[str, Any]], summary: list[dict[str, Any]], png: Path) -> None:
    plt = pyplot()
    if plt is None:
        return
    labels = [f"{s['dataset']}\n{s['arch']}" for s in summary]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, key, scale, title in (
        (axes[0], "test_accuracy", 100, "test accuracy (%)"),
        (axes[1], "energy_uj", 1, "energy per inference (µJ)"),
        (axes[2], "firing_rate", 1, "mean firing rate"),
    ):
        for k, neuron in enumerate(NEURONS):
            stats = [
                mean_std(
                    [
                        r[key] * scale
                        for r in results
                        if (r["dataset"], r["arch"], r["neuron"])
                        == (s["dataset"], s["arch"], neuron)
                    ]
                )
                for s in summary
            ]
            xs = [i + (k - 0.5) * 0.38 for i in range(len(summary))]
            ax.bar(
                xs, [m for m, _ in stats], 0.38, yerr=[e for _, e in stats], label=neuron, capsize=3
            )
        ax.set_xticks(range(len(summary)), labels, fontsize=7)
        ax.set_title(title)
    axes[0].legend()
    fig.suptitle("LIF vs BIF: same architectures, mean ± std over seeds")
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    print(f"plot: {png}")


if __name__ == "__main__":
    main()
