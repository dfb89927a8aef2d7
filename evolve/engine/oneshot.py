"""One-shot search (``agent="oneshot"``): a weight-sharing supernet, NSGA-II inside it, the
front retrained from scratch.

Three phases, each resumable:

1. **Supernet** (:func:`evolve.engine.inherited.train_supernets`): one
   :class:`snn_models.supernet.SuperNet` per structure the space proposes (kind, depth,
   BatchNorm, input shape, a transformer's patch; built when first sampled, as wide as the
   space's widest layers and model width, a transformer's holding one set of attention weights
   per attention type the space proposes in each block), trained for the run's ``epochs`` passes
   over the training split (and at least :data:`~evolve.engine.inherited.MIN_SUPERNET_STEPS`
   mini-batches) with uniform path sampling: every mini-batch runs one candidate drawn from the
   space by a seeded :class:`search_spaces.suggesters.RandomSuggester` (its neuron types,
   thresholds, decays, resets, timesteps, encoder, heads, the leading slice of each layer's
   width and of the model width, and each block's attention type's weights;
   Adam at the space's default ``lr``, no distillation). Saved as ``supernet.pt`` (state dicts
   by structure) and ``supernet.json`` (the widest spec of each, the steps taken); a resume
   loads them.
2. **Inherited search** (:func:`evolve.engine.inherited.evaluate_inherited`): the agent's own
   class opens a second study, ``<study>-supernet``, in the same storage, and runs ``trials``
   NSGA-II proposals on inherited weights, without training: BatchNorm statistics recalibrated
   on :data:`~evolve.engine.inherited.BN_CALIBRATION_BATCHES` training batches, then validation
   accuracy and the energy measured from the candidate's real spikes on at most
   :data:`~evolve.engine.inherited.INHERITED_EVAL_SAMPLES` validation samples. Its
   ``pareto.json`` and ``trials.parquet`` go to ``supernet/`` in the run folder; each trial has
   ``phase: inherited``.
3. **Retrain**: the inherited front (at most ``retrain_top`` distinct architectures, default
   :data:`RETRAIN_TOP`, most accurate first; NSGA-II may propose one twice) is retrained from
   scratch with the normal trial (:func:`evolve.engine.trial.evaluate_trial`: the candidate's
   own ``lr``, distillation, selection) as the trials of the run's study, so the run's front,
   checkpoints, reports and exports are real trained models. Each carries ``phase:
   retrained``, ``inherited_trial`` and ``inherited_accuracy``; they are trained to the end (an early stopper's verdicts are
   recorded, not applied). ``oneshot.json`` gives the rank correlation of inherited with
   retrained accuracy over the complete retrained trials (Kendall tau, Spearman rho, their
   p-values) and the ``retrain_top`` used.

A resume skips a trained supernet, continues the inherited study to ``trials``, and retrains
the members of its front not yet retrained (a retrain that failed is not retried); it may
raise or lower ``retrain_top`` (not given: the value the run's ``config.yaml`` records). The
run's ``timeout`` bounds the inherited search; ``callbacks`` see the retrained trials.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolve.engine.inherited import (
    SUPERNET_FILE,
    SUPERNET_META,
    SuperNets,
    evaluate_inherited,
    train_supernets,
)
from evolve.errors import UserError
from evolve.store.runlog import logger
from snn_models.supernet import SHARED_KINDS, shared_kinds_text

if TYPE_CHECKING:
    from agents import Agent, Objective, Proposal, RunStore, TrialRecord, TrialStateName
    from evolve.data.datasets import Dataset
    from evolve.engine.loop import Callback, LoopResult
    from evolve.engine.trial import ReportFn, TrialOutcome, TrialSettings
    from search_spaces import SearchSpace

__all__ = [
    "ONESHOT_FILE",
    "RETRAIN_TOP",
    "check_agent_settings",
    "check_oneshot",
    "check_retrain_top",
    "rank_agreement",
    "run_oneshot",
    "search_loop",
]

ONESHOT_FILE = "oneshot.json"
INHERITED_DIR = "supernet"  # the inherited search's pareto.json and trials.parquet
INHERITED_SUFFIX = "-supernet"  # the inherited study's name: <study>-supernet
RETRAIN_TOP = 8  # inherited-front trials retrained at most


def space_kinds(space: SearchSpace) -> tuple[str, ...]:
    """The network kinds ``space`` can propose (its fixed kind or its ``kind`` choices)."""
    if "kind" in space.fixed:
        return (str(space.fixed["kind"]),)
    dim = space.dimensions.get("kind")
    return tuple(str(c) for c in getattr(dim, "choices", ())) if dim is not None else ()


def check_oneshot(
    space: SearchSpace,
    *,
    backend: str,
    join: bool,
    proxy_filter: Any,
    fidelity_resource: str = "epochs",
) -> None:
    """Refuse, before any trial, what the one-shot agent does not support.

    Raises:
        UserError: a space proposing a kind no supernet holds, the Ray backend, ``join``, a
            proxy filter, or data fractions as the fidelity (the front is retrained on all of
            the training data).
    """
    kinds = space_kinds(space)
    other = [k for k in kinds if k not in SHARED_KINDS] or ([] if kinds else ["(none)"])
    if other:
        raise UserError(
            f"agent oneshot supports kind {shared_kinds_text()} (space {space.name!r} "
            f"proposes {', '.join(other)}); use agent optuna for {space.name}"
        )
    if backend != "local":
        raise UserError("agent oneshot runs on the local backend; leave out backend 'ray'")
    if join:
        raise UserError("agent oneshot trains its supernet in one process; leave out join")
    if proxy_filter is not None:
        raise UserError("agent oneshot scores candidates on its supernet; leave out proxy_filter")
    if fidelity_resource != "epochs":
        raise UserError(
            "agent oneshot retrains its front on all of the training data; leave out "
            f"fidelity_resource {fidelity_resource!r}"
        )


def check_retrain_top(retrain_top: Any, *, agent: str | None = None) -> None:
    """Refuse a bad ``retrain_top`` (not an integer >= 1), or one given with an ``agent``
    that does not share weights (None: not checked).

    Raises:
        UserError: one line naming the setting and the fix.
    """
    if retrain_top is None:
        return
    if isinstance(retrain_top, bool) or not isinstance(retrain_top, int) or retrain_top < 1:
        raise UserError(f"retrain_top must be an integer >= 1, got {retrain_top!r}")
    if agent is not None and not is_oneshot(agent):
        raise UserError(
            f"retrain_top applies to agent oneshot only (this run's agent is {agent}); leave it out"
        )


def _arch_key(arch: Mapping[str, Any]) -> str:
    return json.dumps(dict(arch), sort_keys=True)


class _Retrain:
    """The run's agent, asked for the inherited front in order: each :meth:`ask` enqueues the
    next one's parameters, so the trial it hands out is that candidate."""

    def __init__(self, agent: Agent, pending: Sequence[TrialRecord]) -> None:
        self._agent = agent
        self._pending = list(pending)
        self._of: dict[int, TrialRecord] = {}
        self.asked = 0

    @property
    def store(self) -> RunStore:
        return self._agent.store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._agent, name)

    def n_done(self) -> int:
        """Retrains handed out in this phase (the loop runs one per inherited-front trial)."""
        return self.asked

    def pareto_trials(self) -> list[TrialRecord]:
        return self._agent.pareto_trials()

    def ask(self) -> Proposal:
        record = self._pending.pop(0)
        self._agent.study.enqueue_trial(dict(record.params))  # type: ignore[attr-defined]
        proposal = self._agent.ask()
        self._of[proposal.number] = record
        self.asked += 1
        return proposal

    def report(self, proposal: Proposal, epoch: int, values: Mapping[str, float]) -> bool:
        self._agent.report(proposal, epoch, values)  # the curve is recorded
        return False  # the front is retrained to the end

    def tell(
        self,
        proposal: Proposal,
        values: Mapping[str, float] | None,
        *,
        state: TrialStateName = "complete",
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        record = self._of.pop(proposal.number)
        extra = {
            "phase": "retrained",
            "inherited_trial": record.number,
            "inherited_accuracy": (record.values or {}).get("accuracy"),
        }
        self._agent.tell(proposal, values, state=state, attrs={**(attrs or {}), **extra})


def rank_agreement(
    run_dir: Path, store: RunStore, supernet_info: Mapping[str, Any], retrain_top: int = RETRAIN_TOP
) -> dict[str, Any]:
    """``oneshot.json``: Kendall tau and Spearman rho (with p-values) of inherited against
    retrained accuracy over the complete retrained trials (None below two pairs or for a
    constant list), and the ``retrain_top`` the run used."""
    from scipy.stats import kendalltau, spearmanr

    from evolve.store.runfolder import write_json

    pairs = [
        {
            "trial": t.number,
            "inherited_trial": t.attrs["inherited_trial"],
            "inherited_accuracy": t.attrs.get("inherited_accuracy"),
            "retrained_accuracy": (t.values or {}).get("accuracy"),
        }
        for t in store.trials(("complete",))
        if "inherited_trial" in t.attrs
    ]
    pairs = [
        p
        for p in pairs
        if p["inherited_accuracy"] is not None and p["retrained_accuracy"] is not None
    ]
    xs = [float(p["inherited_accuracy"]) for p in pairs]
    ys = [float(p["retrained_accuracy"]) for p in pairs]

    def finite(v: float) -> float | None:
        return float(v) if math.isfinite(v) else None

    stats: dict[str, float | None] = dict.fromkeys(
        ("kendall_tau", "kendall_p", "spearman_rho", "spearman_p")
    )
    if len(pairs) >= 2 and len(set(xs)) > 1 and len(set(ys)) > 1:
        tau, rho = kendalltau(xs, ys), spearmanr(xs, ys)
        stats = {
            "kendall_tau": finite(tau.statistic),
            "kendall_p": finite(tau.pvalue),
            "spearman_rho": finite(rho.statistic),
            "spearman_p": finite(rho.pvalue),
        }
    summary = {
        "n": len(pairs),
        **stats,
        "retrain_top": int(retrain_top),
        "pairs": pairs,
        "supernet": dict(supernet_info),
    }
    write_json(run_dir / ONESHOT_FILE, summary)
    return summary


def is_oneshot(agent_name: str) -> bool:
    """Whether the agent ``agent_name`` of :data:`agents.AGENTS` asks for weight sharing."""
    from agents import AGENTS

    return bool(getattr(AGENTS[agent_name](), "weight_sharing", False))


def check_agent_settings(cfg: Any, space: SearchSpace, *, join: bool) -> None:
    """For a weight-sharing agent, :func:`check_oneshot` on the run's settings (``cfg``: a
    :class:`~evolve.config.SearchConfig`); nothing for the others."""
    if is_oneshot(cfg.agent):
        check_oneshot(
            space,
            backend=cfg.backend,
            join=join,
            proxy_filter=cfg.proxy_filter,
            fidelity_resource=cfg.fidelity_resource,
        )


def search_loop(
    cfg: Any,
    space: SearchSpace,
    data: Dataset,
    settings: TrialSettings,
    objectives: Sequence[Objective],
    constraints: Sequence[Any],
) -> Callable[..., LoopResult]:
    """The loop a run's agent calls for, with :func:`evolve.engine.loop.run_loop`'s arguments:
    ``run_loop`` itself, or for a weight-sharing agent :func:`run_oneshot` with the inherited
    study opened by the same agent class on the same storage (``cfg``: the run's
    :class:`~evolve.config.SearchConfig`, whose ``retrain_top`` None means
    :data:`RETRAIN_TOP`)."""
    from agents import make_agent
    from evolve.engine.loop import run_loop

    if not is_oneshot(cfg.agent):
        return run_loop

    def open_inherited(study_name: str) -> Agent:
        return make_agent(
            cfg.agent,
            space=space,
            objectives=objectives,
            storage=cfg.storage,
            study_name=study_name,
            sampler=cfg.sampler,
            seed=cfg.seed,
            constraints=list(constraints),
            resume=True,
        )

    def loop(agent: Agent, *, join: bool = False, **kwargs: Any) -> LoopResult:
        top = cfg.retrain_top or RETRAIN_TOP
        return run_oneshot(
            agent,
            make_agent=open_inherited,
            space=space,
            data=data,
            settings=settings,
            epochs=int(cfg.epochs),
            seed=int(cfg.seed),
            retrain_top=top,
            **kwargs,
        )

    return loop


def _front_to_retrain(front: Sequence[TrialRecord], top: int) -> list[TrialRecord]:
    """The inherited front, most accurate first, each architecture once, at most ``top`` of
    them."""
    chosen: list[TrialRecord] = []
    for t in sorted(front, key=lambda t: -(t.values or {}).get("accuracy", 0)):
        if len(chosen) < top and _arch_key(t.arch) not in {_arch_key(f.arch) for f in chosen}:
            chosen.append(t)
    return chosen


def run_oneshot(
    agent: Agent,
    *,
    make_agent: Callable[[str], Agent],
    space: SearchSpace,
    data: Dataset,
    settings: TrialSettings,
    run_trial: Callable[[Proposal, ReportFn], TrialOutcome],
    trials: int,
    epochs: int,
    seed: int,
    timeout: float | None,
    max_failures: int,
    objectives: Sequence[Objective],
    reference: dict[str, float],
    run_dir: Path,
    desc: str,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
    retrain_top: int = RETRAIN_TOP,
) -> LoopResult:
    """The three phases (module docstring). ``make_agent(study_name)`` opens the inherited
    study (this agent's class, same storage, created or resumed); ``run_trial`` is the run's
    normal trial; at most ``retrain_top`` architectures of the inherited front are
    retrained."""
    from evolve.engine.loop import LoopResult, run_loop

    if (run_dir / SUPERNET_FILE).exists() and (run_dir / SUPERNET_META).exists():
        nets = SuperNets.load(run_dir, space, data, seed)
        logger.info("supernet: loaded {} ({} structures)", SUPERNET_FILE, len(nets.nets))
    else:
        lr = float(space.default().get("lr", settings.lr))
        try:
            nets = train_supernets(space, data, epochs=epochs, seed=seed, lr=lr)
        except KeyboardInterrupt:  # nothing saved: a resume trains the supernet anew
            logger.info("supernet training interrupted")
            return LoopResult(interrupted=True)
        nets.save(run_dir)
        logger.info(
            "supernet: {} steps over {} structures in {:.1f} s",
            nets.steps,
            len(nets.nets),
            nets.seconds,
        )
    inherited = make_agent(f"{run_dir.name}{INHERITED_SUFFIX}")
    (run_dir / INHERITED_DIR).mkdir(exist_ok=True)

    def inherit(proposal: Proposal, report: ReportFn) -> TrialOutcome:
        return evaluate_inherited(proposal.arch, nets, settings)

    try:
        result = run_loop(
            inherited,
            trials=trials,
            timeout=timeout,
            max_failures=max_failures,
            objectives=objectives,
            reference=reference,
            run_dir=run_dir / INHERITED_DIR,
            run_trial=inherit,
            desc=f"{desc} (inherited weights)",
            progress=progress,
        )
        front = _front_to_retrain(inherited.pareto_trials(), retrain_top)
    finally:
        close = getattr(inherited, "close", None)
        if callable(close):
            close()
    if result.interrupted or result.stopped_by_callback:
        return result
    # NSGA-II may propose one architecture twice: each is retrained once
    done = {_arch_key(t.arch) for t in agent.store.trials() if "inherited_trial" in t.attrs}
    pending = [t for t in front if _arch_key(t.arch) not in done]
    logger.info("retraining {} of the inherited front's {} trials", len(pending), len(front))
    result = run_loop(
        _Retrain(agent, pending),
        trials=len(pending),
        timeout=None,
        max_failures=max_failures,
        objectives=objectives,
        reference=reference,
        run_dir=run_dir,
        run_trial=run_trial,
        desc=f"{desc} (retraining the front)",
        progress=progress,
        callbacks=callbacks,
    )
    rank_agreement(
        run_dir,
        agent.store,
        {
            "steps": nets.steps,
            "seconds": round(nets.seconds, 3),
            "structures": sorted(nets.nets),
            "inherited_trials": trials,
        },
        retrain_top,
    )
    return result
