"""The function Ray Tune runs in its workers for `evolve search --backend ray`.

It evaluates one proposal with the same :func:`evolve.trial.evaluate_trial` as the local
backend, reports each epoch's validation accuracy and energy (the driver's early stopping reads
them), saves the trained weights of a finished trial into the run folder's ``checkpoints/``
(the driver keeps only the front's), and ends with one final report holding the outcome. A
candidate that cannot be built or diverges ends with a final report naming the error (told FAIL
without Tune retrying it); a worker that dies is retried by Tune, then told FAIL.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from agents.ray_backend import epoch_report, final_report
from evolve.datasets import Dataset
from evolve.trial import TrialSettings


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

    from evolve import checkpoints
    from evolve.errors import UserError
    from evolve.trial import evaluate_trial
    from snn_models import ConfigError

    torch.set_num_threads(max(1, threads))
    number = int(config["number"])
    trial_settings = dataclasses.replace(settings, seed=settings.seed + number)

    def report(epoch: int, values: Any) -> bool:
        tune.report(epoch_report(epoch, values))
        return False  # the driver's scheduler stops the trial when the agent says so

    try:
        outcome = evaluate_trial(config["arch"], data, trial_settings, report=report)
    except (ConfigError, UserError, FloatingPointError) as e:
        tune.report(final_report({}, {"error": str(e), "arch": config["arch"]}))
        return
    if not outcome.stopped_early and outcome.checkpoint is not None:
        checkpoints.save(Path(run_dir), number, **outcome.checkpoint)
    tune.report(final_report(outcome.values, {**outcome.attrs, "arch": config["arch"]}))


__all__ = ["ray_trainable"]
