"""Search efficiency: the default agent (NSGA-II + multi-objective early stopping) against random
search without early stopping, on `hybrid_neuron` / digits, hypervolume against compute time.

Each (agent, seed) pair is a real `evolve search` run, one at a time on this machine, so its
elapsed wall time is its compute budget. For every finished trial we record the seconds since the
search started and the hypervolume of the front so far (same fixed reference point for every run:
accuracy 0, energy of the equivalent ANN of the space's default model). The target (issue 3): the
default agent reaches random search's final hypervolume in <= 50% of random search's time,
averaged over seeds.

    .venv/bin/python benchmarks/search_efficiency.py --seeds 0 1 2 --trials 24 \
        --out benchmarks/results/search_efficiency.json

Writes the JSON and a PNG of the curves beside it (matplotlib, from the `bench` extra).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
import yaml
from meta import default_out, write_result

from agents import hypervolume, open_store, parse_objectives
from evolve.cli import main as evolve_main
from evolve.store.results import finished_points

CONTENDERS = {
    "default (nsga2 + early stop)": ["--sampler", "nsga2"],
    "random, no early stop": ["--sampler", "random", "--no-early-stop"],
}


def run_one(flags: list[str], seed: int, trials: int, epochs: int, tmp: Path) -> dict[str, Any]:
    study = f"s{seed}-{flags[1]}"
    t0 = time.time()
    rc = evolve_main(
        [
            "search",
            "--space",
            "hybrid_neuron",
            "--trials",
            str(trials),
            "--epochs",
            str(epochs),
            "--seed",
            str(seed),
            "--study",
            study,
            "--out",
            str(tmp),
            "--no-progress",
            *flags,
        ]
    )
    assert rc == 0, f"search {study} failed ({rc})"
    run_dir = tmp / study
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    objectives = parse_objectives(cfg["objectives"])
    directions = [o.direction for o in objectives]
    ref = [cfg["reference_point"][o.name] for o in objectives]
    st = optuna.load_study(study_name=study, storage=cfg["storage"])
    start = min(t.datetime_start for t in st.trials if t.datetime_start).timestamp()
    pts = finished_points(open_store(cfg["storage"], study), objectives)
    all_done = sorted(
        (t for t in st.trials if t.datetime_complete is not None), key=lambda t: t.datetime_complete
    )
    curve = []
    for t in all_done:
        upto = [p for tr, p in pts if tr.datetime_complete <= t.datetime_complete]
        hv = hypervolume(upto, ref, directions) if upto else 0.0
        curve.append(
            {
                "seconds": t.datetime_complete.timestamp() - start,
                "hypervolume": hv,
                "state": t.state.name,
            }
        )
    return {
        "seed": seed,
        "curve": curve,
        "wall_s": time.time() - t0,
        "final_hv": curve[-1]["hypervolume"],
        "pruned": sum(t.state.name == "PRUNED" for t in st.trials),
    }


def time_to_reach(curve: list[dict[str, Any]], level: float) -> float | None:
    for point in curve:
        if point["hypervolume"] >= level - 1e-12:
            return float(point["seconds"])
    return None


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--trials", type=int, default=80)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--out", type=Path, default=default_out("search_efficiency"))
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CONTENDERS}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for name, flags in CONTENDERS.items():
                runs[name].append(run_one(flags, seed, args.trials, args.epochs, Path(tmp)))
    default, rand = runs["default (nsga2 + early stop)"], runs["random, no early stop"]
    rows = []
    for d, r in zip(default, rand, strict=True):
        t_default = time_to_reach(d["curve"], r["final_hv"])
        t_random = time_to_reach(r["curve"], r["final_hv"])
        rows.append(
            {
                "seed": d["seed"],
                "random_final_hv": r["final_hv"],
                "default_final_hv": d["final_hv"],
                "random_time_s": t_random,
                "default_time_to_random_hv_s": t_default,
                "time_ratio": (t_default / t_random)
                if t_default is not None and t_random
                else None,
                "default_pruned": d["pruned"],
            }
        )
    ratios = [row["time_ratio"] for row in rows]
    reached = [x for x in ratios if x is not None]
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "trials": args.trials,
        "epochs": args.epochs,
        "seeds": args.seeds,
        "rows": rows,
        "median_time_ratio": statistics.median(reached) if len(reached) == len(ratios) else None,
        "target": "default reaches random's final hypervolume in <= 0.5 x random's time",
        "pass": bool(reached) and len(reached) == len(ratios) and statistics.median(reached) <= 0.5,
        "runs": runs,
    }
    write_result(args.out, "search_efficiency", summary)
    print(
        "| seed | random final HV | default final HV | random time (s) | default time to random's HV (s) | ratio | pruned (default) |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        ratio = "not reached" if row["time_ratio"] is None else f"{row['time_ratio']:.2f}"
        t_def = (
            "-"
            if row["default_time_to_random_hv_s"] is None
            else f"{row['default_time_to_random_hv_s']:.0f}"
        )
        print(
            f"| {row['seed']} | {row['random_final_hv']:.4g} | {row['default_final_hv']:.4g} | "
            f"{row['random_time_s']:.0f} | {t_def} | {ratio} | {row['default_pruned']} |"
        )
    print(f"target: ratio <= 0.5 -> {'pass' if summary['pass'] else 'FAIL'}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (pip install -e '.[bench]'): no plot")
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (name, rs), colour in zip(runs.items(), ("tab:blue", "tab:orange"), strict=True):
        for i, r in enumerate(rs):
            xs = [0.0] + [p["seconds"] for p in r["curve"]]
            ys = [0.0] + [p["hypervolume"] for p in r["curve"]]
            ax.step(xs, ys, where="post", color=colour, alpha=0.8, label=name if i == 0 else None)
    ax.set_xlabel("seconds since the search started (one search at a time, 2 cores)")
    ax.set_ylabel("hypervolume (accuracy x energy saved)")
    ax.set_title(f"hybrid_neuron on digits, {args.trials} trials, seeds {args.seeds}")
    ax.legend()
    fig.tight_layout()
    png = args.out.with_suffix(".png")
    fig.savefig(png, dpi=120)
    print(f"plot: {png}")


if __name__ == "__main__":
    main()
