"""A run's Pareto front as text: trial counts, hypervolume, the front table and the best value
per objective."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["format_summary", "run_summary"]


def format_summary(summary: Mapping[str, Any]) -> str:
    """A run's Pareto summary as the text ``evolve show`` prints.

    Args:
        summary: The dict :func:`evolve.store.results.pareto_summary` returns (study,
            objectives, reference_point, hypervolume, trial_counts, front).

    Returns:
        The lines of the table, joined by newlines (no trailing newline).
    """
    names = [o["name"] for o in summary["objectives"]]
    lines = [
        f"study {summary['study']}: "
        + ", ".join(f"{v} {k}" for k, v in sorted(summary["trial_counts"].items()))
    ]
    ref = ", ".join(f"{k} {v:.4g}" for k, v in summary["reference_point"].items())
    lines.append(f"hypervolume {summary['hypervolume']:.6g} (reference point: {ref})")
    if not summary["front"]:
        lines.append("no finished trial yet: the front is empty")
        return "\n".join(lines)
    archs = [f.get("arch") or {} for f in summary["front"]]
    per_layer = ["neuron"] + (["attention"] if any("layer.0.attention" in a for a in archs) else [])
    strategy = any("cl_strategy" in a for a in archs)  # a continual search
    header = [
        "trial",
        *names,
        "test_accuracy",
        *(f"{k}s" for k in per_layer),
        "T",
        *(["strategy"] if strategy else []),
    ]
    rows = []
    for f, arch in zip(summary["front"], archs, strict=True):
        rows.append(
            [
                str(f["trial"]),
                *(f"{f['values'][n]:.4g}" for n in names),
                "" if f.get("test_accuracy") is None else f"{f['test_accuracy']:.4f}",
                *(
                    ",".join(str(v) for k, v in arch.items() if k.endswith(f".{p}"))
                    for p in per_layer
                ),
                str(arch.get("timesteps", "")),
                *([str(arch.get("cl_strategy", ""))] if strategy else []),
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines.append(f"Pareto front ({len(rows)} trials):")
    lines.append("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    lines.extend("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
    for o in summary["objectives"]:
        name, sign = o["name"], 1.0 if o["direction"] == "maximize" else -1.0
        best = max(summary["front"], key=lambda f: sign * float(f["values"][name]))
        lines.append(f"best {name}: {best['values'][name]:.4g} (trial {best['trial']})")
    return "\n".join(lines)


def run_summary(run_dir: str | Path, *, storage: str | None = None) -> dict[str, Any]:
    """The Pareto summary of a run folder: its front, hypervolume and trial counts.

    Args:
        run_dir: The run folder (``runs/<study>``).
        storage: Read the study from this storage instead of the recorded one.

    Returns:
        The dict of :func:`evolve.store.results.pareto_summary` (``study``, ``objectives``,
        ``reference_point``, ``front``, ``hypervolume``, ``hypervolume_history``,
        ``trial_counts``); :func:`format_summary` prints it.

    Raises:
        RunError: not a run folder, a damaged one, or a storage that does not hold the study.
    """
    from evolve.report.source import keyed
    from evolve.store.results import pareto_summary
    from evolve.store.run import front_settings, open_store
    from evolve.store.runfolder import read_run_config

    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    store = open_store(run_dir.name, storage or cfg["storage"])
    objectives, reference = front_settings(cfg, run_dir)
    return pareto_summary(keyed(store, objectives), objectives, reference)
