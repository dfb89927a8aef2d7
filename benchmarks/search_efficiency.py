"""Search efficiency: hypervolume against compute time for random search, today's default agent
and each cheaper method (multi-fidelity, zero-cost proxies, weight sharing), per search space.

Every (space, method, seed) is a real `evolve search` run, one at a time on this machine, so its
elapsed wall time is its compute budget (its CPU seconds are recorded too). For every finished
trial we record the seconds since the run was started (set-up, supernet training and proxy
scoring included) and the hypervolume of the front so far, with one reference point per space
(accuracy 0, energy of the equivalent ANN of the space's default model: every method's run
computes the same one). A method *reaches* random search's final hypervolume (same space, same
seed) at the first moment its own front's hypervolume is at least as large; its *time ratio* is
that moment over the time random search needed to reach its own final value.

The methods (``--methods``; the proxy is the one that ranks best on that space, see
docs/proxies.md):

* ``random``: random sampling, no early stopping (the baseline);
* ``default``: NSGA-II with the multi-objective early stopper (what `evolve search` does);
* ``hyperband``: NSGA-II with multi-objective Hyperband over epochs (``--fidelity hyperband``);
* ``proxy-filter``: NSGA-II training only the best-scoring of 8 proposals (``--proxy-filter``);
* ``proxy-prior``: NSGA-II whose first generation is the proxy's best (``--proxy-prior``);
* ``oneshot``: a weight-sharing supernet, NSGA-II on inherited weights, the front retrained
  (``--agent oneshot``); a space it does not support is recorded as refused;
* ``combined``: Hyperband with the proxy prior.

After the searches, the most accurate front point of each method's first-seed run is retrained
from scratch (``--retrain-epochs``, 30; 0 skips it) as a search trial trains it, on that run's
split and seed, and tested once: what the method found, rather than how fast.

Issue 20's target: the best method reaches random's final hypervolume in <= 20 % of random's time
on every seed, on both spaces. Its scale there is full Fashion-MNIST
(``--dataset fashion-mnist``); the default here is digits, which fits the make target's time on
2 cores.

    .venv/bin/python benchmarks/search_efficiency.py --out benchmarks/results/search_efficiency.json

Writes the JSON and a PNG of the curves (one panel per space) beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
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
from evolve.data.datasets import load_dataset
from evolve.engine.trial import TrialSettings, evaluate_trial
from evolve.store.results import finished_points
from evolve.store.runlog import run_log

#: the zero-cost proxy that ranks trained accuracy best on each space (docs/proxies.md)
PROXY = {"hybrid_neuron": "sahd", "hybrid_attention": "grad"}


def method_flags(method: str, space: str) -> list[str]:
    """The `evolve search` flags of one method on one space."""
    proxy = PROXY.get(space, "sahd")
    return {
        "random": ["--sampler", "random", "--no-early-stop"],
        "default": ["--sampler", "nsga2"],
        "hyperband": ["--sampler", "nsga2", "--fidelity", "hyperband"],
        "proxy-filter": ["--sampler", "nsga2", "--proxy-filter", proxy],
        "proxy-prior": ["--sampler", "nsga2", "--proxy-prior", proxy],
        "oneshot": ["--agent", "oneshot"],
        "combined": ["--sampler", "nsga2", "--fidelity", "hyperband", "--proxy-prior", proxy],
    }[method]


METHODS = ("random", "default", "hyperband", "proxy-filter", "proxy-prior", "oneshot", "combined")


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_one(
    space: str, method: str, seed: int, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    """One search; its curve of (seconds since start, hypervolume of the front so far)."""
    study = f"{space}-{method}-s{seed}"
    argv = [
        "search",
        *("--space", space, "--dataset", args.dataset),
        *("--trials", str(args.trials), "--epochs", str(args.epochs)),
        *("--seed", str(seed), "--study", study, "--out", str(tmp), "--no-progress"),
        *method_flags(method, space),
    ]
    t0, cpu0 = time.time(), _cpu_seconds()
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = evolve_main(argv)
    wall, cpu = time.time() - t0, _cpu_seconds() - cpu0
    base = {"space": space, "method": method, "seed": seed, "command": "evolve " + " ".join(argv)}
    if rc != 0:
        lines = [line for line in err.getvalue().splitlines() if line.strip()]
        return base | {"refused": lines[-1] if lines else f"exit {rc}", "wall_s": wall}
    cfg = yaml.safe_load((tmp / study / "config.yaml").read_text())
    objectives = parse_objectives(cfg["objectives"])
    directions = [o.direction for o in objectives]
    ref = [float(cfg["reference_point"][o.name]) for o in objectives]
    st = optuna.load_study(study_name=study, storage=cfg["storage"])
    pts = finished_points(open_store(cfg["storage"], study), objectives)
    done = sorted(
        (t for t in st.trials if t.datetime_complete is not None), key=lambda t: t.datetime_complete
    )
    curve = []
    for t in done:
        upto = [p for tr, p in pts if tr.datetime_complete <= t.datetime_complete]
        curve.append(
            {
                "seconds": t.datetime_complete.timestamp() - t0,
                "hypervolume": hypervolume(upto, ref, directions) if upto else 0.0,
                "state": t.state.name,
            }
        )
    return base | {
        "reference_point": ref,
        "curve": curve,
        "wall_s": wall,
        "cpu_s": cpu,
        "final_hv": curve[-1]["hypervolume"] if curve else 0.0,
        "trials": len(st.trials),
        "pruned": sum(t.state.name == "PRUNED" for t in st.trials),
    }


def retrain_best(run_dir: Path, data: Any, seed: int, epochs: int) -> dict[str, Any] | None:
    """The most accurate point of a run's front, retrained from scratch as a search trial trains
    it (``data``: the run's split, its seed, ``epochs`` epochs, its teacher cache) and tested
    once."""
    front = json.loads((run_dir / "pareto.json").read_text())["front"]
    if not front:
        return None
    best = max(front, key=lambda p: p["values"]["accuracy"])
    settings = TrialSettings(epochs=epochs, seed=seed, teacher_dir=str(run_dir.parent / "teachers"))
    with run_log(None, echo="WARNING"):
        out = evaluate_trial(dict(best["arch"]), data, settings)
    return {
        "trial": best["trial"],
        "search_val_accuracy": best["values"]["accuracy"],
        "val_accuracy": out.values["accuracy"],
        "test_accuracy": out.attrs["test_accuracy"],
        "energy_uj": out.values["energy_uj"],
        "epochs": epochs,
    }


def time_to_reach(curve: list[dict[str, Any]], level: float) -> float | None:
    """Seconds until the curve first reaches ``level`` (None: never)."""
    for point in curve:
        if point["hypervolume"] >= level - 1e-12:
            return float(point["seconds"])
    return None


def compare(runs: list[dict[str, Any]], space: str, seeds: list[int]) -> list[dict[str, Any]]:
    """Per method and seed on ``space``: final HV, time to random's final HV, the ratio."""
    by = {(r["method"], r["seed"]): r for r in runs if r["space"] == space}
    rows = []
    for seed in seeds:
        rand = by.get(("random", seed))
        if rand is None or "refused" in rand:
            continue
        level = rand["final_hv"]
        t_random = time_to_reach(rand["curve"], level)
        refs = {
            tuple(r["reference_point"]) for (_, s), r in by.items() if s == seed and "curve" in r
        }
        assert len(refs) == 1, f"{space} seed {seed}: methods computed different reference points"
        for (method, s), r in by.items():
            if s != seed or method == "random":
                continue
            row: dict[str, Any] = {"space": space, "method": method, "seed": seed}
            if "refused" in r:
                rows.append(row | {"refused": r["refused"]})
                continue
            t = time_to_reach(r["curve"], level)
            rows.append(
                row
                | {
                    "final_hv": r["final_hv"],
                    "random_final_hv": level,
                    "random_time_s": t_random,
                    "time_to_random_hv_s": t,
                    "time_ratio": t / t_random if t is not None and t_random else None,
                    "wall_s": r["wall_s"],
                }
            )
    return rows


def summarise(rows: list[dict[str, Any]], spaces: list[str], seeds: list[int]) -> dict[str, Any]:
    """Per space and method: how many seeds reached random's HV, the median ratio; the target."""
    per: dict[str, dict[str, Any]] = {}
    for space in spaces:
        per[space] = {}
        for method in sorted({r["method"] for r in rows if r["space"] == space}):
            mine = [r for r in rows if r["space"] == space and r["method"] == method]
            ratios = [r.get("time_ratio") for r in mine]
            reached = [x for x in ratios if x is not None]
            per[space][method] = {
                "seeds": len(mine),
                "reached": len(reached),
                "median_ratio": statistics.median(reached) if reached else None,
                "worst_ratio": max(reached) if len(reached) == len(seeds) else None,
                "refused": next((r["refused"] for r in mine if "refused" in r), None),
            }
    best = {
        space: min(
            (m for m, s in per[space].items() if s["worst_ratio"] is not None),
            key=lambda m: per[space][m]["worst_ratio"],
            default=None,
        )
        for space in spaces
    }
    met = all(
        best[s] is not None and per[s][best[s]]["worst_ratio"] <= 0.2 for s in spaces
    ) and set(spaces) >= {"hybrid_neuron", "hybrid_attention"}
    return {"per_space": per, "best": best, "pass": met}


def plot(runs: list[dict[str, Any]], spaces: list[str], png: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(spaces), figsize=(6.5 * len(spaces), 4.8), squeeze=False)
    colours = dict(zip(METHODS, plt.get_cmap("tab10").colors, strict=False))
    for ax, space in zip(axes[0], spaces, strict=True):
        seen: set[str] = set()
        for r in runs:
            if r["space"] != space or "curve" not in r:
                continue
            xs = [0.0] + [p["seconds"] for p in r["curve"]]
            ys = [0.0] + [p["hypervolume"] for p in r["curve"]]
            label = None if r["method"] in seen else r["method"]
            seen.add(r["method"])
            ax.step(xs, ys, where="post", color=colours[r["method"]], alpha=0.8, label=label)
        finals = [r["final_hv"] for r in runs if r["space"] == space and "curve" in r]
        if finals:  # the late differences matter: the axis starts just below the worst final
            top = max(finals)
            ax.set_ylim(min(finals) - 0.15 * (top - min(finals) + 0.01 * top), top * 1.005)
        ax.set_xlabel("seconds since the run started (one run at a time, 2 cores)", fontsize=11)
        ax.set_ylabel("hypervolume (accuracy × energy saved)", fontsize=11)
        ax.set_title(f"{space}: {title}", fontsize=12)
        ax.tick_params(labelsize=10)
        ax.legend(fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"plot: {png}")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--spaces", nargs="+", default=["hybrid_neuron", "hybrid_attention"])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument(
        "--retrain-epochs", type=int, default=30, help="epochs of the retrained best (0: none)"
    )
    ap.add_argument("--out", type=Path, default=default_out("search_efficiency"))
    args = ap.parse_args()
    if "random" not in args.methods:
        ap.error("--methods must include random (the baseline)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for space in args.spaces:
            # untimed: the first run in a process pays the imports and the data set's loading
            warm = argparse.Namespace(**{**vars(args), "trials": 1, "epochs": 1})
            run_one(space, "default", 1000, warm, Path(tmp))
            for seed in args.seeds:
                for method in args.methods:
                    r = run_one(space, method, seed, args, Path(tmp))
                    runs.append(r)
                    hv = r.get("final_hv")
                    print(
                        f"{space} {method} seed {seed}: {r['wall_s']:.0f} s, "
                        + (f"final HV {hv:.4f}" if hv is not None else f"refused: {r['refused']}"),
                        flush=True,
                    )
        retrained = []
        seed = args.seeds[0]
        data = load_dataset(args.dataset, seed=seed) if args.retrain_epochs > 0 else None
        for space in args.spaces if data is not None else []:
            for method in args.methods:
                run_dir = Path(tmp) / f"{space}-{method}-s{seed}"
                if not (run_dir / "pareto.json").exists():  # refused
                    continue
                r = retrain_best(run_dir, data, seed, args.retrain_epochs)
                if r is not None:
                    retrained.append({"space": space, "method": method, "seed": seed, **r})
                    print(f"{space} {method} seed {seed}: retrained best {r}", flush=True)
    rows = [row for space in args.spaces for row in compare(runs, space, args.seeds)]
    summary = summarise(rows, args.spaces, args.seeds)
    settings = {
        "dataset": args.dataset,
        "trials": args.trials,
        "epochs": args.epochs,
        "retrain_epochs": args.retrain_epochs,
        "seeds": args.seeds,
        "spaces": args.spaces,
        "methods": args.methods,
        "proxy": {s: PROXY.get(s, "sahd") for s in args.spaces},
    }
    target = "the best method reaches random's final hypervolume in <= 0.2 x random's time on every seed, both spaces"
    write_result(
        args.out,
        "search_efficiency",
        {
            "settings": settings,
            "target": target,
            **summary,
            "rows": rows,
            "runs": runs,
            "retrained": retrained,
        },
    )
    for space in args.spaces:
        for method, s in summary["per_space"][space].items():
            print(f"{space} {method}: {s}")
    print(f"target: {target} -> {'met' if summary['pass'] else 'not met'}")
    try:
        plot(
            runs, args.spaces, args.out.with_suffix(".png"), f"{args.dataset}, {args.trials} trials"
        )
    except ImportError:
        print("matplotlib not installed (pip install -e '.[bench]'): no plot")


if __name__ == "__main__":
    main()
