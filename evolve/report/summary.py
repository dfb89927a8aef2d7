"""A run's Pareto front as text: trial counts, hypervolume, the front table and the best value
per objective."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["baseline_lines", "baseline_verdict", "format_summary", "run_summary"]


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
    if summary.get("fidelity"):  # asha/hyperband: where trials stopped
        lines.append(str(summary["fidelity"]))
    if not summary["front"]:
        lines.append("no finished trial yet: the front is empty")
        return "\n".join(lines)
    folds = max((int(f.get("cv_folds") or 0) for f in summary["front"]), default=0)
    if folds:
        lines.append(
            f"accuracy: mean over {folds}-fold cross-validation of train+validation "
            "(cv_std: its standard deviation over the folds)"
        )
    archs = [f.get("arch") or {} for f in summary["front"]]
    per_layer = ["neuron"] + (["attention"] if any("layer.0.attention" in a for a in archs) else [])
    strategy = any("cl_strategy" in a for a in archs)  # a continual search
    header = [
        "trial",
        *names[:1],
        *(["cv_std"] if folds else []),
        *names[1:],
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
                *(f"{f['values'][n]:.4g}" for n in names[:1]),
                *([_num(f.get("cv_accuracy_std"), "±{:.3f}")] if folds else []),
                *(f"{f['values'][n]:.4g}" for n in names[1:]),
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
        unit = f" {o['unit']}" if o.get("unit") else ""
        lines.append(f"best {name}: {best['values'][name]:.4g}{unit} (trial {best['trial']})")
    if summary.get("baselines"):
        lines.extend(baseline_lines(summary["baselines"], summary["front"], names))
    return "\n".join(lines)


def _num(value: Any, fmt: str = "{:.4f}") -> str:
    return "" if not isinstance(value, int | float) else fmt.format(value)


def baseline_lines(
    baselines: Mapping[str, Any], front: Sequence[Mapping[str, Any]], names: Sequence[str]
) -> list[str]:
    """The recorded baselines (:mod:`evolve.training.baselines`) as a small table, and how
    the front's most accurate point compares with the best of them on the test split."""
    models = [m for m in baselines.get("models", []) if isinstance(m, Mapping)]
    if not models:
        return []
    cv = any("cv_accuracy_mean" in m for m in models)
    capped = ", capped" if baselines.get("capped") else ""
    lines = [
        f"baselines on the same splits ({baselines.get('kind', '?')} data; fitted on "
        f"{baselines.get('train_samples', '?')} training samples{capped}):"
    ]
    rows = [["model", "cv_accuracy" if cv else "val_accuracy", "test_accuracy"]]
    for m in models:
        score = (
            f"{_num(m.get('cv_accuracy_mean'))} {_num(m.get('cv_accuracy_std'), '±{:.3f}')}"
            if cv
            else _num(m.get("val_accuracy"))
        )
        rows.append([str(m.get("label", m.get("name", "?"))), score, _num(m.get("test_accuracy"))])
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines.extend(
        ("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))).rstrip()
        for r in rows
    )
    verdict = baseline_verdict(models, front, names)
    return lines + ([verdict] if verdict else [])


def baseline_verdict(
    models: Sequence[Mapping[str, Any]], front: Sequence[Mapping[str, Any]], names: Sequence[str]
) -> str | None:
    """How the front's most accurate point tests against the best baseline on the test split
    (``... tests 0.9259: 7.4 points below logistic regression``); None without both."""
    tested = [m for m in models if isinstance(m.get("test_accuracy"), int | float)]
    if not (front and names and names[0] == "accuracy" and tested):
        return None
    top = front[0]  # most accurate first
    if not isinstance(top.get("test_accuracy"), int | float):
        return None
    best = max(tested, key=lambda m: float(m["test_accuracy"]))
    gap = 100 * (float(top["test_accuracy"]) - float(best["test_accuracy"]))
    where = "below" if gap < 0 else "above" if gap > 0 else "level with"
    points = f"{abs(gap):.1f} points {where}" if gap else where
    return (
        f"the front's most accurate point (trial {top['trial']}) tests "
        f"{float(top['test_accuracy']):.4f}: {points} {best.get('label', best.get('name'))}"
    )


def run_summary(run_dir: str | Path, *, storage: str | None = None) -> dict[str, Any]:
    """The Pareto summary of a run folder: its front, hypervolume and trial counts.

    Args:
        run_dir: The run folder (``runs/<study>``).
        storage: Read the study from this storage instead of the recorded one.

    Returns:
        The dict of :func:`evolve.store.results.pareto_summary` (``study``, ``objectives``,
        ``reference_point``, ``front``, ``hypervolume``, ``hypervolume_history``,
        ``trial_counts``), with ``baselines`` when the run recorded them
        (:mod:`evolve.training.baselines`), and ``fidelity`` (one line: where trials stopped,
        :func:`agents.fidelity.describe_stops`) for an ``asha``/``hyperband`` run;
        :func:`format_summary` prints it.

    Raises:
        RunError: not a run folder, a damaged one, or a storage that does not hold the study.
    """
    from evolve.report.source import keyed
    from evolve.store.results import pareto_summary
    from evolve.store.run import front_settings, open_store
    from evolve.store.runfolder import read_run_config

    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    from evolve.training.baselines import read_baselines

    store = open_store(run_dir.name, storage or cfg["storage"])
    objectives, reference = front_settings(cfg, run_dir)
    summary = pareto_summary(keyed(store, objectives), objectives, reference)
    recorded = read_baselines(run_dir)
    if recorded is not None:
        summary["baselines"] = recorded
    if cfg.get("fidelity") in ("asha", "hyperband"):
        from agents.fidelity import describe_stops

        summary["fidelity"] = describe_stops(
            cfg["fidelity"],
            int(cfg.get("reduction_factor", 3)),
            int(cfg.get("min_epochs", 1)),
            store.trials(("pruned",)),
            str(cfg.get("fidelity_resource", "epochs")),
        )
    return summary
