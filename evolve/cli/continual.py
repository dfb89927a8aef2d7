"""``evolve continual``: parse the flags, call :func:`evolve.continual_learning` (search) or
:func:`evolve.continual_learning.search.continue_trial` (``--study S --trial N``), print the result."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evolve.cli._flags import add_study_flags, run_study, study_kwargs
from evolve.config import ContinualConfig
from evolve.continual_learning.strategies import STRATEGIES
from evolve.continual_learning.streams import STREAMS
from evolve.continual_learning.trial import DEFAULT_LR, DEFAULT_STRATEGY
from evolve.errors import UserError

#: The keywords of the flags both modes take (``--buffer-size`` → ``buffer_size``).
COMMON = ("scenario", "n_tasks", "limit", "strategy", "buffer_size", "stdp_lr", "stdp_epochs",
          "readout_lr", "feature_rate", "epochs", "lr", "data_dir")  # fmt: skip
#: Flags of a search that do not apply when continuing a trial.
SEARCH_ONLY = ("space", "resume", "trials", "timeout", "objectives", "sampler", "agent")


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
            "  evolve continual --study mine --trial 0 --scenario permuted-digits\n"
            f"scenarios: {', '.join(STREAMS)}, or a comma-separated list of data sets/.npz files\n"
            f"strategies: {', '.join(STRATEGIES)}"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--space",
        help=f"search space (default {ContinualConfig.space}); its cl_* keys choose the strategy",
    )
    p.add_argument(
        "--scenario",
        help=f"the task stream (default {ContinualConfig.scenario}; see the list below)",
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
        f"{DEFAULT_STRATEGY}): {', '.join(STRATEGIES)}",
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
    p.add_argument("--objectives", help=f"comma-separated (default {ContinualConfig.objectives})")
    p.add_argument("--data-dir", type=Path, help="folder of local data files (Fashion-MNIST)")
    add_study_flags(p)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    if a.trial is not None:
        return _continue_trial(a)
    if a.retrain:
        raise UserError("--retrain only applies with --trial N (continuing a found model)")
    return _search(a)


def _search(a: argparse.Namespace) -> int:
    from evolve.continual_learning.search import continual

    kwargs = {**study_kwargs(a), **{k: getattr(a, k) for k in (*COMMON, "space", "objectives")}}
    return run_study("continual", continual, kwargs)


def _continue_trial(a: argparse.Namespace) -> int:
    from evolve.continual_learning.search import continue_trial

    if not a.study:
        raise UserError("--trial needs --study NAME (the run folder under --out holding it)")
    for flag in SEARCH_ONLY:
        if getattr(a, flag) not in (None, False):
            raise UserError(
                f"--{flag} is for a continual search; drop it when continuing --trial {a.trial}"
            )
    done = continue_trial(
        a.out / a.study,
        a.trial,
        **{k: getattr(a, k) for k in (*COMMON, "seed", "retrain", "storage")},
        command="evolve " + " ".join(sys.argv[1:]) if sys.argv else "",
        progress=not a.no_progress,
        verbose=a.verbose,
    )
    print(done.text())
    print(f"wrote {done.path}" + (f" and {done.plot.name}" if done.plot else ""))
    return 0


__all__ = ["add_parser", "run"]
