"""``evolve.search``: a multi-objective architecture search over spiking networks."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
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
    data_kind: str | None = None,
    energy_budget_uj: float | None = None,
    limits: Mapping[str, float] | None = None,
    no_early_stop: bool | None = None,
    fidelity: str | None = None,
    reduction_factor: int | None = None,
    min_epochs: int | None = None,
    fidelity_resource: str | None = None,
    trial_memory_mb: float | None = None,
    constraint: str | None = None,
    energy_model: str | None = None,
    backend: str | None = None,
    workers: int | None = None,
    cpus_per_trial: float | None = None,
    gpus_per_trial: float | None = None,
    ray_address: str | None = None,
    selection: str | None = None,
    folds: int | None = None,
    proxy_filter: str | None = None,
    proxy_pool: int | None = None,
    proxy_prior: str | None = None,
    retrain_top: int | None = None,
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
            (``.npz`` with ``x``/``y``, a ``.csv``/``.parquet`` table of features or series),
            ``(x, y)`` arrays, an :class:`evolve.data.Dataset` (:func:`evolve.data.from_arrays`)
            or a torch Dataset.
        objectives: Names (``"accuracy,energy"``, or a list), and/or the caller's functions
            ``fn(model, data) -> float`` (:class:`evolve.UserObjective` for a direction).
        trials: Finished trials to reach, pruned ones included.
        epochs: Training epochs per trial.
        sampler: ``auto``, ``nsga2``, ``tpe``, ``random`` or ``qmc``.
        agent: A key of ``agents.AGENTS``. ``oneshot``: a weight-sharing supernet trained once,
            ``trials`` NSGA-II proposals scored on its inherited weights, then their front
            retrained as the run's trials (:mod:`evolve.engine.oneshot`; ``kind`` mlp, cnn or
            transformer).
        seed: Seed of the sampler, the data split and training.
        storage: Optuna storage (``sqlite:///...``, a ``.log`` journal file, ``postgresql://``).
        study: The study's name (its folder under ``out``).
        out: Where run folders go.
        resume: Continue the study ``study``.
        join: Work on a study another process is running (shared storage).
        timeout: Stop starting new trials after this many seconds.
        max_failures: Stop after this many failed trials in a row (0: never).
        data_dir: Folder holding the data set's files.
        data_kind: ``image``, ``tabular`` or ``series`` (default: recognised from the file and
            its shape; :mod:`evolve.data.kinds`). The space is restricted to the network kinds
            that take it before any trial.
        energy_budget_uj: Candidates above this energy are infeasible.
        limits: Upper bounds on minimised metrics every trial records, by objective name
            (``{"effective_acs": 2e5, "footprint": 40_000}``): candidates above any are
            infeasible (kept off the front). Fixed for a run.
        no_early_stop: Never stop dominated trials early (``fidelity="none"``).
        fidelity: How running trials are stopped early (:data:`agents.FIDELITIES`): ``stopper``
            (the default: two finished trials dominate it at the same epoch), ``asha``
            (multi-objective asynchronous successive halving: at rungs of
            ``min_epochs·reduction_factor^k`` epochs only the top ``1/reduction_factor`` of the
            trials at the rung, by non-dominated sorting with a crowding tie-break, go on),
            ``hyperband`` (ASHA in brackets with different first rungs) or ``none``. Each rung
            a trial reaches is recorded (``rung``, ``bracket``, ``promotions``). Fixed for a
            run.
        reduction_factor: η of ``asha``/``hyperband`` (default 3). Fixed for a run.
        min_epochs: Epochs at the first rung of ``asha``/``hyperband`` (default 1). Fixed for
            a run.
        fidelity_resource: ``epochs`` (default) or ``data``: with ``asha``/``hyperband`` the
            epochs before a bracket's ``k``-th of ``K`` rungs train on a nested, stratified
            ``η^(k-K)`` of the training split (:mod:`evolve.training.subsets`). Fixed for a run.
        trial_memory_mb: Fail a trial that grows resident memory by more than this.
        constraint: ``nir``: only candidates NIR can express.
        energy_model: ``per-inference`` (default) or ``per-step``: how often the encoding
            layer that runs once on the static input is counted, in the energy (µJ) and in
            NeuroBench's synaptic operations every trial records (``snn_models.energy``).
            Fixed for a run (a resume keeps the recorded one).
        backend: ``local`` (one process) or ``ray``.
        workers, cpus_per_trial, gpus_per_trial, ray_address: Ray settings.
        selection: How a trial's accuracy objective is scored: ``holdout`` (the validation
            split), ``kfold`` (mean over ``folds`` stratified folds of train + validation; the
            spread is recorded as ``cv_accuracy_std``) or ``auto`` (the default: kfold when the
            validation split has fewer than 100 samples). Fixed for a run.
        folds: K for kfold (default 5).
        proxy_filter: ``sahd`` (SNASNet's spike-pattern score) or ``grad`` (gradient saliency):
            ask ``proxy_pool`` proposals per trial, score each untrained candidate on two
            mini-batches, train only the best; the others are recorded PRUNED with
            ``proxy_rejected`` (:mod:`evolve.engine.proxy_filter`; rank correlations with
            trained accuracy: ``make bench-proxies``). Local backend only; fixed for a run.
        proxy_pool: Proposals scored per trained trial (default 8; needs a proxy filter or prior).
        proxy_prior: ``sahd`` or ``grad``: a new study's first min(trials, 8) trials are the
            best-scoring of ``proxy_pool`` times as many random candidates
            (:mod:`evolve.engine.proxy_prior`). Local backend only; fixed for a run.
        retrain_top: Agent ``oneshot`` only: retrain at most this many (>= 1) architectures
            of the inherited front (default 8; a resume may change it, and without it keeps
            the value ``config.yaml`` records).
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
    from evolve.engine.oneshot import check_retrain_top
    from evolve.engine.proxy_filter import check_proxy_settings

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
            "data_kind": data_kind,
            "energy_budget_uj": energy_budget_uj,
            "limits": dict(limits) if limits else None,
            "no_early_stop": no_early_stop or None,
            "fidelity": fidelity,
            "reduction_factor": reduction_factor,
            "min_epochs": min_epochs,
            "fidelity_resource": fidelity_resource,
            "trial_memory_mb": trial_memory_mb,
            "constraint": constraint,
            "energy_model": energy_model,
            "backend": backend,
            "workers": workers,
            "cpus_per_trial": cpus_per_trial,
            "gpus_per_trial": gpus_per_trial,
            "ray_address": ray_address,
            # auto on resume: the run's recorded choice stands
            "selection": None if resume and selection == "auto" else selection,
            "folds": folds,
            "proxy_filter": proxy_filter,
            "proxy_pool": proxy_pool,
            "proxy_prior": proxy_prior,
            "retrain_top": retrain_top,
        }
        if not resume:  # bad proxy settings fail before anything is recorded
            check_proxy_settings(proxy_filter, proxy_pool, proxy_prior)
        check_retrain_top(retrain_top)
        if data is not None:
            data = as_dataset(data, seed=seed or 0, kind=data_kind)
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
    from agents import Constraint
    from evolve.api.run import Run
    from evolve.api.search_settings import (
        fit_data,
        limit_constraints,
        make_fidelity,
        resolve_selection,
        user_reference,
    )
    from evolve.data.datasets import load_dataset
    from evolve.engine import setup as st
    from evolve.engine.oneshot import (
        check_agent_settings,
        check_retrain_top,
        is_oneshot,
        search_loop,
    )
    from evolve.engine.proxy_filter import ProxyFilter, check_proxy_settings
    from evolve.engine.proxy_prior import check_prior_settings, seed_run
    from evolve.engine.ray_loop import ray_options, run_ray
    from evolve.engine.selection import resolve_folds
    from evolve.engine.trial import TrialSettings, evaluate_trial, memory_cap_supported
    from evolve.store.runlog import logger
    from evolve.training.baselines import record_baselines
    from evolve.training.subsets import data_fidelity
    from snn_models.energy import ENERGY_MODELS

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
    check_retrain_top(cfg.retrain_top, agent=cfg.agent)
    scheduler = make_fidelity(cfg)  # a bad fidelity setting fails before any data is read
    fidelity = "none" if cfg.no_early_stop else cfg.fidelity
    fractions = data_fidelity(cfg.fidelity_resource, fidelity, scheduler, seed=cfg.seed)
    resolve_folds(cfg.selection, cfg.folds)  # the settings, before any data is read
    if any(k.startswith("cl_") for k in space.dimensions):
        raise UserError(
            f"space {space.name!r} has continual-learning settings (cl_*); search it with "
            "evolve.continual_learning (`evolve continual`)"
        )
    if cfg.energy_model not in ENERGY_MODELS:
        raise UserError(
            f"energy_model must be one of {', '.join(ENERGY_MODELS)}, got {cfg.energy_model!r}"
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
            cfg.dataset,
            seed=cfg.seed,
            data_dir=Path(cfg.data_dir) if cfg.data_dir else None,
            kind=cfg.data_kind,
        )
    elif cfg.dataset != data.name:
        raise UserError(
            f"the study was run on data set {cfg.dataset!r}; pass that data (got {data.name!r})"
        )
    space, cfg = fit_data(space, cfg, data)
    st.check_space_fits_data(space, data)
    n_folds, cfg = resolve_selection(cfg, data, prepared.resumed)
    if cfg.trial_memory_mb is not None:
        if not cfg.trial_memory_mb > 0:
            raise UserError(f"trial_memory_mb must be > 0, got {cfg.trial_memory_mb}")
        if not memory_cap_supported():
            raise UserError("trial_memory_mb needs Linux (it reads /proc/self/status)")
    pool = check_proxy_settings(cfg.proxy_filter, cfg.proxy_pool, cfg.proxy_prior)
    check_prior_settings(cfg.proxy_prior, backend=cfg.backend, oneshot=is_oneshot(cfg.agent))
    if cfg.proxy_filter and cfg.backend == "ray":
        raise UserError("proxy_filter needs the local backend; leave out backend 'ray'")
    cfg = cfg.replace(proxy_pool=pool or None)  # the resolved pool is what config.yaml records
    check_agent_settings(cfg, space, join=prepared.join)  # agent oneshot: what it supports
    options = ray_options(cfg, prepared.run_dir) if cfg.backend == "ray" else None
    constraints = (
        [Constraint("energy_uj", float(cfg.energy_budget_uj))] if cfg.energy_budget_uj else []
    ) + limit_constraints(cfg.limits)
    prepared = dataclasses.replace(prepared, cfg=cfg, space=space)
    with st.opened_study(
        prepared,
        reference=lambda: st.reference_point(
            space.default(),
            data.input_shape,
            data.n_classes,
            data.val.x[:32],
            objectives,
            "45nm_fp32",
            user_reference=user_reference(users, space, data),
            energy_model=cfg.energy_model,
        ),
        constraints=constraints,
        early_stopper=scheduler,
        progress=progress,
        verbose=verbose,
    ) as (agent, prepared):
        cfg = prepared.cfg
        if cfg.proxy_filter is not None:
            agent = ProxyFilter(agent, data, proxy=cfg.proxy_filter, pool=pool, seed=cfg.seed)
        logger.info(
            "study {} in {}; space {}; data {}; objectives {}",
            prepared.study_name,
            cfg.storage,
            space.name,
            data.name,
            [o.name for o in objectives],
        )
        seed_run(agent, cfg, space, data, pool)  # a new study: the first trials proxy-chosen
        assert cfg.epochs is not None  # prepare_study fills it in
        base = TrialSettings(
            epochs=cfg.epochs,
            seed=cfg.seed,
            teacher_dir=str((out / "teachers").resolve()),  # shared by every study in out
            memory_mb=cfg.trial_memory_mb,
            user_objectives=tuple(users),
            energy_model=cfg.energy_model,
            folds=n_folds,
            fold_seed=cfg.seed,
            data_fidelity=fractions,
        )
        record_baselines(prepared.run_dir, data, space.default(), folds=n_folds, seed=cfg.seed)
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
                return evaluate_trial(
                    proposal.arch, data, settings, report=report, number=proposal.number
                )

            assert cfg.trials is not None and cfg.reference_point is not None
            loop = search_loop(cfg, space, data, base, objectives, constraints)  # oneshot or not
            result = loop(
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
