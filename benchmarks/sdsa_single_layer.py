"""Spike-driven attention (SDSA) in place of standard attention: one block, then all (issue 4).

Part A, controlled: one spiking transformer on digits is trained with every block's attention
``standard``, then with SDSA in exactly one block (each position in turn), then in all blocks,
over several seeds. Each run is selected on validation accuracy; test accuracy, total energy and
each attention block's energy (its projections plus its attention terms, 45 nm fp32, from its
validation spikes) are reported. Target: one SDSA block cuts that block's attention energy by
>= 50% at <= 5 points of test-accuracy loss (means over seeds).

Part B, the search: the front of a ``hybrid_attention`` search run (``--search-run``, default the
newest ``runs/hybrid_attention-*``) is retrained, hybrid by hybrid (points that use at least one
non-standard block, best validation accuracy first), beside its all-standard twin (same
architecture, every block ``standard``), same seeds and epochs. Target: some hybrid matches its
twin's test accuracy within 1 point with >= 20% less total energy.

    .venv/bin/python benchmarks/sdsa_single_layer.py --out benchmarks/results/sdsa_single_layer.json
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml
from _common import front_of, latest_search_run, load, mean_std, pm, pyplot, run, table, write_json
from meta import default_out
from tqdm import tqdm


def base_arch(depth: int, timesteps: int) -> dict[str, Any]:
    arch: dict[str, Any] = {"kind": "transformer", "depth": depth, "dim": 32, "heads": 2}
    arch |= {"patch": 2, "timesteps": timesteps, "lr": 3e-3}
    for i in range(depth):
        arch |= {f"layer.{i}.neuron": "lif", f"layer.{i}.threshold": 1.0}
    return arch


def with_attention(arch: dict[str, Any], kinds: list[str]) -> dict[str, Any]:
    return arch | {f"layer.{i}.attention": k for i, k in enumerate(kinds)}


def part_a(args: argparse.Namespace, data: Any) -> dict[str, Any]:
    depth = args.depth
    configs: dict[str, list[str]] = {"all standard": ["standard"] * depth}
    for i in range(depth):
        configs[f"SDSA in block {i}"] = ["sdsa" if j == i else "standard" for j in range(depth)]
    configs["all SDSA"] = ["sdsa"] * depth
    base = base_arch(depth, args.timesteps)
    runs: dict[str, list[dict[str, Any]]] = {}
    bar = tqdm(total=len(configs) * args.seeds, desc="part A", unit="run")
    for name, kinds in configs.items():
        runs[name] = []
        for seed in range(args.seeds):
            runs[name].append(run(with_attention(base, kinds), data, epochs=args.epochs, seed=seed))
            bar.update()
    bar.close()

    def block_energy(name: str, i: int) -> float:
        return mean_std([r["attention_energy_by_block"][f"body.{i}.attn"] for r in runs[name]])[0]

    ref = runs["all standard"]
    ref_acc = mean_std([r["test_accuracy"] for r in ref])[0]
    ref_att = mean_std([r["attention_energy_uj"] for r in ref])[0]
    ref_tot = mean_std([r["energy_uj"] for r in ref])[0]
    rows, summary = [], []
    for name, kinds in configs.items():
        rs = runs[name]
        acc = mean_std([r["test_accuracy"] for r in rs])[0]
        att = mean_std([r["attention_energy_uj"] for r in rs])[0]
        tot = mean_std([r["energy_uj"] for r in rs])[0]
        swapped = [i for i, k in enumerate(kinds) if k == "sdsa"]
        block_cut = (
            1
            - sum(block_energy(name, i) for i in swapped)
            / sum(block_energy("all standard", i) for i in swapped)
            if swapped
            else 0.0
        )
        entry = {
            "config": name,
            "attention": kinds,
            "test_accuracy": acc,
            "accuracy_change_points": 100 * (acc - ref_acc),
            "energy_uj": tot,
            "attention_energy_uj": att,
            "swapped_block_energy_cut": block_cut,
            "attention_energy_cut": 1 - att / ref_att,
            "total_energy_cut": 1 - tot / ref_tot,
        }
        if len(swapped) == 1:
            entry["meets_target"] = block_cut >= 0.5 and entry["accuracy_change_points"] >= -5
        summary.append(entry)
        rows.append(
            [
                name,
                pm([r["test_accuracy"] for r in rs], 100),
                f"{entry['accuracy_change_points']:+.2f}",
                pm([r["energy_uj"] for r in rs], 1, 4),
                pm([r["attention_energy_uj"] for r in rs], 1, 4),
                f"{100 * block_cut:.0f}%" if swapped else "",
                f"{100 * entry['attention_energy_cut']:.0f}%",
                f"{100 * entry['total_energy_cut']:.0f}%",
            ]
        )
    header = [
        "attention",
        "test acc %",
        "Δ acc pts",
        "energy µJ",
        "attention µJ",
        "swapped-block cut",
        "attention cut",
        "total cut",
    ]
    print(table(header, rows))
    singles = [s for s in summary if "meets_target" in s]
    met = all(s["meets_target"] for s in singles)
    print(
        "target 'one SDSA block cuts its attention energy >= 50% at <= 5 points': "
        f"{'met' if met else 'not met'} ({sum(s['meets_target'] for s in singles)} of {len(singles)} positions)"
    )
    return {"runs": runs, "summary": summary, "one_block_target_met": met}


def part_b(args: argparse.Namespace, data: Any) -> dict[str, Any] | None:
    run_dir = args.search_run or latest_search_run(Path("runs"), "hybrid_attention")
    if run_dir is None:
        print("part B skipped: no hybrid_attention search run (run `make search` first)")
        return None
    epochs = int(yaml.safe_load((run_dir / "config.yaml").read_text())["epochs"])
    front = sorted(front_of(run_dir), key=lambda p: -p["values"]["accuracy"])
    hybrids = [
        p
        for p in front
        if any(v != "standard" for k, v in p["arch"].items() if k.endswith(".attention"))
    ][: args.front_points]
    print(f"part B: {len(hybrids)} hybrids from {run_dir} ({epochs} epochs, {args.seeds} seeds)")
    points = []
    bar = tqdm(total=2 * len(hybrids) * args.seeds, desc="part B", unit="run")
    for p in hybrids:
        twin = {k: ("standard" if k.endswith(".attention") else v) for k, v in p["arch"].items()}
        rs: dict[str, list[dict[str, Any]]] = {"hybrid": [], "standard": []}
        for seed in range(args.seeds):
            for name, arch in (("hybrid", p["arch"]), ("standard", twin)):
                rs[name].append(run(arch, data, epochs=epochs, seed=seed))
                bar.update()
        acc = {n: mean_std([r["test_accuracy"] for r in rs[n]])[0] for n in rs}
        energy = {n: mean_std([r["energy_uj"] for r in rs[n]])[0] for n in rs}
        points.append(
            {
                "trial": p["trial"],
                "arch": p["arch"],
                "attention": [v for k, v in p["arch"].items() if k.endswith(".attention")],
                "runs": rs,
                "accuracy_change_points": 100 * (acc["hybrid"] - acc["standard"]),
                "energy_cut": 1 - energy["hybrid"] / energy["standard"],
                "meets_target": acc["hybrid"] >= acc["standard"] - 0.01
                and energy["hybrid"] <= 0.8 * energy["standard"],
            }
        )
    bar.close()
    rows = [
        [
            str(q["trial"]),
            ",".join(q["attention"]),
            pm([r["test_accuracy"] for r in q["runs"]["hybrid"]], 100),
            pm([r["test_accuracy"] for r in q["runs"]["standard"]], 100),
            f"{q['accuracy_change_points']:+.2f}",
            f"{100 * q['energy_cut']:.0f}%",
            "yes" if q["meets_target"] else "no",
        ]
        for q in points
    ]
    if rows:
        header = [
            "trial",
            "attention",
            "hybrid acc %",
            "all-standard acc %",
            "Δ pts",
            "energy cut",
            "target",
        ]
        print(table(header, rows))
    met = any(q["meets_target"] for q in points)
    print(
        "target 'a searched hybrid matches all-standard within 1 point with >= 20% less energy': "
        f"{'met' if met else 'not met'}"
    )
    return {"search_run": str(run_dir), "epochs": epochs, "points": points, "target_met": met}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--timesteps", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=15, help="epochs per run in part A")
    ap.add_argument("--search-run", type=Path, help="a hybrid_attention run folder for part B")
    ap.add_argument("--front-points", type=int, default=3, help="hybrids retrained in part B")
    ap.add_argument("--skip-search", action="store_true", help="part A only")
    ap.add_argument("--out", type=Path, default=default_out("sdsa_single_layer"))
    args = ap.parse_args()
    data = load("digits")
    a = part_a(args, data)
    b = None if args.skip_search else part_b(args, data)
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    write_json(args.out, {"settings": settings, "controlled": a, "search": b})
    plot(a, b, args.out.with_suffix(".png"))


def plot(a: dict[str, Any], b: dict[str, Any] | None, png: Path) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for s in a["summary"]:
        rs = a["runs"][s["config"]]
        e = mean_std([r["energy_uj"] for r in rs])
        acc = mean_std([100 * r["test_accuracy"] for r in rs])
        ax.errorbar(e[0], acc[0], xerr=e[1], yerr=acc[1], fmt="o", capsize=3, label=s["config"])
    if b:
        for q in b["points"]:
            for name, marker in (("hybrid", "*"), ("standard", "x")):
                rs = q["runs"][name]
                ax.plot(
                    mean_std([r["energy_uj"] for r in rs])[0],
                    mean_std([100 * r["test_accuracy"] for r in rs])[0],
                    marker,
                    color="grey" if name == "standard" else "black",
                    markersize=9,
                )
            ax.annotate(
                f"t{q['trial']}",
                (
                    mean_std([r["energy_uj"] for r in q["runs"]["hybrid"]])[0],
                    mean_std([100 * r["test_accuracy"] for r in q["runs"]["hybrid"]])[0],
                ),
                fontsize=7,
            )
        ax.plot([], [], "k*", label="searched hybrid")
        ax.plot([], [], "x", color="grey", label="its all-standard twin")
    ax.set_xscale("log")
    ax.set_xlabel("energy per inference (µJ, 45 nm fp32)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Standard vs spike-driven attention on digits (mean ± std over seeds)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    print(f"plot: {png}")


if __name__ == "__main__":
    main()
