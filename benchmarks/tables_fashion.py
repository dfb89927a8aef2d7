"""The Fashion-MNIST target (``benchmarks/fashion_target.py``), rendered from
``benchmarks/results/fashion_target.json`` (no torch import; registered in
:data:`tables.RENDERERS`)."""

from __future__ import annotations

from typing import Any

from table_parts import duration, md, no_variant, pm


def arch_text(arch: dict[str, Any]) -> str:
    """``16 LIF – 32 BIF, T = 3, lr 3.0e-03``: a searched CNN (``fashion_target.py`` prints it
    too)."""
    layers = " – ".join(
        f"{arch[f'layer.{i}.channels']} {arch[f'layer.{i}.neuron'].upper()}"
        for i in range(arch["depth"])
    )
    return f"{layers}, T = {arch['timesteps']}, lr {arch['lr']:.1e}"


def _points(n: int) -> str:
    return f"{n} point{'s' if n != 1 else ''}"


def fashion_target(d: dict[str, Any], variant: str | None) -> str:
    """The retrained front points, then the search, the clock, the spread and the target."""
    no_variant(variant, "fashion_target")
    chosen = d["chosen_trial"]
    rows = [
        [
            f"{r['trial']}" + (" (chosen)" if r["trial"] == chosen else ""),
            arch_text(r["arch"]),
            f"{100 * r['search_values']['accuracy']:.2f}",
            f"{r['search_values']['energy_ratio_to_ann']:.3f}",
            f"{100 * r['seed0']['val_accuracy']:.2f}",
            f"{100 * r['seed0']['test_accuracy']:.2f}",
            f"{r['seed0']['test_energy_ratio']:.3f}",
        ]
        for r in d["retrained"]
    ]
    header = [
        "trial",
        "architecture (channels, neuron per layer)",
        "search val acc %",
        "search energy / ANN",
        "retrained val acc %",
        "test acc %",
        "test energy / ANN",
    ]
    s, st = d["search"], d["settings"]
    states = ", ".join(f"{n} {k.lower()}" for k, n in sorted(s["states"].items()))
    lines = [
        md(header, rows, "llrrrrr"),
        "",
        f"Search: {s['trials']} trials ({states}) in {duration(s['seconds'])}; "
        f"{_points(len(s['front']))} of its front within the limit, the "
        f"{_points(len(d['retrained']))} retrained for {st['retrain_epochs']} epochs on the "
        "whole training split, the chosen one by retrained validation accuracy. Found and "
        f"retrained in **{duration(d['clock_seconds'])}**.",
    ]
    if d["seeds"]:
        acc = pm([r["test_accuracy"] for r in d["seeds"]], 100, 2)
        ratio = pm([r["test_energy_ratio"] for r in d["seeds"]], 1, 3)
        twin = d.get("ann_twin")
        lines[-1] += (
            f" The chosen architecture over {len(d['seeds'])} retraining seeds: test accuracy "
            f"{acc} %, energy {ratio} of its ANN twin's"
            + (f"; the ANN twin tests at {100 * twin['test_accuracy']:.2f} %." if twin else ".")
        )
    lines[-1] += f" Target ({d['target']}): **{'met' if d['target_met'] else 'not met'}**."
    return "\n".join(lines)
