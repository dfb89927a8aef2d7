"""The docs' benchmark tables, rendered from ``benchmarks/results/<name>.json`` (no torch import).

One renderer per benchmark in :data:`RENDERERS`; a renderer takes the JSON and the marker's
variant (``<!-- bench:NAME:VARIANT -->``, ``None`` without one) and returns markdown. A benchmark
added to ``benchmarks/`` gets its renderer here (one function, one registry line).
``benchmarks/render_tables.py`` puts the output between the markers of ``docs/*.md`` and
``README.md``, followed by :func:`provenance`.
"""

from __future__ import annotations

import statistics
from typing import Any

from table_parts import (
    Renderer,
    md,
    mean_std,
    missing,
    no_variant,
    pm,
    provenance,
    signed,
)
from tables_fashion import fashion_target
from tables_quickstart import quickstart, setup_time
from tables_speed import (
    attention_speed,
    engine_overhead,
    long_run,
    neurons,
    ray_scaling,
    search_efficiency,
)

__all__ = ["RENDERERS", "missing", "provenance"]


# --------------------------------------------------------------------------- accuracy, energy
def bif_vs_lif(d: dict[str, Any], variant: str | None) -> str:
    no_variant(variant, "bif_vs_lif")
    verdicts = {(s["dataset"], s["arch"]): s["verdict"] for s in d["summary"]}
    rows = []
    for dataset, arch in verdicts:
        for neuron in ("lif", "bif"):
            rs = [
                r
                for r in d["runs"]
                if (r["dataset"], r["arch"], r["neuron"]) == (dataset, arch, neuron)
            ]
            rows.append(
                [
                    dataset,
                    arch,
                    neuron,
                    pm([r["test_accuracy"] for r in rs], 100),
                    pm([r["energy_uj"] for r in rs], 1, 4),
                    pm([r["firing_rate"] for r in rs], 1, 3),
                    verdicts[(dataset, arch)] if neuron == "bif" else "",
                ]
            )
    header = ["data", "architecture", "neuron", "test acc %", "energy µJ", "firing rate", "verdict"]
    counts = {
        v: sum(s["verdict"] == v for s in d["summary"]) for v in ("BIF wins", "LIF wins", "tie")
    }
    claim = "holds" if d["claim_bif_beats_lif_somewhere"] else "**does not hold**"
    return md(header, rows) + (
        f'\n\nThe claim "BIF beats LIF on at least one task" {claim} here: '
        + ", ".join(f"{n} × {v}" for v, n in counts.items() if n)
        + f" over {len(d['summary'])} tasks ({d['settings']['seeds']} seeds; a win needs a mean "
        "margin larger than the seeds' standard deviation)."
    )


def sdsa_single_layer(d: dict[str, Any], variant: str | None) -> str:
    if variant == "controlled":
        a = d["controlled"]
        rows = []
        for s in a["summary"]:
            rs = a["runs"][s["config"]]
            swapped = any(x == "sdsa" for x in s["attention"])
            rows.append(
                [
                    s["config"],
                    pm([r["test_accuracy"] for r in rs], 100),
                    signed(s["accuracy_change_points"], 2),
                    pm([r["energy_uj"] for r in rs], 1, 4),
                    pm([r["attention_energy_uj"] for r in rs], 1, 4),
                    f"{100 * s['swapped_block_energy_cut']:.0f}%" if swapped else "",
                    f"{100 * s['attention_energy_cut']:.0f}%",
                    f"{100 * s['total_energy_cut']:.0f}%",
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
        singles = [s for s in a["summary"] if "meets_target" in s]
        verdict = "met" if a["one_block_target_met"] else "not met"
        return md(header, rows) + (
            '\n\nTarget "one SDSA block cuts attention energy ≥ 50 % at ≤ 5 points": '
            f"**{verdict}** ({sum(s['meets_target'] for s in singles)} of {len(singles)} positions)."
        )
    if variant == "search":
        b = d["search"]
        if b is None:
            return "_Part B was skipped: no `hybrid_attention` search run was given or found._"
        rows = [
            [
                str(q["trial"]),
                ",".join(q["attention"]),
                pm([r["test_accuracy"] for r in q["runs"]["hybrid"]], 100),
                pm([r["test_accuracy"] for r in q["runs"]["standard"]], 100),
                signed(q["accuracy_change_points"], 2),
                f"{100 * q['energy_cut']:.0f}%",
                "yes" if q["meets_target"] else "no",
            ]
            for q in b["points"]
        ]
        header = ["trial", "attention", "hybrid acc %", "all-standard acc %", "Δ pts"]
        header += ["energy cut", "target"]
        verdict = "met" if b["target_met"] else "not met"
        return md(header, rows) + (
            f'\n\nSearch run `{b["search_run"]}`, {b["epochs"]} epochs. Target "a searched hybrid '
            'matches all-standard accuracy within 1 point with ≥ 20 % less energy": '
            f"**{verdict}**."
        )
    raise KeyError(f"sdsa_single_layer has no variant {variant!r} (controlled, search)")


def timesteps(d: dict[str, Any], variant: str | None) -> str:
    no_variant(variant, "timesteps")
    lat = {s["timesteps"]: s for s in d["summary"]}
    rows = []
    for t, rs in d["runs"].items():
        s = lat[int(t)]
        rows.append(
            [
                str(t),
                pm([r["test_accuracy"] for r in rs], 100),
                pm([r["energy_uj"] for r in rs], 1, 4),
                f"{s['latency_b1_ms']:.3f}",
                f"{s['latency_ms'][0]:.4f}",
                pm([r["firing_rate"] for r in rs], 1, 3),
            ]
        )
    header = ["T", "test acc %", "energy µJ", "ms/sample, batch 1", "ms/sample, batch 64"]
    header += ["firing rate"]
    st = d["settings"]
    return md(header, rows) + (
        f"\n\nArchitecture: {d['arch_source']}; {st['epochs']} epochs, {st['seeds']} seeds."
    )


def snn_vs_ann(d: dict[str, Any], variant: str | None) -> str:
    by = {r["dataset"]: r for r in d["datasets"]}
    if variant not in by:
        raise KeyError(f"snn_vs_ann has no variant {variant!r} ({', '.join(by)})")
    res = by[variant]

    def f(v: float | None, digits: int) -> str:
        return "" if v is None else f"{v:.{digits}f}"

    rows = [
        [
            s["row"],
            f"{100 * s['test_accuracy']:.2f} ± {100 * s['test_accuracy_std']:.2f}",
            f(s["latency_b1_ms"], 3),
            f(s["latency_b256_ms"], 4),
            f"{s['energy_uj']:.4f}",
            f"{s['energy_vs_ann']:.3f}",
            f"{s['spikes_per_inference']:.0f}",
            str(s["timesteps"]),
        ]
        for s in res["summary"]
    ]
    header = [variant, "test acc %", "latency b1 ms", "latency b256 ms", "energy µJ", "vs ANN"]
    header += ["spikes/inf", "T"]
    t = res["teacher"]
    return md(header, rows, "lrrrrrrr") + (
        f"\n\nSNN: {res['snn_source']}, {res['epochs']} epochs. KD teacher {t['name']}: test "
        f"{100 * t['test_accuracy']:.2f} %. KD gain on the same architecture: "
        f"{signed(res['kd_gain_points'], 2)} points. SNN rows meeting {res['target_snn']}: "
        f"{', '.join(res['rows_meeting_target']) or 'none'}."
        + (
            ""
            if res.get("conversion_gap_points_t32") is None
            else f" Conversion gap to the ANN at T = 32: {res['conversion_gap_points_t32']:.2f} points."
        )
    )


CONTINUAL_LABELS = {
    "replay (unbalanced loss)": "replay, plain cross-entropy",
    "replay_stdp (stdp off)": "replay_stdp, STDP off (`stdp_lr` 0)",
}


def continual(d: dict[str, Any], variant: str | None) -> str:
    if variant == "verdicts":
        return "\n".join(f"- {v}" for v in d["verdicts"].values())
    no_variant(variant, "continual")
    rows = []
    seconds = []
    for stream, strategies in d["runs"].items():
        for label, rs in strategies.items():
            seconds += [r["seconds"] for r in rs]
            rows.append(
                [
                    stream,
                    CONTINUAL_LABELS.get(label, label),
                    pm([r["acc"] for r in rs], digits=3),
                    pm([r["bwt"] for r in rs], digits=3),
                    pm([r["forgetting"] for r in rs], digits=3),
                    pm([r["energy_uj"] for r in rs], digits=3),
                ]
            )
    header = ["stream", "strategy", "ACC", "BWT", "forgetting", "energy µJ"]
    return md(header, rows) + (
        f"\n\n{d['epochs_per_task']} epochs per task, mean ± std over {d['seeds']} seeds; "
        f"{statistics.fmean(seconds):.1f} s per run on average."
    )


UCR_NAMES = {
    "gunpoint": "GunPoint",
    "italy_power_demand": "ItalyPowerDemand",
    "basic_motions": "BasicMotions",
}


def ucr_net_text(net: dict[str, Any], weight_decay: float | None = None) -> str:
    """``32k5d4 LIF – 64k3 IF, w = 1, 4 steps``: a temporal network's layers (width, kernel,
    dilation, neuron), window and steps (``benchmarks/ucr.py`` prints it too)."""
    layers = " – ".join(
        f"{L['width']}k{L.get('kernel', 3)}"
        + (f"d{L['dilation']}" if (L.get("dilation") or 1) > 1 else "")
        + f" {L.get('neuron', 'lif').upper()}"
        for L in net["layers"]
    )
    steps = net.get("timesteps", 4)
    wd = f", weight decay {weight_decay:.1e}" if weight_decay else ""
    return f"{layers}, w = {net.get('patch', 1)}, {steps} step{'s' if steps != 1 else ''}{wd}"


def ucr(d: dict[str, Any], variant: str | None) -> str:
    no_variant(variant, "ucr")
    rows = []
    for r in d["results"]:
        ann_e = mean_std([x["energy_uj"] for x in r["rows"]["ANN twin"]])[0]
        for label, runs in r["rows"].items():
            e = mean_std([x["energy_uj"] for x in runs])[0]
            snn = label == "SNN"
            rows.append(
                [
                    UCR_NAMES.get(r["dataset"], r["dataset"]) if snn else "",
                    ucr_net_text(r["snn_spec"], r.get("weight_decay")) if snn else "",
                    label,
                    pm([x["test_accuracy"] for x in runs], 100, 1),
                    f"{e:.4g}",
                    f"{e / ann_e:.3f}" if snn else "1",
                ]
            )
        snn_acc = mean_std([x["test_accuracy"] for x in r["rows"]["SNN"]])[0]
        for b in r.get("baselines", []):
            gap = 100 * (snn_acc - b["test_accuracy"])
            name = b.get("label", b["name"])
            rows.append(
                [
                    "",
                    "",
                    f"{name} (SNN {gap:+.1f} points)",
                    f"{100 * b['test_accuracy']:.1f}",
                    "",
                    "",
                ]
            )
    header = [
        "data set",
        "searched SNN (layers: width, kernel, dilation, neuron; window w; steps per window)",
        "model",
        "test accuracy %",
        "energy µJ",
        "SNN / ANN energy",
    ]
    st = d["settings"]
    return md(header, rows) + (
        f"\n\nSearch: {st['trials']} trials × {st['epochs']} epochs per set (seed 0); "
        f"retrained {st.get('retrain_epochs', st['epochs'])} epochs with {st['seeds']} seeds."
    )


def ecg(d: dict[str, Any], variant: str | None) -> str:
    no_variant(variant, "ecg")
    names = {"SNN": "spiking autoencoder", "ANN (same size)": "same-size ANN"}
    rows = []
    for label, rs in d["runs"].items():
        found = sum(bool(r["anomaly_detected"]) for r in rs)
        rows.append(
            [
                names.get(label, label),
                f"{found} / {len(rs)}",
                pm([r["detection_rate"] for r in rs]),
                pm([r["false_positive_rate"] for r in rs], digits=3),
                pm([r["energy_per_beat_uj"] for r in rs], digits=4),
                pm([r["rejected_flag_rate"] for r in rs]),
            ]
        )
    n_normal = d["runs"]["SNN"][0]["n_normal"]
    header = [
        "network",
        "labelled anomaly detected",
        "detection rate",
        f"false-positive rate ({n_normal} normal beats)",
        "energy per beat µJ",
        "rest of record 208 flagged",
    ]
    rhythm = mean_std([r["abnormal_rhythm_share"][0] for r in d["runs"]["SNN"]])[0]
    fpr0 = d["runs"]["SNN"][0]["false_positive_rate"]
    return md(header, rows) + (
        f"\n\n{d['note']}. The rhythm features carry {rhythm:.0%} of the labelled beat's score "
        f"(SNN, mean over seeds); the SNN's false-positive rate at seed 0 is {fpr0:.3f}."
    )


#: benchmark name -> its renderer (the name is the JSON's stem and the marker's NAME)
def proxies(d: dict[str, Any], variant: str | None) -> str:
    """Each zero-cost proxy's rank correlation with briefly trained accuracy, and its speed."""
    no_variant(variant, "proxies")

    def num(x: float | None, fmt: str) -> str:
        return "–" if x is None else format(x, fmt)

    rows = []
    for space, res in d["spaces"].items():
        label = f"`{space}`" + (" (partial)" if res.get("partial") else "")
        groups = [("all", {**res["proxies"], "parameter count": res["n_params"]})]
        kinds = res.get("by_kind", {})
        for kind, by in kinds.items() if len(kinds) > 1 else ():
            by = dict(by)
            size = by.pop("n_params")
            groups.append((f"{kind} only", {**by, "parameter count": size}))
        for networks, scores in groups:
            for name, c in scores.items():
                rows.append(
                    [
                        label,
                        networks,
                        name,
                        str(c["n"]),
                        num(c["kendall_tau"], ".3f"),
                        num(c["spearman_rho"], ".3f"),
                        num(c.get("candidates_per_minute"), ".0f"),
                        num(c.get("candidates_per_cpu_minute"), ".0f"),
                    ]
                )
    header = [
        "space",
        "networks",
        "score",
        "architectures",
        "Kendall τ",
        "Spearman ρ",
        "candidates / min (wall)",
        "candidates / CPU-min",
    ]
    setup = (
        f"{d['dataset']}, {d['epochs']} epochs on {d['train_samples']} training samples "
        f"(batch {d['fixed'].get('batch_size')}), accuracy on at most {d['eval_samples']} validation "
        f"samples, seed {d['seed']}"
    )
    return md(header, rows, "lllrrrrr") + f"\n\nTrained: {setup}."


def tabular_baselines(d: dict[str, Any], variant: str | None) -> str:
    no_variant(variant, "tabular_baselines")
    rows = []
    for r in d["sets"]:
        folds = f"{r['selection']} ({r['folds']})" if r.get("folds") else str(r["selection"])
        rows.append(
            [
                r["dataset"],
                f"{r['test_samples']}",
                folds,
                f"{100 * r['snn_test_accuracy']:.1f} ± {100 * r['snn_test_accuracy_std']:.1f}",
                f"{100 * r['logreg_test_accuracy']:.1f}",
                f"{100 * r['mlp_test_accuracy']:.1f}",
                signed(r["gap_to_logreg_points"], 1)
                + f" ({', '.join(signed(g, 1) for g in r['gaps_by_seed'])})",
                "yes" if r["within_2_points"] else "**no**",
                f"{r['snn_energy_ratio_to_ann']:.3f}",
            ]
        )
    header = [
        "data set",
        "test samples",
        "selection",
        "SNN test %",
        "log. reg. test %",
        "MLP (ANN) test %",
        "SNN − log. reg. (points; by seed)",
        "within 2 points",
        "SNN / ANN-twin energy",
    ]
    return md(header, rows, "lrlrrrrlr") + (
        f"\n\nSearch: `{d['space']}`, {d['trials']} trials × {d['epochs']} epochs per seed; "
        f"{d['seeds']} seeds, each its own 70/15/15 split; the SNN is the front point with the "
        "best selection accuracy, tested once; means over the seeds."
    )


RENDERERS: dict[str, Renderer] = {
    "neurons": neurons,
    "engine_overhead": engine_overhead,
    "attention_speed": attention_speed,
    "search_efficiency": search_efficiency,
    "long_run": long_run,
    "ray_scaling": ray_scaling,
    "bif_vs_lif": bif_vs_lif,
    "sdsa_single_layer": sdsa_single_layer,
    "timesteps": timesteps,
    "snn_vs_ann": snn_vs_ann,
    "continual": continual,
    "ucr": ucr,
    "fashion_target": fashion_target,
    "tabular_baselines": tabular_baselines,
    "ecg": ecg,
    "proxies": proxies,
    "quickstart": quickstart,
    "setup_time": setup_time,
}
