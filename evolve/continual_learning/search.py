"""The library API of continual learning: :func:`continual` searches for networks that learn a
stream of tasks without forgetting; :func:`continue_trial` continues a found network on one.

A continual search is a study like :func:`evolve.search`'s (the same run folder: study,
``config.yaml``, ``pareto.json``, ``trials.parquet``, the front's checkpoints), whose candidates
each learn the tasks of ``scenario`` in order with the strategy their ``cl_*`` settings choose
and are scored on ACC (max), forgetting (min) and energy per inference (min). ACC and forgetting
come from the accuracy matrix on the tasks' *validation* splits (what the search selects on);
the test-split matrix is recorded beside them in the trial's attributes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolve.config import ContinualConfig
from evolve.errors import Interrupted, RunError, UserError, translated

if TYPE_CHECKING:
    from agents import Proposal
    from evolve.api.run import Run
    from evolve.continual_learning.runner import ContinualResult
    from evolve.engine.loop import Callback
    from evolve.engine.trial import ReportFn, TrialOutcome

__all__ = ["MEASURED", "ContinueResult", "continual", "continue_trial"]

#: The objectives a continual search measures (``--objectives`` names: acc, forgetting, energy).
MEASURED = ("cl_acc", "forgetting", "energy_uj")


def continual(
    space: str | None = None,
    scenario: str | None = None,
    *,
    n_tasks: int | None = None,
    limit: int | None = None,
    strategy: str | None = None,
    buffer_size: int | None = None,
    stdp_lr: float | None = None,
    stdp_epochs: int | None = None,
    readout_lr: float | None = None,
    feature_rate: float | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    objectives: str | Sequence[str] | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    max_failures: int | None = None,
    sampler: str | None = None,
    agent: str | None = None,
    seed: int | None = None,
    storage: str | None = None,
    data_dir: str | Path | None = None,
    study: str | None = None,
    out: str | Path = "runs",
    resume: bool = False,
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
    verbose: bool = False,
) -> Run:
    """Search a space for networks that learn a stream of tasks, and return the run.

    Every candidate learns the tasks of ``scenario`` in order with the strategy its ``cl_*``
    settings choose (the keywords fill what they leave open) and is scored on ACC, forgetting
    and energy per inference. Distillation and warm-start keys of a space (``kd_*``, ``init``)
    do not apply to a continual search: they are ignored (``log.txt`` says so). Every keyword
    has the name of an ``evolve continual`` flag; ``None`` means "not given" (the space's budget
    or the default of :class:`~evolve.config.ContinualConfig` applies, or on ``resume`` the
    recorded value).

    Args:
        space: A library space name (default ``continual``) or a YAML path.
        scenario: The task stream: ``split-digits`` (default), ``split-fashion-mnist``,
            ``permuted-digits`` (:data:`evolve.continual_learning.streams.STREAMS`), or a
            comma-separated list of data sets / ``.npz`` files (each one task).
        n_tasks: Number of tasks (default 5).
        limit: At most this many samples per split of each task.
        strategy: The strategy when the space has no ``cl_strategy`` key (default ``replay``;
            :data:`evolve.continual_learning.strategies.STRATEGIES`).
        buffer_size, stdp_lr, stdp_epochs, readout_lr, feature_rate: Strategy options, when the
            candidate's ``cl_*`` keys leave them open.
        epochs: Training epochs per task.
        lr: Learning rate when the space has none.
        objectives: Of ``acc``, ``forgetting``, ``energy`` (default all three).
        trials: Finished trials to reach, pruned ones included.
        timeout: Stop starting new trials after this many seconds.
        max_failures: Stop after this many failed trials in a row (0: never).
        sampler: ``auto``, ``nsga2``, ``tpe``, ``random`` or ``qmc``.
        agent: A key of ``agents.AGENTS``.
        seed: Seed of the sampler, the streams and training.
        storage: Optuna storage (``sqlite:///...``, a ``.log`` journal file, ``postgresql://``).
        data_dir: Folder of local data files (Fashion-MNIST).
        study: The study's name (its folder under ``out``).
        out: Where run folders go.
        resume: Continue the study ``study``.
        callbacks: Called after every trial with an :class:`evolve.TrialEvent`; one returning
            True stops the search.
        progress: Show a progress bar and warnings on standard error.
        verbose: Also show INFO messages (with ``progress``).

    Returns:
        The :class:`evolve.Run`.

    Raises:
        UserError: bad input (its subclasses say which kind); nothing recorded is changed.
        evolve.errors.Interrupted: on Ctrl-C (a KeyboardInterrupt), after the running trial is
            recorded as failed and the results are written (continue with ``resume=True``).

    Example:
        >>> import evolve
        >>> run = evolve.continual(trials=2, epochs=1, limit=30,
        ...                        out=getfixture("tmp_path"), study="doc")  # doctest: +SKIP
    """
    with translated():
        if objectives is not None and not isinstance(objectives, str):
            objectives = ",".join(objectives)
        given = {
            "space": space,
            "scenario": scenario,
            "n_tasks": n_tasks,
            "limit": limit,
            "strategy": strategy,
            "buffer_size": buffer_size,
            "stdp_lr": stdp_lr,
            "stdp_epochs": stdp_epochs,
            "readout_lr": readout_lr,
            "feature_rate": feature_rate,
            "epochs": epochs,
            "lr": lr,
            "objectives": objectives,
            "trials": trials,
            "timeout": timeout,
            "max_failures": max_failures,
            "sampler": sampler,
            "agent": agent,
            "seed": seed,
            "storage": storage,
            "data_dir": str(data_dir) if data_dir is not None else None,
        }
        return _continual(given, study, Path(out), resume, callbacks, progress, verbose)


def _continual(
    given: dict[str, Any],
    study: str | None,
    out: Path,
    resume: bool,
    callbacks: Sequence[Callback],
    progress: bool,
    verbose: bool,
) -> Run:
    from evolve.api.run import Run
    from evolve.continual_learning.streams import make_stream
    from evolve.continual_learning.trial import check_strategies, evaluate_continual, ignored_keys
    from evolve.engine import setup as st
    from evolve.engine.loop import run_loop
    from evolve.store.runlog import logger

    prepared = st.prepare_study(
        ContinualConfig, given, study=study, out=out, resume=resume, join=False
    )
    cfg, space, objectives = prepared.cfg, prepared.space, prepared.objectives
    extra = [o.name for o in objectives if o.name not in MEASURED]
    if extra:
        raise UserError(
            f"objectives: {', '.join(extra)} not measured by a continual search; choose from "
            "acc, forgetting, energy"
        )
    check_strategies(space, cfg.to_dict())
    stream = make_stream(
        cfg.scenario,
        seed=cfg.seed,
        n_tasks=cfg.n_tasks,
        limit=cfg.limit,
        data_dir=Path(cfg.data_dir) if cfg.data_dir else None,
    )
    ignored = ignored_keys(space.dimensions)
    default = {
        k: v for k, v in space.default().items() if not k.startswith("cl_") and k not in ignored
    }
    with st.opened_study(
        prepared,
        reference=lambda: st.reference_point(
            default,
            stream.input_shape,
            stream.n_classes,
            stream.tasks[0].val.x[:32],
            objectives,
            "45nm_fp32",
        ),
        progress=progress,
        verbose=verbose,
    ) as (agent, prepared):
        cfg = prepared.cfg
        logger.info(
            "continual study {} in {}; space {}; stream {} ({}); objectives {}",
            prepared.study_name,
            cfg.storage,
            space.name,
            stream.name,
            stream.description,
            [o.name for o in objectives],
        )
        if ignored:
            logger.info(
                "space {}: {} ignored (distillation and warm starts are not part of a "
                "continual search; every candidate trains without them)",
                space.name,
                ", ".join(ignored),
            )
        settings = cfg.to_dict()

        def run_trial(proposal: Proposal, report: ReportFn) -> TrialOutcome:
            return evaluate_continual(
                proposal.arch, stream, settings, seed=cfg.seed + proposal.number
            )

        assert cfg.trials is not None and cfg.reference_point is not None
        result = run_loop(
            agent,
            trials=cfg.trials,
            timeout=cfg.timeout,
            max_failures=cfg.max_failures,
            objectives=objectives,
            reference=dict(cfg.reference_point),
            run_dir=prepared.run_dir,
            run_trial=run_trial,
            desc=f"search {space.name}",
            progress=progress,
            callbacks=callbacks,
        )
    if result.interrupted:
        raise Interrupted(prepared.run_dir, prepared.study_name)
    return Run(prepared.run_dir, storage=cfg.storage)


# ----------------------------------------------------------------------------- continue a trial
@dataclass(frozen=True)
class ContinueResult:
    """What :func:`continue_trial` measured and wrote.

    Attributes:
        trial: The trial continued.
        source: Where its starting weights came from (its checkpoint, or rebuilt).
        result: R, its metrics (``result.metrics.acc``, ``.bwt``, ``.forgetting``) and the
            per-stage timings.
        energy_uj: Energy per inference of the final model on every task's validation inputs.
        path: The JSON record written.
        plot: The heat map of R written beside it (None without matplotlib).
        record: What the JSON record holds.
    """

    trial: int
    source: str
    result: ContinualResult
    energy_uj: float
    path: Path
    plot: Path | None
    record: dict[str, Any] = dataclasses.field(repr=False)

    def text(self) -> str:
        """R as a table with ACC, BWT, forgetting and energy (what ``evolve continual``
        prints)."""
        from evolve.continual_learning.report import format_result

        return format_result(self.result, self.energy_uj)


def continue_trial(
    run_dir: str | Path,
    trial: int,
    *,
    scenario: str | None = None,
    strategy: str | None = None,
    n_tasks: int | None = None,
    limit: int | None = None,
    buffer_size: int | None = None,
    stdp_lr: float | None = None,
    stdp_epochs: int | None = None,
    readout_lr: float | None = None,
    feature_rate: float | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    seed: int | None = None,
    data_dir: str | Path | None = None,
    retrain: bool = False,
    storage: str | None = None,
    out: str | Path | None = None,
    command: str | None = None,
    progress: bool = False,
    verbose: bool = False,
) -> ContinueResult:
    """Continue a found network on a stream of tasks and measure how much it forgets.

    Trial ``trial``'s saved weights (a Pareto-front trial of ``run_dir``, from
    :func:`evolve.search` or :func:`continual`) learn the tasks of ``scenario`` in order with
    ``strategy``. R, ACC, BWT, forgetting and the energy go to
    ``<out>/trial_<N>-<stream>-<strategy>.json`` (with a heat map of R beside it) and are
    appended to the study's attribute ``continual.trial_<N>`` (a finished trial's own
    attributes stay as the search left them).

    Args:
        run_dir: The run folder (``runs/<study>``).
        trial: The trial's number.
        scenario: The task stream (default ``split-digits``; see :func:`continual`).
        strategy: The strategy (default: the trial's ``cl_strategy``, else ``replay``); given,
            the trial's own ``cl_*`` settings are not used.
        n_tasks, limit: As for :func:`continual`.
        buffer_size, stdp_lr, stdp_epochs, readout_lr, feature_rate: Strategy options.
        epochs: Epochs per task (default: the study's, else 8).
        lr: Learning rate (default: the trial's, else 0.002).
        seed: Seed of the stream and training (default: the study's).
        data_dir: Folder of local data files (default: the study's).
        retrain: Rebuild the trial's architecture from scratch (for a trial without weights).
        storage: Read the study from this storage instead of the recorded one.
        out: Where the record and plot go (default ``<run_dir>/continual``).
        command: The command line that asked for this, kept in the record.
        progress: Show progress bars and warnings on standard error.
        verbose: Also show INFO messages.

    Returns:
        The :class:`ContinueResult`.

    Raises:
        UserError: not a run folder, no such trial, a trial without weights (unless
            ``retrain``), a stream on other data than the trial's, or a bad setting.
    """
    with translated():
        if isinstance(trial, bool) or not isinstance(trial, int):
            raise UserError(f"trial must be a trial number, got {trial!r}")
        flags = {
            "strategy": strategy,
            "buffer_size": buffer_size,
            "stdp_lr": stdp_lr,
            "stdp_epochs": stdp_epochs,
            "readout_lr": readout_lr,
            "feature_rate": feature_rate,
        }
        return _continue_trial(
            Path(run_dir).resolve(),
            trial,
            flags,
            scenario=scenario,
            n_tasks=n_tasks,
            limit=limit,
            epochs=epochs,
            lr=lr,
            seed=seed,
            data_dir=data_dir,
            retrain=retrain,
            storage=storage,
            out=out,
            command=command,
            progress=progress,
            verbose=verbose,
        )


def _continue_trial(
    run_dir: Path,
    number: int,
    flags: dict[str, Any],
    *,
    scenario: str | None,
    n_tasks: int | None,
    limit: int | None,
    epochs: int | None,
    lr: float | None,
    seed: int | None,
    data_dir: str | Path | None,
    retrain: bool,
    storage: str | None,
    out: str | Path | None,
    command: str | None,
    progress: bool,
    verbose: bool,
) -> ContinueResult:
    import optuna
    import torch

    import snn_models
    from agents import AgentError, open_storage
    from evolve.continual_learning.report import plot_r
    from evolve.continual_learning.runner import run_stream
    from evolve.continual_learning.streams import make_stream
    from evolve.continual_learning.trial import BATCH_SIZE, DEFAULT_LR, measure, strategy_for
    from evolve.engine.arch import CL_KEYS, arch_to_specs
    from evolve.store import checkpoints
    from evolve.store.run import load_run
    from evolve.store.runfolder import write_json
    from evolve.store.runlog import echo_level, logger
    from evolve.training.trainer import TrainConfig

    store, cfg = load_run(run_dir, storage)
    try:
        record = store.trial(number)
    except AgentError:
        n = len(store.trials())
        raise RunError(
            f"study {store.study_name!r} has no trial {number} (trials 0..{n - 1})"
        ) from None
    seed = seed if seed is not None else int(cfg.get("seed", 0))
    data_dir = data_dir if data_dir is not None else cfg.get("data_dir")
    stream = make_stream(
        scenario or ContinualConfig.scenario,
        seed=seed,
        n_tasks=n_tasks,
        limit=limit,
        data_dir=Path(data_dir) if data_dir else None,
    )
    net_dict, train_over = arch_to_specs(record.arch)
    cl = {k: v for k, v in train_over.items() if k in CL_KEYS and flags["strategy"] is None}
    name, settings, strategy = strategy_for(cl, flags, seed=seed)
    model: torch.nn.Module
    if retrain:
        torch.manual_seed(seed)
        model = snn_models.build(
            snn_models.NetSpec.from_dict(net_dict), stream.input_shape, stream.n_classes
        )
        source = "rebuilt from its architecture (--retrain)"
    else:
        ckpt = checkpoints.load(run_dir, number)
        if (ckpt.input_shape, ckpt.n_classes) != (tuple(stream.input_shape), stream.n_classes):
            raise UserError(
                f"trial {number} was trained on {ckpt.dataset} ({ckpt.input_shape}, "
                f"{ckpt.n_classes} classes) but stream {stream.name!r} is "
                f"{tuple(stream.input_shape)} with {stream.n_classes} classes; choose a scenario "
                "on the same kind of data"
            )
        model = ckpt.model
        source = f"weights from {ckpt.path.relative_to(run_dir.parent)}"
    epochs = epochs or int(cfg.get("epochs") or 8)
    lr = lr or float(train_over.get("lr", DEFAULT_LR))
    train_cfg = TrainConfig(
        epochs=epochs,
        batch_size=int(train_over.get("batch_size", BATCH_SIZE)),
        lr=lr,
        seed=seed,
        progress=progress,
    )
    train_cfg.validate()
    out_dir = Path(out).resolve() if out is not None else run_dir / "continual"
    echo = echo_level(progress, verbose)
    from evolve.store.runlog import run_log

    with run_log(run_dir / "log.txt", echo=echo):
        logger.info(
            "continual trial {}: {} on {} with {} {}", number, source, stream.name, name, settings
        )
        result = run_stream(model, stream, strategy, train_cfg)
        energy = measure(model, stream)
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = f"trial_{number}-{stream.name.replace(',', '+')}-{name}"
        path = out_dir / f"{stem}.json"
        data = {
            "trial": number,
            "source": source,
            "command": command if command is not None else "",
            "stream": stream.to_dict(),
            "epochs_per_task": epochs,
            "lr": lr,
            **result.to_dict(),
            "energy_uj": energy.energy_uj,
            "firing_rates": energy.firing_rates,
        }
        write_json(path, data)
        plot = plot_r(result, out_dir / f"{stem}.png")
        key = f"continual.trial_{number}"
        summary = {
            "scenario": stream.name,
            "strategy": name,
            "settings": result.settings,
            "acc": result.metrics.acc,
            "bwt": result.metrics.bwt,
            "forgetting": result.metrics.forgetting,
            "R": [list(r) for r in result.r],
            "energy_uj": energy.energy_uj,
            "file": str(path.relative_to(run_dir) if path.is_relative_to(run_dir) else path),
        }
        previous = store.user_attrs.get(key, [])
        study = optuna.load_study(
            study_name=store.study_name, storage=open_storage(storage or cfg["storage"])
        )
        study.set_user_attr(key, [*previous, summary])
    return ContinueResult(number, source, result, energy.energy_uj, path, plot, data)
