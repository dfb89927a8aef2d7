"""Run an agent's search on a Ray cluster with Ray Tune: many trials at once, one study.

The agent stays the single source of proposals and the study the single record.
Ray Tune only schedules: :class:`AgentSearcher` is a Tune ``Searcher`` that asks the agent for
each new trial (an ask/tell adapter, so the study's own sampler, objectives and constraints are
used unchanged), and :class:`AgentStopper` is a Tune scheduler that feeds every per-epoch result
to :meth:`Agent.report` and stops the trial when the agent's multi-objective early stopping
says so. The searcher tells the agent how each Tune trial ended:

* the trainable's final report (``FINAL_KEY`` set) → ``complete`` with its values;
* stopped by :class:`AgentStopper` → ``pruned`` with the last epoch's values (never
  ``complete`` with partial metrics, the trap of Tune's own schedulers with ``OptunaSearch``);
* an error after Tune's retries (``max_retries``; a worker process that dies counts as an
  error) → ``fail`` with the reason;
* a final report whose attributes hold ``error`` (the trainable caught its candidate's
  exception) → ``fail`` with those attributes; the traceback it may carry
  (:data:`TRACEBACK_KEY`) goes to :attr:`TrialEnd.traceback`, not into the study.

``on_end`` may return True to halt the search (e.g. too many failures in a row): no new trial
starts, the running ones finish and are told as usual, then :func:`run_with_ray` returns.

Every callback runs in the driver process, so the agent needs no locking. The trainable runs in
Ray workers and must not touch the agent: it reports per-epoch metrics and then one final
report holding ``values`` and ``attrs`` as JSON text (see :func:`final_report`).

This module imports Ray Tune; ``import agents`` does not import it (nor does anything else that
does not run on Ray).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from agents.base import Agent, Proposal
from agents.errors import AgentError

__all__ = [
    "FINAL_KEY",
    "METRIC_PREFIX",
    "RAY_ENV",
    "TRACEBACK_KEY",
    "AgentSearcher",
    "AgentStopper",
    "RayOptions",
    "TrialEnd",
    "epoch_report",
    "final_report",
    "run_with_ray",
]

#: Marks the trainable's last report, which carries the trial's outcome.
FINAL_KEY = "evolve_final"
#: A failed final report's attribute holding the worker's traceback (logged, not stored).
TRACEBACK_KEY = "traceback"
#: Per-epoch metrics travel as ``m_<name>`` keys (Tune adds its own keys to every result).
METRIC_PREFIX = "m_"
#: The environment Ray needs on these machines: no usage stats, loopback only
#: unless a cluster says otherwise, and an explicit auth mode (a stale token file otherwise
#: breaks connections). Set for the driver and for a local cluster it starts.
RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_AIR_NEW_OUTPUT": "0",  # no experiment banner on stdout: the search prints its own
}


@dataclass(frozen=True)
class RayOptions:
    """How to use Ray.

    Attributes:
        workers: trials running at once (>= 1).
        cpus_per_trial, gpus_per_trial: resources Ray reserves for each trial.
        address: ``None`` starts a local Ray instance on 127.0.0.1 for this search; ``"auto"``
            joins the cluster this machine belongs to; ``"HOST:PORT"`` joins that head node.
        max_retries: times Tune restarts a trial whose worker failed before it is told FAIL.
        storage_path: folder for Tune's own experiment files (results, error logs).
    """

    workers: int = 2
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    address: str | None = None
    max_retries: int = 1
    storage_path: Path | None = None

    def validate(self) -> None:
        """Checks the options.

        Raises:
            AgentError: One line naming the option (by its attribute name) and what it needs.
        """
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise AgentError(f"workers must be an integer >= 1, got {self.workers!r}")
        if not self.cpus_per_trial > 0:
            raise AgentError(f"cpus_per_trial must be > 0, got {self.cpus_per_trial}")
        if self.gpus_per_trial < 0:
            raise AgentError(f"gpus_per_trial must be >= 0, got {self.gpus_per_trial}")
        if self.max_retries < 0:
            raise AgentError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.address not in (None, "auto") and not _host_port(self.address):
            raise AgentError(
                f"Ray address {self.address!r}: give auto or HOST:PORT of the head node "
                "(e.g. 10.0.0.5:6379)"
            )


def _host_port(address: str | None) -> bool:
    if not address or ":" not in address:
        return False
    host, _, port = address.rpartition(":")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536


@dataclass
class TrialEnd:
    """How one trial ended, as the searcher tells it to the agent (and to the caller)."""

    proposal: Proposal
    state: str  # "complete" | "pruned" | "fail"
    values: dict[str, float] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None  # the worker's, for a candidate that raised


def final_report(values: Mapping[str, float], attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The trainable's last ``tune.report`` payload: outcome values and attributes as JSON."""
    return {
        FINAL_KEY: 1,
        "values_json": json.dumps(dict(values)),
        "attrs_json": json.dumps(dict(attrs), default=str),
    }


def epoch_report(epoch: int, values: Mapping[str, float]) -> dict[str, Any]:
    """A per-epoch ``tune.report`` payload: the epoch and ``m_``-prefixed metrics."""
    return {"epoch": int(epoch), **{METRIC_PREFIX + k: float(v) for k, v in values.items()}}


def _epoch_values(result: Mapping[str, Any]) -> dict[str, float]:
    """The metrics of a per-epoch Tune result (Tune adds its own bookkeeping keys)."""
    out: dict[str, float] = {}
    for key, value in result.items():
        if not key.startswith(METRIC_PREFIX):
            continue
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            out[key[len(METRIC_PREFIX) :]] = float(value)
    return out


@dataclass
class _Shared:
    """What the searcher and the scheduler share, in the driver process only."""

    agent: Agent
    n_trials: int
    deadline: float | None
    on_end: Callable[[TrialEnd], bool | None]
    halted: bool = False  # on_end said stop: no new trials
    proposals: dict[str, Proposal] = field(default_factory=dict)
    stopped: set[str] = field(default_factory=set)
    last: dict[str, dict[str, float]] = field(default_factory=dict)
    error_logs: str = "Ray Tune's experiment folder"  # where Tune writes a failed worker's log


class _DriverOnly:
    """Tune pickles its search algorithm and scheduler with the experiment state; the agent (an
    open storage) must not travel. Unpickled copies are inert: resuming is the study's job."""

    _shared: _Shared | None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_shared"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


class AgentSearcher(_DriverOnly, Searcher):
    """Tune searcher that asks the agent; ends when the study has ``n_trials`` done."""

    def __init__(self, shared: _Shared) -> None:
        super().__init__(metric=None, mode=None)
        self._shared = shared

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        sh = self._shared
        if sh is None:
            return Searcher.FINISHED
        busy = bool(sh.proposals)
        if (
            sh.halted
            or sh.agent.n_done() + len(sh.proposals) >= sh.n_trials
            or (sh.deadline is not None and time.monotonic() > sh.deadline)
        ):
            return None if busy else Searcher.FINISHED
        proposal = sh.agent.ask()
        sh.proposals[trial_id] = proposal
        return {"number": proposal.number, "arch": dict(proposal.arch)}

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        return None

    def save(self, checkpoint_path: str) -> None:
        """Nothing to save: the study is the search's state (an agent with ``resume=True``
        reads it)."""

    def restore(self, checkpoint_path: str) -> None:
        """Nothing to restore (see :meth:`save`)."""

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        sh = self._shared
        if sh is None:
            return
        proposal = sh.proposals.pop(trial_id, None)
        if proposal is None:
            return
        end = _ending(sh, proposal, trial_id, result, error)
        try:
            sh.agent.tell(
                proposal,
                end.values or None,
                state=end.state,  # type: ignore[arg-type]
                attrs=end.attrs,
            )
        except AgentError as e:  # a malformed outcome is told FAIL by the agent itself
            end = TrialEnd(proposal, "fail", error=str(e))
        if sh.on_end(end):
            sh.halted = True


def _ending(
    sh: _Shared,
    proposal: Proposal,
    trial_id: str,
    result: Mapping[str, Any] | None,
    error: bool,
) -> TrialEnd:
    if result and result.get(FINAL_KEY):
        values = json.loads(result["values_json"])
        attrs = json.loads(result["attrs_json"])
        if attrs.get("error"):  # the trainable caught it: a bad candidate, not a bad worker
            trace = attrs.pop(TRACEBACK_KEY, None)
            return TrialEnd(proposal, "fail", {}, attrs, error=str(attrs["error"]), traceback=trace)
        state = "pruned" if attrs.get("stopped_early") else "complete"
        return TrialEnd(proposal, state, values, attrs)
    if trial_id in sh.stopped:
        last = sh.last.get(trial_id, {})
        attrs = {"stopped_by": "ray"}
        if "data_fraction" in last:  # as the local loop records it: its last epoch's share
            attrs["data_fraction"] = last["data_fraction"]
        return TrialEnd(proposal, "pruned", last, attrs)
    reason = f"the Ray worker failed (see {sh.error_logs} for the error log)"
    if not error:
        reason = "the trial ended without a final report"
    attrs = {
        "error": reason,
        "error_type": "RayWorkerError" if error else "NoFinalReport",
        "arch": dict(proposal.arch),
    }
    return TrialEnd(proposal, "fail", {}, attrs, error=reason)


class AgentStopper(_DriverOnly, FIFOScheduler):
    """FIFO scheduling; each epoch result goes to ``agent.report``, which may stop the trial."""

    def __init__(self, shared: _Shared) -> None:
        super().__init__()
        self._shared = shared

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        sh = self._shared
        if sh is None or result.get(FINAL_KEY):
            return str(TrialScheduler.CONTINUE)
        proposal = sh.proposals.get(trial.trial_id)
        epoch = result.get("epoch")
        if proposal is None or not isinstance(epoch, int):
            return str(TrialScheduler.CONTINUE)
        values = _epoch_values(result)
        sh.last[trial.trial_id] = values
        try:
            stop = sh.agent.report(proposal, epoch, values)
        except AgentError:  # a repeated epoch after a retry: keep the first curve
            return str(TrialScheduler.CONTINUE)
        if stop:
            sh.stopped.add(trial.trial_id)
            return str(TrialScheduler.STOP)
        return str(TrialScheduler.CONTINUE)


def run_with_ray(
    agent: Agent,
    trainable: Callable[..., None],
    *,
    n_trials: int,
    options: RayOptions,
    on_end: Callable[[TrialEnd], bool | None],
    timeout: float | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> None:
    """Run trials on Ray until the study has ``n_trials`` finished (complete or pruned) ones.

    Args:
        agent: the agent (its store is the record); only used in this process.
        trainable: Tune function trainable ``f(config, **parameters)``; ``config`` holds
            ``number`` (the study's trial number) and ``arch``. It reports
            ``tune.report(epoch_report(i, metrics))`` after each epoch and ends with
            ``tune.report(final_report(values, attrs))``.
        n_trials: finished trials to reach (trials finished before this call count).
        options: workers, resources, cluster address, retries.
        on_end: called in this process after each trial is told (results, checkpoints, bars);
            returning True halts the search (running trials finish, no new one starts).
        timeout: seconds after which no new trial starts.
        parameters: large objects (data sets) put once in Ray's object store and passed to
            every trainable call (``tune.with_parameters``).

    Raises:
        AgentError: bad options, or a cluster that cannot be reached.
    """
    options.validate()
    for key, value in RAY_ENV.items():
        os.environ.setdefault(key, value)
    import ray
    from ray import tune

    started_here = False
    if not ray.is_initialized():
        try:
            if options.address is None:
                ray.init(
                    address="local",
                    num_cpus=max(1, math.ceil(options.workers * options.cpus_per_trial)),
                    num_gpus=math.ceil(options.workers * options.gpus_per_trial) or None,
                    include_dashboard=False,
                    _node_ip_address="127.0.0.1",
                    log_to_driver=False,
                    configure_logging=False,
                )
            else:
                ray.init(address=options.address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = options.address or "a local instance"
            raise AgentError(
                f"cannot start or join Ray at {where}: {str(e).splitlines()[0]}; "
                "start the head with `ray start --head` or check the address"
            ) from None
        started_here = True
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        shared = _Shared(agent, n_trials, deadline, on_end)
        if options.storage_path is not None:
            shared.error_logs = str(Path(options.storage_path) / "tune")
        searcher, stopper = AgentSearcher(shared), AgentStopper(shared)
        fn = tune.with_parameters(trainable, **dict(parameters or {}))
        resources = {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial}
        tuner = tune.Tuner(
            tune.with_resources(fn, resources),
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                scheduler=stopper,
                num_samples=-1,
                max_concurrent_trials=options.workers,
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name="tune",
                storage_path=str(options.storage_path) if options.storage_path else None,
                failure_config=tune.FailureConfig(max_failures=options.max_retries),
                verbose=0,
                log_to_file=True,
            ),
        )
        tuner.fit()
    finally:
        if started_here:
            ray.shutdown()
