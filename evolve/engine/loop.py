"""The search loop: ask, evaluate, tell, record, until the budget is spent.

The loop only orchestrates: the agent proposes and decides (``agents``), ``run_trial``
evaluates, the run store records. It is shared by ``search`` (local backend) and ``continual``;
the Ray backend (:mod:`evolve.engine.ray_loop`) records through the same :func:`record`.
"""

from __future__ import annotations

import functools
import gc
import math
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from evolve.errors import FailuresStopped
from evolve.store.runlog import logger

if TYPE_CHECKING:
    from agents import Agent, Objective, Proposal
    from evolve.engine.trial import ReportFn, TrialOutcome

__all__ = [
    "WRITE_EVERY_S",
    "Callback",
    "FailureStreak",
    "LoopResult",
    "TrialEvent",
    "record",
    "release_trial_garbage",
    "run_loop",
    "tell_failure",
]


@dataclass(frozen=True)
class TrialEvent:
    """What a callback is told after every trial.

    Attributes:
        number: The trial's number.
        state: ``complete``, ``pruned`` or ``fail``.
        values: Its objective values (None unless complete or pruned).
        error: The one-line reason of a failure.
        n_done: Trials that count toward the budget so far.
        front: The Pareto front after this trial (``pareto.json``'s ``front``).
        hypervolume: The front's hypervolume.
    """

    number: int
    state: str
    values: Mapping[str, float] | None
    error: str | None
    n_done: int
    front: Sequence[Mapping[str, Any]] = field(default=())
    hypervolume: float = float("nan")

    @classmethod
    def after(
        cls,
        number: int,
        state: str,
        values: Mapping[str, float] | None,
        error: str | None,
        agent: Agent,
        summary: Mapping[str, Any],
    ) -> TrialEvent:
        """The event of a trial just recorded (``summary``: what :func:`record` returned)."""
        return cls(
            number,
            state,
            values,
            error,
            agent.n_done(),
            summary["front"],
            float(summary.get("hypervolume", float("nan"))),
        )


#: ``callback(event) -> bool | None``: True stops the search after this trial.
Callback = Callable[[TrialEvent], "bool | None"]


@dataclass
class LoopResult:
    """How a loop ended."""

    interrupted: bool = False
    stopped_by_callback: bool = False


class FailureStreak:
    """``max_failures``: counts failed trials in a row (a finished one resets the count)."""

    def __init__(self, limit: int) -> None:
        self.limit = int(limit)
        self.in_a_row = 0
        self.last = ""

    @property
    def stop(self) -> bool:
        return self.limit > 0 and self.in_a_row >= self.limit

    def failed(self, reason: str) -> bool:
        """Count a failed trial; True when the run must stop."""
        self.in_a_row += 1
        self.last = reason
        return self.stop

    def finished(self) -> None:
        self.in_a_row = 0

    def raise_if_stopped(self, run_dir: Path) -> None:
        if self.stop:
            raise FailuresStopped(
                f"stopped: {self.in_a_row} trials failed in a row (last: {self.last}); fix the "
                f"space or data, then resume or start a new study (tracebacks in "
                f"{run_dir / 'log.txt'}; max_failures 0 never stops)",
                run_dir,
            )


def tell_failure(agent: Agent, proposal: Proposal, e: BaseException) -> str:
    """Tell ``proposal`` FAIL because of ``e``: one line in the log at WARNING, the traceback at
    DEBUG; returns the reason."""
    from evolve.engine.trial import failure_attrs

    attrs = failure_attrs(e, proposal.arch)
    logger.warning("trial {} failed: {}: {}", proposal.number, attrs["error_type"], attrs["error"])
    trace = "".join(traceback.format_exception(e))
    logger.debug("trial {} traceback:\n{}", proposal.number, trace)
    agent.tell(proposal, None, state="fail", attrs=attrs)
    return str(attrs["error"])


def objective_values(outcome: TrialOutcome, objectives: Sequence[Objective]) -> dict[str, float]:
    """The objectives' values of an outcome; a missing or non-finite one fails the trial."""
    values = {}
    for o in objectives:
        value = outcome.values.get(o.name)
        if value is None or not math.isfinite(value):
            raise FloatingPointError(f"objective {o.name} is {value} (not a finite number)")
        values[o.name] = float(value)
    return values


def run_loop(
    agent: Agent,
    *,
    trials: int,
    timeout: float | None,
    max_failures: int,
    objectives: Sequence[Objective],
    reference: dict[str, float],
    run_dir: Path,
    run_trial: Callable[[Proposal, ReportFn], TrialOutcome],
    desc: str,
    progress: bool = False,
    join: bool = False,
    callbacks: Sequence[Callback] = (),
) -> LoopResult:
    """Ask, evaluate with ``run_trial``, tell, until ``trials`` trials are done.

    After every trial the results are rewritten and the checkpoints pruned to the Pareto front,
    unless the last rewrite is under :data:`WRITE_EVERY_S` old: then the next one includes this
    trial (with trials shorter than that, rewriting every file after each would cost more than
    the trials; the study itself records every trial at once, and the files are always rewritten
    when the loop ends, however it ends).
    A trial whose evaluation raises anything but ``KeyboardInterrupt``/``SystemExit`` (a model
    that cannot be built, training that diverges, a memory cap, a bug) is told FAIL with the
    reason (attributes ``error``, ``error_type``, ``arch``; the traceback goes to log.txt) and
    the search goes on, unless ``max_failures`` trials in a row have failed: then the results
    are written and :class:`~evolve.errors.FailuresStopped` ends the run. Ctrl-C marks the running
    trial FAIL, writes the results and returns with ``interrupted`` set.
    """
    from tqdm import tqdm

    from agents.errors import AgentError
    from evolve.engine.trial import failure_attrs, one_line
    from evolve.store import checkpoints
    from evolve.store.results import write_results

    start = time.monotonic()
    bar = tqdm(total=trials, initial=agent.n_done(), desc=desc, unit="trial", disable=not progress)
    write_results(run_dir, agent.store, objectives, reference)
    last_written = time.monotonic()
    result = LoopResult()
    failures = FailureStreak(max_failures)
    try:
        while agent.n_done() + (running_elsewhere(agent) if join else 0) < trials:
            if timeout is not None and time.monotonic() - start > timeout:
                logger.info("timeout reached after {:.0f} s", time.monotonic() - start)
                break
            proposal = agent.ask()
            logger.info("trial {} arch {}", proposal.number, dict(proposal.arch))
            outcome: TrialOutcome | None = None
            values: dict[str, float] | None = None
            error: str | None = None
            state: Literal["pruned", "complete", "fail"] = "fail"
            try:
                outcome = run_trial(proposal, functools.partial(agent.report, proposal))
                values = objective_values(outcome, objectives)
                state = "pruned" if outcome.stopped_early else "complete"
                if state == "complete" and outcome.checkpoint is not None:
                    checkpoints.save(run_dir, proposal.number, **outcome.checkpoint)
            except KeyboardInterrupt:
                attrs = failure_attrs(KeyboardInterrupt("interrupted"), proposal.arch)
                agent.tell(proposal, None, state="fail", attrs=attrs)
                raise
            except Exception as e:
                state, values = "fail", None
                error = tell_failure(agent, proposal, e)
                failures.failed(error)
            else:
                assert outcome is not None
                attrs = {**outcome.attrs, "arch": dict(proposal.arch)}
                try:
                    agent.tell(proposal, values, state=state, attrs=attrs)
                except AgentError as e:  # a malformed outcome: the agent told it FAIL itself
                    logger.warning("trial {} failed: {}", proposal.number, e)
                    state, values, error = "fail", None, one_line(e)
                    failures.failed(error)
                else:
                    failures.finished()
                    logger.info(
                        "trial {} {}: {}",
                        proposal.number,
                        state,
                        {k: round(v, 5) for k, v in outcome.values.items()},
                    )
            # the next trial starts clean: the model, optimiser and any traceback are released
            outcome = None
            release_trial_garbage(failed=state == "fail")
            if time.monotonic() - last_written >= WRITE_EVERY_S:
                summary = record(run_dir, agent, objectives, reference, bar)
                last_written = time.monotonic()
            elif callbacks or progress:  # the front for them, the files at the next write
                summary = record(run_dir, agent, objectives, reference, bar, write=False)
            if callbacks:
                event = TrialEvent.after(proposal.number, state, values, error, agent, summary)
                if any(cb(event) for cb in callbacks):
                    result.stopped_by_callback = True
                    break
            if failures.stop:
                break
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        bar.close()
    record(run_dir, agent, objectives, reference)  # the last results (also after Ctrl-C)
    failures.raise_if_stopped(run_dir)
    return result


def release_trial_garbage(*, failed: bool = False) -> None:
    """Free what a finished trial left in reference cycles before the next one starts.

    A trial's objects are young, so a collection of the two younger generations (well under a
    millisecond) frees them; a full collection walks every object the imported libraries made
    (about 0.12 s with torch, Optuna and scikit-learn loaded) and runs only after a failed trial,
    whose traceback may hold older frames.
    """
    gc.collect() if failed else gc.collect(1)


#: Seconds: the local loop rewrites ``pareto.json`` and ``trials.parquet`` after a trial only
#: when the last rewrite is at least this old (trials longer than this: after every trial).
WRITE_EVERY_S = 1.0


def record(
    run_dir: Path,
    agent: Agent,
    objectives: Sequence[Objective],
    reference: dict[str, float],
    bar: Any = None,
    *,
    write: bool = True,
) -> dict[str, Any]:
    """After a trial: rewrite the results, prune checkpoints to the front, update the bar.

    With ``write=False`` only the Pareto summary is computed (for callbacks and the bar).
    """
    from evolve.store.results import pareto_summary, write_results

    if write:
        summary = write_results(run_dir, agent.store, objectives, reference)
        prune_checkpoints(run_dir, agent, summary)
    else:
        summary = pareto_summary(agent.store, objectives, reference)
    if bar is not None:
        bar.n = agent.n_done()
        first = objectives[0]
        pick = max if first.direction == "maximize" else min
        best = pick((f["values"][first.name] for f in summary["front"]), default=float("nan"))
        bar.set_postfix({f"best_{first.name}": f"{best:.3f}", "front": len(summary["front"])})
        bar.refresh()
    return summary


def prune_checkpoints(run_dir: Path, agent: Agent, summary: dict[str, Any]) -> None:
    """Keep the front's checkpoints, and those of trials still running: a Ray worker saves its
    weights just before the trial is told, while other trials' results are being written."""
    from evolve.store import checkpoints

    running = agent.store.trials(("running", "waiting"))
    keep = {f["trial"] for f in summary["front"]} | {t.number for t in running}
    checkpoints.prune(run_dir, keep=keep)


def running_elsewhere(agent: Agent) -> int:
    """Trials other processes are running on a shared study (they will count when done)."""
    return agent.store.n_running()
