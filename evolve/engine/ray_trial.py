"""The function Ray Tune runs in its workers for `evolve search --backend ray`.

It evaluates one proposal with the same :func:`evolve.engine.trial.evaluate_trial` as the local
backend, reports each epoch's validation accuracy and energy (the driver's early stopping reads
them), saves the trained weights of a finished trial into the run folder's ``checkpoints/``
(the driver keeps only the front's), and ends with one final report holding the outcome. A
candidate that raises anything (cannot be built, diverges, exceeds ``--trial-memory-mb``, a bug)
ends with a final report naming the error, its type and its traceback (told FAIL by the driver,
which logs the traceback, without Tune retrying it); a worker that dies is retried by Tune, then
told FAIL.
"""

from __future__ import annotations

import dataclasses
import traceback
from pathlib import Path
from typing import Any

from agents.ray_backend import TRACEBACK_KEY, epoch_report, final_report
from evolve.data.datasets import Dataset
from evolve.engine.loop import release_trial_garbage
from evolve.engine.trial import TrialOutcome, TrialSettings


def ray_trainable(
    config: dict[str, Any],
    *,
    data: Dataset,
    settings: TrialSettings,
    run_dir: str,
    threads: int,
) -> None:
    """Tune function trainable: ``config = {"number": N, "arch": {...}}``."""
    import torch
    from ray import tune

    from evolve.engine.trial import evaluate_trial, failure_attrs
    from evolve.store import checkpoints

    torch.set_num_threads(max(1, threads))
    number = int(config["number"])
    trial_settings = dataclasses.replace(settings, seed=settings.seed + number)

    def report(epoch: int, values: Any) -> bool:
        tune.report(epoch_report(epoch, values))
        return False  # the driver's scheduler stops the trial when the agent says so

    values: dict[str, float] = {}
    outcome: TrialOutcome | None = None
    try:
        outcome = evaluate_trial(config["arch"], data, trial_settings, report=report, number=number)
        if not outcome.stopped_early and outcome.checkpoint is not None:
            checkpoints.save(Path(run_dir), number, **outcome.checkpoint)
        values, attrs = outcome.values, {**outcome.attrs, "arch": config["arch"]}
    except (
        Exception
    ) as e:  # a bad candidate, not a bad worker: no retry (Tune's stop is SystemExit)
        attrs = {**failure_attrs(e, config["arch"]), TRACEBACK_KEY: traceback.format_exc()}
    outcome = None  # this worker may run the next trial (reused actor): start it clean
    release_trial_garbage(failed=TRACEBACK_KEY in attrs)
    tune.report(final_report(values, attrs))


__all__ = ["ray_trainable"]
