"""``evolve continual``: search for networks that keep learning, or continue a found one.

Two modes:

* **search** (``--space``, default ``continual``): every candidate learns a stream of tasks
  (``--scenario``) with the strategy its ``cl_*`` settings choose and is scored on ACC (max),
  forgetting (min) and energy per inference (min). ACC and forgetting come from the accuracy
  matrix measured on the tasks' *validation* splits (what the search selects on); the test-split
  matrix is recorded beside them in the trial's attributes. The run folder is the same as for
  ``evolve search`` (study, ``pareto.json``, ``trials.parquet``, checkpoints of the front).
* **continue a trial** (``--study S --trial N``): load trial N's trained weights from its run
  folder and train them on the stream with ``--strategy``; R, the metrics and a plot of R go to
  ``runs/S/continual/`` and into the study's attributes under ``continual.trial_N`` (Optuna does
  not allow changing a finished trial, so its own attributes stay as the search left them).
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from evolve.errors import UserError
from evolve.search_cmd import STUDY_DEFAULTS, add_study_flags

if TYPE_CHECKING:
    from torch import nn

    from agents import Proposal
    from evolve.continual import ContinualResult, Strategy, Stream
    from evolve.trial import ReportFn, TrialOutcome

DEFAULT_SPACE = "continual"
DEFAULT_SCENARIO = "split-digits"
DEFAULT_STRATEGY = "replay"
DEFAULT_OBJECTIVES = "acc,forgetting,energy"
DEFAULT_LR = 2e-3
BATCH_SIZE = 32
#: Strategy options, each a flag (``--buffer-size``), a space key (``cl_buffer_size``) and the
#: strategy's keyword (``buffer_size``); ``balanced`` (replay's class-balanced loss) has no flag.
STRATEGY_OPTIONS = (
    "buffer_size",
    "stdp_lr",
    "stdp_epochs",
    "readout_lr",
    "feature_rate",
    "balanced",
)


#: The names of evolve.continual.STREAMS and STRATEGIES, for --help without importing torch
#: (a test keeps them equal).
SCENARIOS = ("split-digits", "split-fashion-mnist", "permuted-digits")
STRATEGY_NAMES = ("naive", "replay", "stdp", "replay_stdp")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "continual",
        help="search for (or continue) networks that learn a stream of tasks without forgetting",
        description=(
            "Continual learning. Search mode: each candidate learns the tasks of --scenario in "
            "order with the strategy its cl_* settings choose (naive, replay, stdp, replay_stdp) "
            "and is scored on ACC (max), forgetting (min) and energy per inference (min), from "
            "the accuracy matrix R on the tasks' validation splits; the test-split R is recorded "
            "too. Trial mode (--study S --trial N): continue training trial N's saved weights "
            "on the stream and write R, ACC, BWT and forgetting to runs/S/continual/."
        ),
        epilog=(
            "examples:\n"
            "  evolve continual                                   # continual space, split-digits\n"
            "  evolve continual --scenario permuted-digits --trials 20\n"
            "  evolve continual --space hybrid_neuron --strategy replay --buffer-size 100\n"
            "  evolve continual --study my-search --trial 12 --scenario permuted-digits\n"
            f"scenarios: {', '.join(SCENARIOS)}, or a comma-separated list of data sets/.npz files\n"
            f"strategies: {', '.join(STRATEGY_NAMES)}"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--space",
        default=None,
        help=f"search space (default {DEFAULT_SPACE}); its cl_* keys choose the strategy",
    )
    p.add_argument(
        "--scenario",
        default=None,
        help=f"the task stream (default {DEFAULT_SCENARIO}; see the list below)",
    )
    p.add_argument("--n-tasks", type=int, help="number of tasks (default 5)")
    p.add_argument(
        "--limit", type=int, help="at most this many samples per split of each task (default all)"
    )
    p.add_argument(
        "--study",
        help="search mode: study name (default <space>-<date-time>); "
        "trial mode: the study holding --trial",
    )
    p.add_argument("--trial", type=int, help="continue this trial's saved model (trial mode)")
    p.add_argument(
        "--retrain",
        action="store_true",
        help="trial mode: rebuild the trial's architecture from scratch when it has no weights",
    )
    p.add_argument(
        "--strategy",
        help=f"strategy when the space has no cl_strategy key, and in trial mode (default "
        f"{DEFAULT_STRATEGY}): {', '.join(STRATEGY_NAMES)}",
    )
    p.add_argument("--buffer-size", type=int, help="replay buffer size (replay, replay_stdp)")
    p.add_argument("--stdp-lr", type=float, help="STDP learning rate (stdp, replay_stdp)")
    p.add_argument("--stdp-epochs", type=int, help="STDP passes per task (stdp, replay_stdp)")
    p.add_argument("--readout-lr", type=float, help="readout learning rate (stdp, replay_stdp)")
    p.add_argument(
        "--feature-rate", type=float, help="firing rate the feature layers are calibrated to"
    )
    p.add_argument(
        "--epochs", type=int, help="epochs per task (default: the space's budget, else 12)"
    )
    p.add_argument(
        "--lr",
        type=float,
        help=f"learning rate when the space/trial has none (default {DEFAULT_LR})",
    )
    p.add_argument("--objectives", help=f"comma-separated (default {DEFAULT_OBJECTIVES})")
    p.add_argument("--data-dir", type=Path, help="folder of local data files (Fashion-MNIST)")
    add_study_flags(p)
    p.set_defaults(func=run)


SETTINGS_DEFAULTS: dict[str, Any] = {
    "space": DEFAULT_SPACE,
    "scenario": DEFAULT_SCENARIO,
    "n_tasks": None,
    "limit": None,
    "strategy": None,
    "buffer_size": None,
    "stdp_lr": None,
    "stdp_epochs": None,
    "readout_lr": None,
    "feature_rate": None,
    **STUDY_DEFAULTS,
    "lr": None,
    "objectives": DEFAULT_OBJECTIVES,
}


# ----------------------------------------------------------------------------- strategy
def strategy_for(
    cl: Mapping[str, Any], flags: Mapping[str, Any], *, seed: int = 0
) -> tuple[str, dict[str, Any], Strategy]:
    """The strategy a candidate's ``cl_*`` settings choose, flags filling what they leave open.

    Args:
        cl: the candidate's ``cl_*`` values (``cl_strategy``, ``cl_buffer_size``, ...).
        flags: ``strategy`` and the option flags (``buffer_size``, ``stdp_lr``, ...); ``None``
            values are ignored. A candidate's own setting wins over a flag.
        seed: seed of the replay buffer.

    Returns:
        ``(name, settings, strategy)``.

    Raises:
        UserError: an unknown strategy, or an option it does not take.
    """
    from evolve.continual import STRATEGIES, make_strategy

    name = cl.get("cl_strategy") or flags.get("strategy") or DEFAULT_STRATEGY
    if name not in STRATEGIES:
        raise UserError(
            f"unknown continual strategy {name!r}; choose one of {', '.join(STRATEGY_NAMES)}"
        )
    takes = set(inspect.signature(STRATEGIES[name]).parameters)
    settings: dict[str, Any] = {}
    for option in STRATEGY_OPTIONS:
        value = cl.get(f"cl_{option}")
        if value is None:
            value = flags.get(option)
        if value is None:
            continue
        if option not in takes:
            if f"cl_{option}" in cl:
                continue  # a space may hold options for several strategies: take what applies
            raise UserError(
                f"--{option.replace('_', '-')} does not apply to strategy {name!r}; "
                f"it takes: {', '.join(sorted(takes - {'seed'})) or 'no options'}"
            )
        settings[option] = value
    if "seed" in takes:
        settings["seed"] = seed
    return name, settings, make_strategy(name, **settings)


def _check_strategies(space: Any, s: Mapping[str, Any]) -> None:
    """Refuse, before any trial, a strategy or option that no candidate could use."""
    from search_spaces.dimensions import CategoricalDimension

    dim = space.dimensions.get("cl_strategy")
    if dim is None:  # the flags decide for every candidate
        strategy_for({}, s)
        return
    if s.get("strategy") is not None:
        raise UserError(
            f"--strategy: space {space.name!r} chooses the strategy itself (cl_strategy); "
            "drop the flag, or use a space without cl_strategy"
        )
    choices = dim.choices if isinstance(dim, CategoricalDimension) else (dim.default,)
    for name in choices:
        strategy_for({"cl_strategy": name}, {k: None for k in STRATEGY_OPTIONS})


# ----------------------------------------------------------------------------- measuring
def _union_val(stream: Stream) -> Any:
    import torch

    from evolve.datasets import Split

    return Split(
        torch.cat([t.val.x for t in stream.tasks]), torch.cat([t.val.y for t in stream.tasks])
    )


def measure(model: nn.Module, stream: Stream, profile: str = "45nm_fp32") -> Any:
    """Energy per inference of the final model over every task's validation inputs."""
    from snn_models.energy import measure_energy

    union = _union_val(stream)
    return measure_energy(model, (x for x, _ in union.batches(256)), profile=profile)


def evaluate_continual(
    arch: Mapping[str, Any],
    stream: Stream,
    s: Mapping[str, Any],
    *,
    seed: int,
) -> TrialOutcome:
    """Build a candidate, let it learn ``stream`` with its strategy, and score it.

    Values: ``cl_acc`` and ``forgetting`` (GEM, validation splits), ``energy_uj`` (per
    inference on all tasks' validation inputs after the last task). Attributes hold R and the
    metrics on the test splits too, the strategy and its settings, per-stage times and the
    firing rates.
    """
    import torch

    import snn_models
    from evolve.arch import CL_KEYS, arch_to_specs
    from evolve.continual import run_stream
    from evolve.training import TrainConfig
    from evolve.trial import TrialOutcome

    t0 = time.perf_counter()
    net_dict, train_over = arch_to_specs(arch)
    cl = {k: train_over.pop(k) for k in CL_KEYS if k in train_over}
    unused = sorted(k for k in train_over if k.startswith("kd_") or k == "init")
    if unused:
        raise UserError(
            f"{', '.join(unused)}: distillation and warm starts are not part of `evolve "
            "continual`; remove them from the space"
        )
    name, _, strategy = strategy_for(cl, s, seed=seed)
    torch.manual_seed(seed)
    model = snn_models.build(
        snn_models.NetSpec.from_dict(net_dict), stream.input_shape, stream.n_classes
    )
    cfg = TrainConfig(
        epochs=int(train_over.get("epochs", s["epochs"])),
        batch_size=int(train_over.get("batch_size", BATCH_SIZE)),
        lr=float(train_over.get("lr", s.get("lr") or DEFAULT_LR)),
        weight_decay=float(train_over.get("weight_decay", 0.0)),
        seed=seed,
        progress=False,
    )
    result = run_stream(model, stream, strategy, cfg)
    energy = measure(model, stream)
    val = result.metrics_val
    assert val is not None, "run_stream always measures the validation splits"
    attrs = {
        "strategy": name,
        "strategy_settings": result.settings,
        "stream": stream.to_dict(),
        "R": [list(r) for r in result.r],
        "R_val": [list(r) for r in result.r_val],
        "test_acc": result.metrics.acc,
        "test_bwt": result.metrics.bwt,
        "test_forgetting": result.metrics.forgetting,
        "val_acc": val.acc,
        "val_bwt": val.bwt,
        "test_accuracy": result.metrics.acc,  # the front table's test column
        "energy_uj": energy.energy_uj,
        "ann_energy_uj": energy.ann_energy_uj,
        "energy_ratio_to_ann": energy.ratio_to_ann,
        "firing_rates": energy.firing_rates,
        "stage_seconds": [st.train_seconds for st in result.stages],
        "n_params": sum(p.numel() for p in model.parameters()),
        "wall_seconds": time.perf_counter() - t0,
    }
    values = {"cl_acc": val.acc, "forgetting": val.forgetting, "energy_uj": energy.energy_uj}
    checkpoint = {
        "model": model,
        "spec": net_dict,
        "input_shape": stream.input_shape,
        "n_classes": stream.n_classes,
        "dataset": stream.name,
    }
    return TrialOutcome(values=values, attrs=attrs, checkpoint=checkpoint)


# ----------------------------------------------------------------------------- the command
def _stream(s: Mapping[str, Any]) -> Stream:
    from evolve.continual import make_stream

    return make_stream(
        s["scenario"],
        seed=s["seed"],
        n_tasks=s["n_tasks"],
        limit=s["limit"],
        data_dir=Path(s["data_dir"]) if s["data_dir"] else None,
    )


def run(a: argparse.Namespace) -> int:
    if a.trial is not None:
        return _continue_trial(a)
    if a.retrain:
        raise UserError("--retrain only applies with --trial N (continuing a found model)")
    return _search(a)


def _search(a: argparse.Namespace) -> int:
    from evolve.search_cmd import open_run, reference_point, run_loop, start_agent

    setup = open_run(a, SETTINGS_DEFAULTS, default_space=DEFAULT_SPACE)
    s, space, objectives = setup.s, setup.space, setup.objectives
    known = {"cl_acc", "forgetting", "energy_uj"}
    extra = [o.name for o in objectives if o.name not in known]
    if extra:
        raise UserError(
            f"--objectives: {', '.join(extra)} not measured by `evolve continual`; "
            "choose from acc, forgetting, energy"
        )
    _check_strategies(space, s)
    stream = _stream(s)
    default = {k: v for k, v in space.default().items() if not k.startswith("cl_")}
    agent = start_agent(
        setup,
        a,
        reference=lambda: reference_point(
            default,
            stream.input_shape,
            stream.n_classes,
            stream.tasks[0].val.x[:32],
            objectives,
            "45nm_fp32",
        ),
    )
    logger.info(
        "continual study {} in {}; space {}; stream {} ({}); objectives {}",
        setup.study_name,
        s["storage"],
        space.name,
        stream.name,
        stream.description,
        [o.name for o in objectives],
    )

    def run_trial(proposal: Proposal, report: ReportFn) -> TrialOutcome:
        return evaluate_continual(proposal.arch, stream, s, seed=s["seed"] + proposal.number)

    return run_loop(
        agent,
        space,
        s,
        objectives,
        s["reference_point"],
        setup.run_dir,
        run_trial,
        progress=not a.no_progress,
        command="continual",
    )


def _continue_trial(a: argparse.Namespace) -> int:
    import optuna
    import torch

    import snn_models
    from evolve import checkpoints
    from evolve.arch import CL_KEYS, arch_to_specs
    from evolve.continual import run_stream
    from evolve.runfolder import configure_logging, write_json
    from evolve.show_cmd import load_run
    from evolve.training import TrainConfig

    if not a.study:
        raise UserError("--trial needs --study NAME (the run folder under --out holding it)")
    for flag in ("space", "resume", "trials", "timeout", "objectives", "sampler", "agent"):
        if getattr(a, flag) not in (None, False):
            raise UserError(
                f"--{flag} is for a continual search; drop it when continuing --trial {a.trial}"
            )
    run_dir = (a.out / a.study).resolve()
    study, cfg = load_run(run_dir)
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    if a.trial not in trials:
        raise UserError(
            f"study {a.study!r} has no trial {a.trial} (trials 0..{len(trials) - 1}); "
            f"see `evolve show {run_dir}`"
        )
    trial = trials[a.trial]
    arch = trial.user_attrs.get("arch") or trial.params
    s = {**SETTINGS_DEFAULTS, **{k: getattr(a, k) for k in SETTINGS_DEFAULTS if hasattr(a, k)}}
    s["scenario"] = a.scenario or DEFAULT_SCENARIO
    s["seed"] = a.seed if a.seed is not None else int(cfg.get("seed", 0))
    s["data_dir"] = str(a.data_dir) if a.data_dir else cfg.get("data_dir")
    stream = _stream(s)
    configure_logging(run_dir, verbose=a.verbose)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    net_dict, train_over = arch_to_specs(arch)
    cl = {k: v for k, v in train_over.items() if k in CL_KEYS and a.strategy is None}
    name, settings, strategy = strategy_for(cl, s, seed=s["seed"])
    model: nn.Module
    if a.retrain:
        torch.manual_seed(s["seed"])
        model = snn_models.build(
            snn_models.NetSpec.from_dict(net_dict), stream.input_shape, stream.n_classes
        )
        source = "rebuilt from its architecture (--retrain)"
    else:
        ckpt = checkpoints.load(run_dir, a.trial)
        if (ckpt.input_shape, ckpt.n_classes) != (tuple(stream.input_shape), stream.n_classes):
            raise UserError(
                f"trial {a.trial} was trained on {ckpt.dataset} ({ckpt.input_shape}, "
                f"{ckpt.n_classes} classes) but stream {stream.name!r} is "
                f"{tuple(stream.input_shape)} with {stream.n_classes} classes; choose a scenario "
                "on the same kind of data"
            )
        model = ckpt.model
        source = f"weights from {ckpt.path.relative_to(run_dir.parent)}"
    epochs = a.epochs or int(cfg.get("epochs") or 8)
    lr = a.lr or float(train_over.get("lr", DEFAULT_LR))
    train_cfg = TrainConfig(
        epochs=epochs,
        batch_size=int(train_over.get("batch_size", BATCH_SIZE)),
        lr=lr,
        seed=s["seed"],
        progress=not a.no_progress,
    )
    logger.info(
        "continual trial {}: {} on {} with {} {}", a.trial, source, stream.name, name, settings
    )
    result = run_stream(model, stream, strategy, train_cfg)
    energy = measure(model, stream)
    out_dir = run_dir / "continual"
    out_dir.mkdir(exist_ok=True)
    stem = f"trial_{a.trial}-{stream.name.replace(',', '+')}-{name}"
    record = {
        "trial": a.trial,
        "source": source,
        "command": "evolve " + " ".join(sys.argv[1:]) if sys.argv else "",
        "stream": stream.to_dict(),
        "epochs_per_task": epochs,
        "lr": lr,
        **result.to_dict(),
        "energy_uj": energy.energy_uj,
        "firing_rates": energy.firing_rates,
    }
    write_json(out_dir / f"{stem}.json", record)
    plot = _plot_r(result, out_dir / f"{stem}.png")
    key = f"continual.trial_{a.trial}"
    previous = study.user_attrs.get(key, [])
    summary = {
        "scenario": stream.name,
        "strategy": name,
        "settings": result.settings,
        "acc": result.metrics.acc,
        "bwt": result.metrics.bwt,
        "forgetting": result.metrics.forgetting,
        "R": [list(r) for r in result.r],
        "energy_uj": energy.energy_uj,
        "file": str((out_dir / f"{stem}.json").relative_to(run_dir)),
    }
    study.set_user_attr(key, [*previous, summary])
    print(_format(result, energy.energy_uj))
    print(f"wrote {out_dir / f'{stem}.json'}" + (f" and {plot.name}" if plot else ""))
    return 0


def _format(result: ContinualResult, energy_uj: float) -> str:
    n = len(result.tasks)
    width = max(6, *(len(t) for t in result.tasks))
    lines = [f"R (test accuracy on each task, rows: after training task i) — {result.strategy}"]
    lines.append(" " * (width + 2) + " ".join(t[:width].rjust(width) for t in result.tasks))
    for i in range(n):
        row = " ".join(f"{v:.3f}".rjust(width) for v in result.r[i])
        lines.append(f"{result.tasks[i][:width].ljust(width)}  {row}")
    m = result.metrics
    lines.append(
        f"ACC {m.acc:.4f}  BWT {m.bwt:+.4f}  forgetting {m.forgetting:.4f}  "
        f"energy {energy_uj:.4g} µJ/inference"
    )
    return "\n".join(lines)


def _plot_r(result: ContinualResult, path: Path) -> Path | None:
    """A heat map of R (rows: after task i; columns: task j), if matplotlib is installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    n = len(result.tasks)
    fig, ax = plt.subplots(figsize=(1.2 * n + 2, 1.0 * n + 1.5))
    im = ax.imshow(result.r, vmin=0.0, vmax=1.0, cmap="viridis")
    for i in range(n):
        for j in range(n):
            v = result.r[i][j]
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="w" if v < 0.6 else "k")
    ax.set_xticks(range(n), result.tasks, rotation=30, ha="right")
    ax.set_yticks(range(n), [f"after {t}" for t in result.tasks])
    m = result.metrics
    ax.set_title(
        f"{result.stream} / {result.strategy}: ACC {m.acc:.3f}, BWT {m.bwt:+.3f}", fontsize=10
    )
    fig.colorbar(im, ax=ax, label="test accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


__all__ = ["add_parser", "evaluate_continual", "measure", "run", "strategy_for"]
