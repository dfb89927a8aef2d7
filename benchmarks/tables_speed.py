"""Renderers of the speed benchmarks (neurons, engine overhead, attention, search efficiency,
long run, Ray scaling); registered in :data:`tables.RENDERERS` (no torch import)."""

from __future__ import annotations

from typing import Any

from table_parts import duration, md, no_variant


# --------------------------------------------------------------------------- speed
def neurons(d: dict[str, Any], variant: str | None) -> str:
    no_variant(variant, "neurons")
    rows = []
    for r in d["rows"]:
        ms = f"{r['median_ms']:.2f}" if "median_ms" in r else r.get("note", "")
        ratio = f"{r['ratio']:.3f}" if "ratio" in r else ""
        target = r.get("target", "").replace("<=", "≤")
        verdict = ("pass" if r["pass"] else "miss") if "pass" in r else ""
        rows.append([r["workload"], r["contender"], ms, ratio, target, verdict])
    v, f = d["versions"], d["bandwidth_floor"]
    targets = [t for t in d["targets"] if t["pass"] is not None]
    missed = sum(not t["pass"] for t in targets)
    checks = {k: e for k, e in d["equality"].items() if isinstance(e, dict)}
    same = {
        k: bool(e.get("equal")) and e.get("grad_x", {}).get("equal", True)
        for k, e in checks.items()
    }
    equal = [k for k, ok in same.items() if ok]
    unequal = [k for k, ok in same.items() if not ok]
    notes = [
        f"snnTorch {v.get('snnTorch') or 'not installed'}, SpikingJelly "
        f"{v.get('SpikingJelly') or 'not installed'}, {d['torch_num_threads']} torch threads. "
        f"Speed targets: {len(targets) - missed} of {len(targets)} met.",
        f"The floor is {sum(f['bytes_per_element'].values())} bytes per element over "
        f"{f['elements'] / 1e6:.2f} M elements at the measured copy bandwidth "
        f"({f['copy_bandwidth_GBps']:.1f} GB/s).",
        "Same inputs and weights, spikes (and input gradients) equal bit for bit: "
        + (", ".join(f"`{k}`" for k in equal) or "none")
        + (f"; not equal: {', '.join(f'`{k}`' for k in unequal)}" if unequal else "")
        + ".",
    ]
    table = md(
        ["workload", "contender", "median ms", "ours / theirs", "target", ""], rows, "llrrll"
    )
    return table + "\n\n" + " ".join(notes)


def engine_overhead(d: dict[str, Any], variant: str | None) -> str:
    no_variant(variant, "engine_overhead")
    rows = [
        ["median engine overhead", f"{d['median_overhead_s']:.3f}"],
        ["10th / 90th percentile", f"{d['p10_s']:.3f} / {d['p90_s']:.3f}"],
        ["target", f"≤ {d['target_s']:g} ({'met' if d['pass'] else 'not met'})"],
    ]
    return md(["measure", "seconds per trial"], rows) + (
        f"\n\n{d['trials']} trials, {duration(d['total_wall_s'])} in all."
    )


def attention_speed(d: dict[str, Any], variant: str | None) -> str:
    no_variant(variant, "attention_speed")
    rows = [
        [
            str(r["tokens"]),
            f"{r['standard_ms']:.1f}",
            f"{r['sdsa_ms']:.1f}",
            f"{r['ratio_sdsa_over_standard']:.2f}",
        ]
        for r in d["rows"]
    ]
    table = md(["N", "standard ms", "SDSA ms", "SDSA / standard"], rows, "lrrr")
    verdict = "met" if d["pass"] else "not met"
    if not any(r["tokens"] == 256 for r in d["rows"]):
        verdict = "not measured (no N = 256 row)"
    return table + f"\n\nTarget ({d['target']}): **{verdict}**."


def _span(values: list[float]) -> str:
    """``lo–hi`` seconds (one figure when they round alike; ``—`` for none)."""
    if not values:
        return "—"
    lo, hi = f"{min(values):.0f}", f"{max(values):.0f}"
    return lo if lo == hi else f"{lo}–{hi}"


def search_efficiency(d: dict[str, Any], variant: str | None) -> str:
    no_variant(variant, "search_efficiency")
    cfg = d["settings"]
    seeds = cfg["seeds"]
    parts = []
    # the most accurate front point of each method's first-seed run, retrained and tested
    retrained = {(r["space"], r["method"]): r for r in d.get("retrained", [])}
    for space in cfg["spaces"]:
        finals = {
            (r["method"], r["seed"]): r for r in d["runs"] if r["space"] == space and "curve" in r
        }
        rows = []
        for method in cfg["methods"]:
            mine = [finals.get((method, s)) for s in seeds]
            walls = [r["wall_s"] for r in mine if r is not None]
            hvs = [r["final_hv"] for r in mine if r is not None]
            if method == "random":
                ratios, reached = "1 (baseline)", "—"
            else:
                stats = d["per_space"][space].get(method)
                if stats is None or stats["refused"]:
                    why = stats["refused"] if stats else "not run"
                    rows.append(
                        [f"`{method}`", "refused", "—", "—", "—", *["—"] * bool(retrained), why]
                    )
                    continue
                by_seed = {
                    r["seed"]: r for r in d["rows"] if r["space"] == space and r["method"] == method
                }
                ratios = ", ".join(
                    "never"
                    if by_seed[s].get("time_ratio") is None
                    else f"{by_seed[s]['time_ratio']:.2f}"
                    for s in seeds
                )
                reached = f"{stats['reached']} of {stats['seeds']}"
            row = [
                f"`{method}`",
                reached,
                ratios,
                f"{sum(hvs) / len(hvs):.4f}" if hvs else "—",
                _span(walls),
            ]
            if retrained:
                best = retrained.get((space, method))
                row.append(f"{100 * best['test_accuracy']:.2f}" if best else "—")
            rows.append([*row, ""])
        header = [
            "method",
            "seeds reaching random's final HV",
            "time ratio by seed",
            "mean final HV",
            "whole run (s)",
            *(["best found, retrained: test acc %"] if retrained else []),
            "note",
        ]
        best = d["best"].get(space)
        parts.append(
            f"**{space}** (proxy: `{cfg['proxy'][space]}`; best: "
            + (
                f"`{best}`, worst seed {d['per_space'][space][best]['worst_ratio']:.2f})"
                if best
                else "none reached it on every seed)"
            )
            + "\n\n"
            + md(header, rows, "llrrr" + "r" * bool(retrained) + "l")
        )
    verdict = "met" if d["pass"] else "not met"
    return (
        "\n\n".join(parts)
        + f"\n\n{cfg['dataset']}, {cfg['trials']} trials of {cfg['epochs']} epochs per run, seeds "
        + ", ".join(map(str, seeds))
        + ". Time ratio: seconds until the method's front reaches random search's final "
        "hypervolume over random's own seconds to it (same seed, same reference point). "
        + (
            f"Best found, retrained: the most accurate front point of each method's seed-"
            f"{seeds[0]} run, retrained from scratch for {cfg['retrain_epochs']} epochs and "
            "tested once. "
            if retrained
            else ""
        )
        + f"Target ({d['target']}): **{verdict}**."
    )


def long_run(d: dict[str, Any], variant: str | None) -> str:
    marks = d["marks"]
    warm = next(m for m in marks if m["trials_done"] == d["warm_up_trials"])
    last = marks[-1]
    per_trial = []
    for before, mark in zip([None, *marks], marks, strict=False):
        if before is None or mark["trials_done"] <= before["trials_done"]:
            per_trial.append(None)
        else:
            per_trial.append(
                (mark["seconds"] - before["seconds"])
                / (mark["trials_done"] - before["trials_done"])
            )
    no_variant(variant, "long_run")
    rows = [
        [
            f"{m['trials_done']:.0f}",
            f"{m['rss_mb']:.1f}",
            f"{m['seconds']:.1f}",
            "" if p is None else f"{p:.3f}",
        ]
        for m, p in zip(marks, per_trial, strict=True)
    ]
    table = md(["trials done", "RSS MB", "seconds", "s / trial (since last row)"], rows, "rrrr")
    return table + (
        f"\n\nResident memory after trial {d['warm_up_trials']}: {d['rss_growth_mb']:+.1f} MB "
        f"(target ≤ {d['target_mb']:.0f} MB: {'met' if d['pass'] else 'not met'}; "
        f"RSS {warm['rss_mb']:.1f} → {last['rss_mb']:.1f} MB); neurons alive after the run: "
        f"{d['neurons_alive_after']}."
    )


def ray_scaling(d: dict[str, Any], variant: str | None) -> str:
    no_variant(variant, "ray_scaling")
    rows = [
        [
            r["backend"],
            str(r["workers"]),
            f"{r['trials_per_min']:.2f}",
            f"{r['trial_seconds_median']:.2f}",
            f"{r['overhead_median_s']:.2f}",
            f"{r['cost_beyond_training_s']:.2f}",
            f"{r['startup_s']:.1f}",
        ]
        for r in d["runs"]
    ]
    header = [
        "backend",
        "workers",
        "trials/min",
        "trial s (median)",
        "in-trial overhead s (median)",
        "cost beyond training s / trial",
        "start-up + summary s",
    ]
    notes = "\n".join(f"- {v}" for v in d["verdicts"].values())
    return md(header, rows, "lrrrrrr") + "\n\n" + notes
