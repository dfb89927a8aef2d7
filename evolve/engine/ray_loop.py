"""The Ray backend's loop: the same trials through Ray Tune, ``workers`` at once."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolve.engine.loop import Callback, FailureStreak, LoopResult, TrialEvent, record
from evolve.store.runlog import logger

if TYPE_CHECKING:
    from agents import Agent, Objective
    from agents.ray_backend import RayOptions
    from evolve.config import SearchConfig
    from evolve.data.datasets import Dataset
    from evolve.engine.trial import TrialSettings


def ray_options(cfg: SearchConfig, run_dir: Path) -> RayOptions:
    """The Ray settings of a run, checked before anything is recorded."""
    from agents.ray_backend import RayOptions

    def given(value: Any, default: float) -> Any:
        return default if value is None else value

    options = RayOptions(
        workers=given(cfg.workers, 2),
        cpus_per_trial=given(cfg.cpus_per_trial, 1.0),
        gpus_per_trial=given(cfg.gpus_per_trial, 0.0),
        address=cfg.ray_address,
        storage_path=run_dir / "ray",
    )
    options.validate()
    return options


def run_ray(
    agent: Agent,
    *,
    cfg: SearchConfig,
    objectives: Sequence[Objective],
    run_dir: Path,
    data: Dataset,
    base: TrialSettings,
    options: RayOptions,
    desc: str,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
) -> LoopResult:
    """Run the study's remaining trials on Ray; records after every trial like the local loop."""
    from tqdm import tqdm

    from agents.ray_backend import TrialEnd, run_with_ray
    from evolve.engine.ray_trial import ray_trainable

    assert cfg.reference_point is not None and cfg.trials is not None
    reference = dict(cfg.reference_point)
    bar = tqdm(
        total=cfg.trials,
        initial=agent.n_done(),
        desc=f"{desc} (ray x{options.workers})",
        unit="trial",
        disable=not progress,
    )
    failures = FailureStreak(cfg.max_failures)
    result = LoopResult()

    def on_end(end: TrialEnd) -> bool:
        error = None
        if end.state == "fail":
            kind = end.attrs.get("error_type")
            logger.warning(
                "trial {} failed: {}{}", end.proposal.number, f"{kind}: " if kind else "", end.error
            )
            if end.traceback:
                logger.debug(
                    "trial {} traceback (Ray worker):\n{}", end.proposal.number, end.traceback
                )
            error = str(end.error)
            failures.failed(error)
        else:
            logger.info("trial {} {}: {}", end.proposal.number, end.state, end.values)
            failures.finished()
        summary = record(run_dir, agent, objectives, reference, bar)
        values = end.values if end.state != "fail" else None
        event = TrialEvent.after(end.proposal.number, end.state, values, error, agent, summary)
        if any(cb(event) for cb in callbacks):
            result.stopped_by_callback = True
            return True
        return failures.stop

    logger.info("ray backend: {}", options)
    try:
        run_with_ray(
            agent,
            ray_trainable,
            n_trials=cfg.trials,
            options=options,
            on_end=on_end,
            timeout=cfg.timeout,
            parameters={
                "data": data,
                "settings": dataclasses.replace(base, teacher_seed=cfg.seed),
                "run_dir": str(run_dir),
                "threads": max(1, math.ceil(options.cpus_per_trial)),
            },
        )
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        bar.close()
    record(run_dir, agent, objectives, reference)  # the last results (also after Ctrl-C)
    failures.raise_if_stopped(run_dir)
    return result
