"""Zero-cost proxies against trained accuracy: Kendall tau, Spearman rho, candidates per minute.

``--n`` architectures are drawn from each space (``search_spaces.RandomSuggester`` with a fixed
seed; distillation off and the learning rate at the space's default, so the comparison is about
the architecture, which is all a proxy sees). Each untrained candidate is scored with every proxy
of ``snn_models.proxies.PROXIES`` exactly as ``evolve search --proxy-filter`` scores it
(``evolve.engine.proxy_filter.score_arch``: the trial's preprocessing, its weights, two
mini-batches of 64 training samples), then trained briefly (``--epochs`` on a ``--train``-sample
subset of the data, the search's own trial code) and its best validation accuracy recorded. The
table gives each proxy's rank correlation with that accuracy, that of the parameter count for
comparison, and the scoring speed (candidates scored per minute, building included, in one
process before any training starts). Training then runs in ``--jobs`` processes (default 2, one
thread each); ``--reuse`` takes the trained rows of an earlier, interrupted run.

    .venv/bin/python benchmarks/proxies.py --out benchmarks/results/proxies.json
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch
from _common import load, run, table, write_json
from meta import default_out
from scipy.stats import kendalltau, spearmanr

from evolve.data.kinds import fit_space
from evolve.engine.arch import arch_to_specs
from evolve.engine.proxy_filter import proxy_batches, score_arch
from search_spaces import RandomSuggester, load_space
from snn_models import NetSpec, build
from snn_models.proxies import PROXIES

DROPPED = ("kd_alpha", "kd_temperature")  # distillation off: no teacher is trained


def sample_archs(
    space_name: str, data: Any, n: int, seed: int, batch_size: int
) -> list[dict[str, Any]]:
    """``n`` architectures of the space fitted to ``data``, drawn with ``seed`` (distillation
    off, the space's default learning rate, training batches of ``batch_size``)."""
    space = fit_space(load_space(space_name), data.kind, dataset=data.name, shape=data.input_shape)
    default = space.default()
    suggester = RandomSuggester(seed=seed)
    archs = []
    for _ in range(n):
        arch = {k: v for k, v in space.sample(suggester).items() if k not in DROPPED}
        if "kd_enabled" in arch:
            arch["kd_enabled"] = False
        if "lr" in default:
            arch["lr"] = default["lr"]
        arch["batch_size"] = batch_size
        archs.append(arch)
    return archs


def n_params(arch: dict[str, Any], data: Any) -> int:
    net, _ = arch_to_specs(arch)
    model = build(NetSpec.from_dict(net), data.input_shape, data.n_classes)
    return sum(p.numel() for p in model.parameters())


def correlations(scores: list[float | None], acc: list[float | None]) -> dict[str, Any]:
    """Kendall tau-b and Spearman rho over the candidates with a finite score and accuracy."""
    pairs = [
        (s, a)
        for s, a in zip(scores, acc, strict=True)
        if s is not None and a is not None and math.isfinite(s)
    ]
    if len(pairs) < 3:
        return {"n": len(pairs), "kendall_tau": None, "spearman_rho": None}
    xs, ys = zip(*pairs, strict=True)
    tau = kendalltau(xs, ys)
    rho = spearmanr(xs, ys)
    return {
        "n": len(pairs),
        "kendall_tau": float(tau.statistic),
        "kendall_p": float(tau.pvalue),
        "spearman_rho": float(rho.statistic),
        "spearman_p": float(rho.pvalue),
    }


def summary(
    rows: list[dict[str, Any]], seconds: dict[str, float], cpu: dict[str, float]
) -> dict[str, Any]:
    """Each proxy's correlation with validation accuracy and its speed; the parameter count's."""
    acc = [r["val_accuracy"] for r in rows]
    result: dict[str, Any] = {"n": len(rows), "proxies": {}}
    for name in PROXIES:
        result["proxies"][name] = {
            **correlations([r[name] for r in rows], acc),
            "candidates_per_minute": 60 * len(rows) / seconds[name],
            # CPU seconds of this process (all its threads): the rate on otherwise idle cores
            "candidates_per_cpu_minute": 60 * len(rows) / cpu[name],
        }
    result["n_params"] = correlations([float(r["n_params"]) for r in rows], acc)
    # within one network kind: a kernel over more units scores higher, which mixes kinds
    by_kind: dict[str, Any] = {}
    for kind in sorted({str(r["arch"].get("kind")) for r in rows}):
        some = [r for r in rows if str(r["arch"].get("kind")) == kind]
        some_acc = [r["val_accuracy"] for r in some]
        by_kind[kind] = {
            name: correlations([r[name] for r in some], some_acc) for name in PROXIES
        } | {"n_params": correlations([float(r["n_params"]) for r in some], some_acc)}
    result["by_kind"] = by_kind
    result["rows"] = rows
    return result


_DATA: dict[tuple[Any, ...], Any] = {}


def train_one(arch: dict[str, Any], i: int, args: argparse.Namespace) -> dict[str, Any]:
    """Train candidate ``i`` briefly (in a worker process with ``--jobs`` > 1): its accuracy."""
    if args.jobs > 1:
        torch.set_num_threads(1)  # the workers share the cores
    key = (args.dataset, args.seed, args.train, args.evaluate)
    if key not in _DATA:
        _DATA[key] = load(args.dataset, seed=args.seed, train=args.train, evaluate=args.evaluate)
    try:
        out = run(arch, _DATA[key], epochs=args.epochs, seed=args.seed + i)
    except Exception as e:  # a diverged candidate: no accuracy
        return {"val_accuracy": None, "error": f"{type(e).__name__}: {e}"}
    return {k: out[k] for k in ("val_accuracy", "test_accuracy", "train_seconds")}


def earlier_rows(path: Path | None, space: str) -> list[dict[str, Any]]:
    """The rows of an earlier (interrupted) run of this benchmark, to reuse their training."""
    if path is None or not path.exists():
        return []
    rows: list[dict[str, Any]] = (
        json.loads(path.read_text())["spaces"].get(space, {}).get("rows", [])
    )
    return rows


def bench_space(space: str, args: argparse.Namespace, payload: dict[str, Any]) -> dict[str, Any]:
    data = load(args.dataset, seed=args.seed, train=args.train, evaluate=args.evaluate)
    archs = sample_archs(space, data, args.n, args.seed, args.batch_size)
    batches = proxy_batches(data, seed=args.seed)
    rows: list[dict[str, Any]] = []
    seconds = dict.fromkeys(PROXIES, 0.0)
    cpu = dict.fromkeys(PROXIES, 0.0)
    for i, arch in enumerate(archs):  # scoring: one process, timed
        row: dict[str, Any] = {"arch": arch, "n_params": n_params(arch, data)}
        for name in PROXIES:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                row[name] = score_arch(arch, data, name, batches, seed=args.seed + i)
            except Exception as e:  # recorded, left out of the correlation
                row[name], row[f"{name}_error"] = None, f"{type(e).__name__}: {e}"
            seconds[name] += time.perf_counter() - t0
            cpu[name] += time.process_time() - c0
        rows.append(row)
    if args.epochs < 1:  # scoring speed only
        for row in rows:
            row["val_accuracy"] = None
        return summary(rows, seconds, cpu)
    before = earlier_rows(args.reuse, space)
    todo = []
    for i, row in enumerate(rows):
        old = before[i] if i < len(before) else {}
        if old.get("arch") == row["arch"] and "val_accuracy" in old:
            row.update(
                {
                    k: old[k]
                    for k in ("val_accuracy", "test_accuracy", "train_seconds", "error")
                    if k in old
                }
            )
        else:
            todo.append(i)
    print(f"{space}: {len(rows) - len(todo)} trained earlier, {len(todo)} to train", flush=True)

    def done(i: int, out: dict[str, Any], count: int) -> None:
        rows[i].update(out)
        print(
            f"{space} {count}/{len(todo)} (#{i}) acc {out['val_accuracy']} "
            + " ".join(f"{n} {rows[i][n]}" for n in PROXIES),
            flush=True,
        )
        if count % 10 == 0:  # a partial result survives an interrupted run
            trained = [r for r in rows if "val_accuracy" in r]
            payload["spaces"][space] = {**summary(trained, seconds, cpu), "partial": True}
            write_json(args.out, payload)

    if args.jobs > 1:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.jobs, mp_context=ctx) as pool:
            futures = {pool.submit(train_one, rows[i]["arch"], i, args): i for i in todo}
            for count, future in enumerate(as_completed(futures), 1):
                done(futures[future], future.result(), count)
    else:
        for count, i in enumerate(todo, 1):
            done(i, train_one(rows[i]["arch"], i, args), count)
    return summary(rows, seconds, cpu)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--spaces", nargs="+", default=["hybrid_neuron", "hybrid_attention"])
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--n", type=int, default=100, help="architectures per space")
    ap.add_argument("--epochs", type=int, default=2, help="0: only the scoring speed")
    ap.add_argument("--batch-size", type=int, default=32, help="training batch size")
    ap.add_argument("--train", type=int, default=600, help="training samples (subset)")
    ap.add_argument("--evaluate", type=int, default=300, help="val/test samples (subset)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2, help="processes training at once")
    ap.add_argument("--reuse", type=Path, help="an earlier JSON: reuse its trained rows")
    ap.add_argument("--out", type=Path, default=default_out("proxies"))
    args = ap.parse_args()
    payload: dict[str, Any] = {
        "dataset": args.dataset,
        "n": args.n,
        "epochs": args.epochs,
        "train_samples": args.train,
        "eval_samples": args.evaluate,
        "seed": args.seed,
        "fixed": {"kd_enabled": False, "lr": "the space's default", "batch_size": args.batch_size},
        "spaces": {},
    }
    for space in args.spaces:
        payload["spaces"][space] = bench_space(space, args, payload)
        write_json(args.out, payload)  # after each space: a late space does not lose the first
    header = ["space", "score", "n", "Kendall tau", "Spearman rho", "cand./min", "cand./CPU-min"]
    lines = []
    for space, res in payload["spaces"].items():
        for name, c in [*res["proxies"].items(), ("n_params", res["n_params"])]:
            tau, rho = c["kendall_tau"], c["spearman_rho"]
            lines.append(
                [
                    space,
                    name,
                    str(c["n"]),
                    "-" if tau is None else f"{tau:.3f}",
                    "-" if rho is None else f"{rho:.3f}",
                    f"{c['candidates_per_minute']:.0f}" if "candidates_per_minute" in c else "-",
                    f"{c['candidates_per_cpu_minute']:.0f}"
                    if "candidates_per_cpu_minute" in c
                    else "-",
                ]
            )
    print(table(header, lines))


if __name__ == "__main__":
    main()
