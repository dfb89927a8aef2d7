"""``evolve show``: the Pareto front of a run as a table, its hypervolume, best per objective."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolve.errors import UserError

if TYPE_CHECKING:
    import optuna

    from agents import Objective


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "show",
        help="show a search's Pareto front, hypervolume and trial counts",
        description="Read a run folder's study and print the accuracy-energy front as a table.",
    )
    p.add_argument(
        "run", nargs="?", type=Path, help="run folder, e.g. runs/hybrid_neuron-20261128-101500"
    )
    p.add_argument("--study", help="study name (the folder under --out) instead of a path")
    p.add_argument(
        "--out", type=Path, default=Path("runs"), help="where run folders are (default runs/)"
    )
    p.set_defaults(func=run)


def load_run(run_dir: Path) -> tuple[optuna.Study, dict[str, Any]]:
    """The study of a search run folder and its ``config.yaml``.

    Raises:
        UserError: not a run folder, a damaged config.yaml, a storage that is missing, not an
            Optuna database, or does not hold the study.
    """
    from evolve.runfolder import read_run_config

    cfg = read_run_config(run_dir)
    return open_study(run_dir.name, cfg["storage"]), cfg


def open_study(name: str, storage: str) -> optuna.Study:
    """Study ``name`` in ``storage``, which must already exist (a missing SQLite file is not
    created, a non-Optuna one not modified).

    Raises:
        UserError: the storage is missing, not an Optuna database, cannot be opened, or does
            not hold the study (the message lists the studies it holds).
    """
    import optuna

    from agents import AgentError, describe_storage, open_storage
    from evolve.runfolder import check_sqlite_storage

    check_sqlite_storage(storage, must_exist=True)  # SQLAlchemy would create a missing file
    try:
        backend = open_storage(storage)
    except AgentError as e:
        raise UserError(str(e)) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=name, storage=backend)
    except KeyError:
        names = optuna.get_all_study_names(backend)
        raise UserError(
            f"storage {describe_storage(storage)} holds no study {name!r}; it holds: "
            f"{', '.join(names) or 'none'}"
        ) from None


def front_settings(
    cfg: dict[str, Any], run_dir: Path
) -> tuple[tuple[Objective, ...], dict[str, float]]:
    """The objectives and the hypervolume reference point a run's config.yaml records.

    Raises:
        UserError: either is missing or unreadable (a damaged run folder).
    """
    from agents import parse_objectives

    try:
        objectives = parse_objectives(cfg["objectives"])
        reference = {str(k): float(v) for k, v in dict(cfg["reference_point"]).items()}
    except (KeyError, TypeError, ValueError) as e:  # AgentError is a ValueError
        raise UserError(
            f"{run_dir / 'config.yaml'}: no readable objectives and reference_point ({e}); "
            "the run folder is damaged"
        ) from None
    return objectives, reference


def dataset_of(cfg: dict[str, Any], run_dir: Path) -> str:
    """The data set a search run's config.yaml names.

    Raises:
        UserError: none is named (a damaged folder, or a continual run: it records a scenario).
    """
    dataset = cfg.get("dataset")
    if not isinstance(dataset, str) or not dataset:
        raise UserError(
            f"{run_dir / 'config.yaml'} names no data set (a continual run records a scenario "
            "instead); this command reads search runs"
        )
    return dataset


def format_summary(summary: dict[str, Any]) -> str:
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


def run(a: argparse.Namespace) -> int:
    if a.run is None and a.study is None:
        raise UserError("give a run folder (evolve show runs/NAME) or --study NAME")
    run_dir = a.run if a.run is not None else a.out / a.study
    from evolve.results import pareto_summary

    study, cfg = load_run(run_dir)
    objectives, reference = front_settings(cfg, run_dir)
    summary = pareto_summary(study, objectives, reference)
    print(format_summary(summary))
    return 0
