"""``evolve.search``: a multi-objective architecture search over spiking networks."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolve.config import SearchConfig
from evolve.errors import Interrupted, UserError, translated

if TYPE_CHECKING:
    from agents import Proposal
    from evolve.api.run import Run
    from evolve.engine.loop import Callback
    from evolve.engine.trial import ReportFn, TrialOutcome

__all__ = ["search"]


def search(
    space: str | None = None,
    dataset: Any = None,
    *,
    objectives: str | Sequence[Any] | None = None,
    trials: int | None = None,
    epochs: int | None = None,
    sampler: str | None = None,
    agent: str | None = None,
    seed: int | None = None,
    storage: str | None = None,
    study: str | None = None,
    out: str | Path = "runs",
    resume: bool = False,
    join: bool = False,
    timeout: float | None = None,
    max_failures: int | None = None,
    data_dir: str | Path | None = None,
    energy_budget_uj: float | None = None,
    no_early_stop: bool | None = None,
    trial_memory_mb: float | None = None,
    constraint: str | None = None,
    backend: str | None = None,
    workers: int | None = None,
    cpus_per_trial: float | None = None,
    gpus_per_trial: float | None = None,
    ray_address: str | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
    verbose: bool = False,
) -> Run:
    """Search a space for the accuracy–energy Pareto front and return the run.

    Every candidate is built, trained with surrogate gradients, selected on validation accuracy
    and measured for energy from its real spikes. The study, ``log.txt``, ``pareto.json``,
    ``trials.parquet`` and the front's checkpoints go to ``out/<study>/``. Every keyword has the
    name of an ``evolve search`` flag; ``None`` means "not given" (the space's budget or the
    default of :class:`~evolve.config.SearchConfig` applies, or on ``resume`` the recorded value).

    Args:
        space: A library space name (``evolve.spaces()``) or a YAML path.
        dataset: A data set name (``digits``, ``fashion-mnist``, ``gunpoint``, ...), a file
            (``.npz`` with ``x``/``y``, ``.csv``/``.parquet`` series), ``(x, y)`` arrays, an
            :class:`evolve.data.Dataset` (:func:`evolve.data.from_arrays`) or a torch Dataset.
        objectives: Names (``"accuracy,energy"``, or a list), and/or the caller's functions
            ``fn(model, data) -> float`` (:class:`evolve.UserObjective` for a direction).
        trials: Finished trials to reach, pruned ones included.
        epochs: Training epochs per trial.
        sampler: ``auto``, ``nsga2``, ``tpe``, ``random`` or ``qmc``.
        agent: A key of ``agents.AGENTS``.
        seed: Seed of the sampler, the data split and training.
        storage: Optuna storage (``sqlite:///...``, a ``.log`` journal file, ``postgresql://``).
        study: The study's name (its folder under ``out``).
        out: Where run folders go.
        resume: Continue the study ``study``.
        join: Work on a study another process is running (shared storage).
        timeout: Stop starting new trials after this many seconds.
        max_failures: Stop after this many failed trials in a row (0: never).
        data_dir: Folder holding the data set's files.
        energy_budget_uj: Candidates above this energy are infeasible.
        no_early_stop: Never stop dominated trials early.
        trial_memory_mb: Fail a trial that grows resident memory by more than this.
        constraint: ``nir``: only candidates NIR can express.
        backend: ``local`` (one process) or ``ray``.
        workers, cpus_per_trial, gpus_per_trial, ray_address: Ray settings.
        callbacks: Called after every trial with an :class:`evolve.TrialEvent`; one returning
            True stops the search.
        progress: Show a progress bar and warnings on standard error.
        verbose: Also show INFO messages (with ``progress``).

    Returns:
        The :class:`evolve.Run`.

    Raises:
        UserError: bad input (its subclasses say which kind); nothing recorded is changed.
        evolve.errors.Interrupted: on Ctrl-C (a KeyboardInterrupt), after the running trial is recorded as failed and the
            results are written (continue with ``resume=True``).

    Example:
        >>> import evolve
        >>> run = evolve.search("hybrid_neuron", "digits", trials=2, epochs=1,
        ...                     out=getfixture("tmp_path"), study="doc")  # doctest: +SKIP
    """
    from evolve.data.arrays import as_dataset
    from evolve.engine.objectives import split_objectives

    with translated():
        names, users = split_objectives(objectives)
        data = None if dataset is None or isinstance(dataset, str | Path) else dataset
        given = {
            "space": space,
            "dataset": str(dataset) if isinstance(dataset, str | Path) else None,
            "objectives": names,
            "trials": trials,
            "epochs": epochs,
            "sampler": sampler,
            "agent": agent,
            "seed": seed,
            "storage": storage,
            "timeout": timeout,
            "max_failures": max_failures,
            "data_dir": str(data_dir) if data_dir is not None else None,
            "energy_budget_uj": energy_budget_uj,
            "no_early_stop": no_early_stop or None,
            "trial_memory_mb": trial_memory_mb,
            "constraint": constraint,
            "backend": backend,
            "workers": workers,
            "cpus_per_trial": cpus_per_trial,
            "gpus_per_trial": gpus_per_trial,
            "ray_address": ray_address,
        }
        if data is not None:
            data = as_dataset(data, seed=seed or 0)
            given["dataset"] = data.name
        return _search(
            given, data, users, study, Path(out), resume, join, callbacks, progress, verbose
        )


def _search(
    given: dict[str, Any],
    data: Any,
    users: Sequence[Any],
    study: str | None,
    out: Path,
    resume: bool,
    join: bool,
    callbacks: Sequence[Callback],
    progress: bool,
    verbose: bool,
) -> Run:
    from agents import Constraint, MultiObjectiveStopper
    from evolve.api.run import Run
    from evolve.data.datasets import load_dataset
    from evolve.engine import setup as st
    from evolve.engine.loop import run_loop
    from evolve.engine.ray_loop import ray_options, run_ray
    from evolve.engine.trial import TrialSettings, evaluate_trial, memory_cap_supported
    from evolve.store.runlog import logger

    prepared = st.prepare_study(
        SearchConfig,
        given,
        study=study,
        out=out,
        resume=resume,
        join=join,
        user_objectives=users,
    )
    cfg, space, objectives = prepared.cfg, prepared.space, prepared.objectives
    if any(k.startswith("cl_") for k in space.dimensions):
        raise UserError(
            f"space {space.name!r} has continual-learning settings (cl_*); search it with "
            "evolve.continual_learning (`evolve continual`)"
        )
    if cfg.backend not in ("local", "ray"):
        raise UserError(f"unknown backend {cfg.backend!r}; choose local or ray")
    if cfg.backend != "ray":
        named = [k for k in SearchConfig.RAY_KEYS if given.get(k) is not None]
        if named:
            raise UserError(f"{named[0]} applies to Ray runs; use backend 'ray'")
        # a Ray run resumed locally: its Ray settings do not apply
        cfg = cfg.replace(**dict.fromkeys(SearchConfig.RAY_KEYS))
    if data is None:
        assert cfg.dataset is not None
        data = load_dataset(
            cfg.dataset, seed=cfg.seed, data_dir=Path(cfg.data_dir) if cfg.data_dir else None
        )
    elif cfg.dataset != data.name:
        raise UserError(
            f"the study was run on data set {cfg.dataset!r}; pass that data (got {data.name!r})"
        )
    st.check_space_fits_data(space, data)
    if cfg.trial_memory_mb is not None:
        if not cfg.trial_memory_mb > 0:
            raise UserError(f"trial_memory_mb must be > 0, got {cfg.trial_memory_mb}")
        if not memory_cap_supported():
            raise UserError("trial_memory_mb needs Linux (it reads /proc/self/status)")
    options = ray_options(cfg, prepared.run_dir) if cfg.backend == "ray" else None
    constraints = (
        [Constraint("energy_uj", float(cfg.energy_budget_uj))] if cfg.energy_budget_uj else []
    )
    prepared = dataclasses.replace(prepared, cfg=cfg)
    with st.opened_study(
        prepared,
        reference=lambda: st.reference_point(
            space.default(),
            data.input_shape,
            data.n_classes,
            data.val.x[:32],
            objectives,
            "45nm_fp32",
            user_reference=_user_reference(users, space, data),
        ),
        constraints=constraints,
        early_stopper=None if cfg.no_early_stop else MultiObjectiveStopper(),
        progress=progress,
        verbose=verbose,
    ) as (agent, prepared):
        cfg = prepared.cfg
        logger.info(
            "study {} in {}; space {}; data {}; objectives {}",
            prepared.study_name,
            cfg.storage,
            space.name,
            data.name,
            [o.name for o in objectives],
        )
        assert cfg.epochs is not None  # prepare_study fills it in
        base = TrialSettings(
            epochs=cfg.epochs,
            seed=cfg.seed,
            teacher_dir=str((out / "teachers").resolve()),  # shared by every study in out
            memory_mb=cfg.trial_memory_mb,
            user_objectives=tuple(users),
        )
        desc = f"search {space.name}"
        if options is not None:
            result = run_ray(
                agent,
                cfg=cfg,
                objectives=objectives,
                run_dir=prepared.run_dir,
                data=data,
                base=base,
                options=options,
                desc=desc,
                progress=progress,
                callbacks=callbacks,
            )
        else:

            def run_trial(proposal: Proposal, report: ReportFn) -> TrialOutcome:
                settings = dataclasses.replace(
                    base, seed=cfg.seed + proposal.number, teacher_seed=cfg.seed
                )
                return evaluate_trial(proposal.arch, data, settings, report=report)

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
                desc=desc,
                progress=progress,
                join=prepared.join,
                callbacks=callbacks,
            )
    if result.interrupted:
        raise Interrupted(prepared.run_dir, prepared.study_name)
    return Run(prepared.run_dir, storage=cfg.storage, data=data, user_objectives=users)


def _user_reference(users: Sequence[Any], space: Any, data: Any) -> Any:
    """The hypervolume reference of a user objective without a threshold: 0 when maximised,
    twice the value of the space's default (untrained) model when minimised."""

    def reference(name: str) -> float:
        import snn_models
        from evolve.engine.arch import arch_to_specs

        user = next(u for u in users if u.name == name)
        if user.direction == "maximize":
            return 0.0
        net, _ = arch_to_specs(space.default())
        model = snn_models.build(net, data.input_shape, data.n_classes).eval()
        value = abs(user(model, data))
        return 2.0 * value if value > 0 else 1.0

    return reference
