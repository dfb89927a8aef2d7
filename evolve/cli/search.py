"""``evolve search``: parse the flags, call :func:`evolve.search`, print the front."""

from __future__ import annotations

import argparse
from pathlib import Path

from evolve.cli import _flags
from evolve.cli._flags import RAY_FLAGS, add_ray_flags, add_study_flags, run_study, study_kwargs
from evolve.config import DEFAULT_EPOCHS, DEFAULT_SPACE
from evolve.data.kinds import DATA_KINDS
from evolve.engine.setup import CONSTRAINTS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search",
        help="search spiking architectures for the accuracy-energy Pareto front",
        description=(
            "Run a multi-objective architecture search: an agent proposes candidates from a search "
            "space, each is trained with surrogate gradients, selected on validation accuracy, and "
            "measured for energy from its real spikes. The Optuna study, log, Pareto front "
            "(pareto.json) and a table of trials (trials.parquet) go to runs/<study>/."
        ),
        epilog=(
            "examples:\n"
            "  evolve search                                  # default space on digits, ~3.5 min\n"
            "  evolve search --space hybrid_neuron --trials 50 --study big\n"
            "  evolve search --dataset fashion-mnist --epochs 4  # needs dataset-fashion-mnist\n"
            "  evolve search --study big --resume             # continue after a crash or Ctrl-C\n"
            "  evolve search --space my_space.yaml --objectives accuracy,energy,latency\n"
            "  evolve search --space hybrid_neuron --objectives accuracy,effective_acs "
            "--energy-model per-step\n"
            "  evolve search --space hybrid_neuron --fidelity asha   # successive halving\n"
            "  evolve search --backend ray --workers 2        # trials in parallel on Ray\n"
            "  evolve search --backend ray --ray-address HEAD:6379 --storage postgresql://...\n"
            "  evolve search --study s --storage runs/s.log --join   # a 2nd process, same study\n"
            "  evolve show runs/big                           # the front as a table\n"
            "  evolve dashboard runs/big                      # browse it in optuna-dashboard"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--space",
        default=None,
        help=f"library space name or YAML path (default {DEFAULT_SPACE}; see `evolve spaces`)",
    )
    p.add_argument(
        "--study", help="study name = run folder name under --out (default: <space>-<date-time>)"
    )
    p.add_argument(
        "--dataset",
        help=(
            "digits (the default unless the space names one; embedded), fashion-mnist, a UCR "
            "series set shipped in aeon (gunpoint, italy_power_demand, arrow_head, "
            "basic_motions), an .npz file with arrays x and y, or a .csv/.parquet table (a "
            "label column, one column per feature or time point)"
        ),
    )
    p.add_argument("--data-dir", type=Path, help="folder holding the data set's files")
    p.add_argument(
        "--data-kind",
        choices=DATA_KINDS,
        help="what one sample is (default: recognised from the file and its shape; see "
        "docs/data.md); only the network kinds that take it are searched",
    )
    p.add_argument(
        "--objectives",
        help="comma-separated: accuracy, energy, energy_ratio (to the ANN twin), latency, "
        "and NeuroBench's effective_acs, effective_macs, synops, footprint, "
        "activation_sparsity (default accuracy,energy)",
    )
    p.add_argument(
        "--energy-model",
        metavar="MODEL",
        help="per-inference (default: the input layer counts once) or per-step (at every "
        "time step, as on a chip fed the input every step); fixed for a run",
    )
    _flags.add_limit_flags(p)
    p.add_argument(
        "--epochs",
        type=int,
        help=f"training epochs per trial (default: the space's budget, else {DEFAULT_EPOCHS})",
    )
    add_ray_flags(p)
    _flags.add_proxy_flags(p)
    _flags.add_fidelity_flags(p)
    p.add_argument(
        "--join",
        action="store_true",
        help="work on a study another process is running (same --study and --storage): "
        "trials are shared, nothing of the other process is marked failed",
    )
    p.add_argument(
        "--constraint",
        choices=tuple(CONSTRAINTS),
        help="nir: propose only candidates NIR can express (MLP, direct input, IF/LIF with "
        "hard reset, no converted start), so that `evolve export --format nir` works",
    )
    p.add_argument("--no-early-stop", action="store_true", help="never stop dominated trials early")
    p.add_argument(
        "--retrain-top",
        type=int,
        metavar="N",
        help="--agent oneshot: retrain at most N (>= 1) architectures of the inherited front "
        "(default 8; a --resume may change it)",
    )
    _flags.add_selection_flags(p)
    p.add_argument(
        "--trial-memory-mb",
        type=float,
        help="fail a trial that grows its process's resident memory by more than this many MB "
        "(checked after the model is built and after every training step; Linux; default: no "
        "cap; the first trial of a process also pays ~100 MB of torch start-up)",
    )
    p.add_argument(
        "--user-objective",
        action="append",
        metavar="FILE.py:FUNC[:max]",
        help="also optimise fn(model, data) -> float from a file (minimised unless :max); "
        "repeatable",
    )
    add_study_flags(p)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    import evolve
    from evolve.engine.objectives import load_user_objective

    objectives: list[object] = [a.objectives] if a.objectives else []
    objectives += [load_user_objective(text) for text in a.user_objective or ()]
    flags = (
        *("space", "dataset", "epochs", "data_dir", "data_kind", "energy_budget_uj"),
        *("no_early_stop", *_flags.PROXY_FLAGS, *_flags.FIDELITY_FLAGS),
        *("trial_memory_mb", "constraint", "energy_model", "join", "retrain_top"),
        *_flags.SELECTION_FLAGS,
        *RAY_FLAGS,
    )
    kwargs = {**study_kwargs(a), **{k: getattr(a, k) for k in flags}}
    kwargs["objectives"] = objectives or None
    kwargs["limits"] = _flags.limits_of(a.limit)
    return run_study(
        "search", evolve.search, kwargs, " --backend ray" if a.backend == "ray" else ""
    )


__all__ = ["add_parser", "run"]
