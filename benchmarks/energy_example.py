"""How our µJ figure and NeuroBench's counts relate, on one trained model: the numbers of
``docs/energy.md``.

One MLP trial on digits (the search's own trial code, 3 epochs) is measured on its validation
split under both energy models (``per-inference``, ``per-step``); NeuroBench 2.3's own
``Benchmark`` measures the same model on the same samples (for ``per-step``: the same network
with its stem inside the time loop, :func:`snn_models.neurobench_metrics.stem_every_step`) and
must give the same numbers. The results go to ``benchmarks/results/energy_example.json``, and
:func:`render` turns them into the table kept in ``docs/energy.md`` between the
``<!-- energy-example:begin -->`` and ``<!-- energy-example:end -->`` markers
(``tests/evolve/test_neurobench_objectives.py`` fails when the doc's table differs)::

    .venv/bin/python benchmarks/energy_example.py            # measure, write JSON, rewrite doc
    .venv/bin/python benchmarks/energy_example.py --render   # only rewrite the doc's table
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import meta

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "energy_example.json"
DOC = ROOT / "docs" / "energy.md"
BEGIN, END = "<!-- energy-example:begin -->", "<!-- energy-example:end -->"
COMMAND = ".venv/bin/python benchmarks/energy_example.py"
ARCH = {
    "kind": "mlp",
    "depth": 2,
    "timesteps": 4,
    "layer.0.width": 64,
    "layer.0.neuron": "lif",
    "layer.1.width": 32,
    "layer.1.neuron": "lif",
}
MODELS = ("per-inference", "per-step")


def measure() -> dict[str, Any]:
    """Train the example trial, measure it under both energy models, check NeuroBench agrees."""
    import dataclasses

    import neurobench
    import torch

    from evolve.data.datasets import load_dataset
    from evolve.engine.trial import TrialSettings, evaluate_trial
    from snn_models.energy import get_profile, measure_energy
    from snn_models.neurobench_metrics import stem_every_step
    from tests.snn_models.neurobench_reference import assert_same, neurobench_run

    data = load_dataset("digits", seed=0)
    settings = TrialSettings(epochs=3, seed=0)
    out = evaluate_trial(ARCH, data, settings)
    assert out.checkpoint is not None
    model = out.checkpoint["model"].eval()
    x = data.val.x
    profile = get_profile(settings.energy_profile)
    per_model: dict[str, Any] = {}
    for name in MODELS:
        rep = measure_energy(model, x.split(256), energy_model=name)
        assert rep.neurobench is not None
        target = stem_every_step(model) if name == "per-step" else model
        theirs = neurobench_run(target, x, batch=64)
        assert_same(rep.neurobench.as_neurobench(), theirs)  # NeuroBench's own code agrees
        nb = rep.neurobench
        per_model[name] = {
            "macs": rep.total_macs,
            "sops": rep.total_sops,
            "energy_uj": rep.energy_uj,
            "ann_energy_uj": rep.ann_energy_uj,
            "ratio_to_ann": rep.ratio_to_ann,
            "neurobench": dataclasses.asdict(nb),
            "neurobench_package": theirs,
            "neurobench_priced_uj": (
                profile.e_mac_pj * nb.effective_macs + profile.e_ac_pj * nb.effective_acs
            )
            / 1e6,
        }
    return {
        "command": COMMAND,
        "dataset": data.name,
        "split": "validation",
        "samples": len(x),
        "arch": ARCH,
        "epochs": settings.epochs,
        "val_accuracy": out.attrs["val_accuracy"],
        "timesteps": ARCH["timesteps"],
        "profile": {"name": profile.name, "e_mac_pj": profile.e_mac_pj, "e_ac_pj": profile.e_ac_pj},
        "neurobench_version": neurobench.__version__,
        "torch_version": torch.__version__,
        "energy_models": per_model,
    }


def _n(value: float, digits: int = 4) -> str:
    """A count as a whole number with thousands separators; a small value to ``digits``."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.{digits}g}"


def render(results: dict[str, Any]) -> str:
    """The Markdown table of ``results`` (the JSON :func:`measure` writes)."""
    m = results["energy_models"]
    p = results["profile"]
    rows: list[tuple[str, ...]] = [
        ("**our energy model**", "", ""),
        ("MACs: the encoding layer on real values, dense", *(_n(m[k]["macs"]) for k in MODELS)),
        ("SOPs: spikes × fan-out", *(_n(m[k]["sops"]) for k in MODELS)),
        (
            f"energy (µJ) = {p['e_mac_pj']} pJ·MACs + {p['e_ac_pj']} pJ·SOPs",
            *(_n(m[k]["energy_uj"]) for k in MODELS),
        ),
        ("ANN twin (µJ): every layer's MACs once", *(_n(m[k]["ann_energy_uj"]) for k in MODELS)),
        ("energy / ANN twin", *(f"{m[k]['ratio_to_ann']:.3f}" for k in MODELS)),
        ("**NeuroBench's metrics (same forwards)**", "", ""),
        ("Effective_MACs", *(_n(m[k]["neurobench"]["effective_macs"]) for k in MODELS)),
        ("Effective_ACs", *(_n(m[k]["neurobench"]["effective_acs"]) for k in MODELS)),
        ("Dense", *(_n(m[k]["neurobench"]["dense"]) for k in MODELS)),
        (
            f"{p['e_mac_pj']} pJ·Effective_MACs + {p['e_ac_pj']} pJ·Effective_ACs (µJ)",
            *(_n(m[k]["neurobench_priced_uj"]) for k in MODELS),
        ),
        (
            "ActivationSparsity",
            *(f"{m[k]['neurobench']['activation_sparsity']:.4f}" for k in MODELS),
        ),
        (
            "ConnectionSparsity",
            *(f"{m[k]['neurobench']['connection_sparsity']:.4f}" for k in MODELS),
        ),
        ("Footprint (bytes)", *(_n(m[k]["neurobench"]["footprint_bytes"]) for k in MODELS)),
        ("ParameterCount", *(_n(m[k]["neurobench"]["parameter_count"]) for k in MODELS)),
    ]
    lines = ["| per inference | `per-inference` | `per-step` |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    arch = results["arch"]
    widths = [arch[k] for k in sorted(arch) if k.endswith(".width")]
    lines.append("")
    lines.append(
        f"Measured by `{results['command']}`: an MLP {arch['layer.0.neuron'].upper()} "
        f"{'-'.join(str(w) for w in widths)}, T = {results['timesteps']}, trained "
        f"{results['epochs']} epochs on {results['dataset']} (validation accuracy "
        f"{results['val_accuracy']:.3f}), measured on its {results['samples']} validation "
        f"samples; NeuroBench {results['neurobench_version']}'s own `Benchmark` gives the same "
        "numbers (checked by the script)."
    )
    return "\n".join(lines)


def doc_table(text: str) -> str:
    """The text between the markers in ``text`` (stripped), or ``""`` without markers."""
    return meta.marked(text, BEGIN, END)


def rewrite(doc: Path = DOC, results: Path = RESULTS) -> bool:
    """Put the table rendered from ``results`` between the markers of ``doc``; True if changed."""
    return meta.rewrite_marked(doc, BEGIN, END, render(json.loads(results.read_text())))


def main(argv: list[str]) -> int:
    if "--render" not in argv:
        sys.path.insert(0, str(ROOT))
        meta.write_result(RESULTS, "energy_example", measure())
    changed = rewrite()
    print(f"{DOC.relative_to(ROOT)}: {'table rewritten' if changed else 'table up to date'}")
    print(render(json.loads(RESULTS.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
