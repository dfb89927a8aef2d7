"""The Optuna agent: ask/tell over a persistent study, samplers by name, our own early stopping.

The study in the storage is the single record of the search; the engine reads it
through :attr:`OptunaAgent.store` (an :class:`~agents.optuna_store.OptunaStore` of
:class:`~agents.records.TrialRecord`\\s). Every trial carries
its architecture (user attribute ``arch``), its learning curve (``curve``), the metrics it was
told (``metrics``) and whatever diagnostics the caller adds. Under constraints it also carries its
constraint values: Optuna's ``Trial.set_constraint`` (read by the samplers), the user attribute
``constraint_values`` (one ``value - upper_bound`` per constraint, in order; feasible when all are
<= 0) and ``feasible``. The study carries ``objectives``, ``constraints`` and ``space``.

Resume (``resume=True`` on an existing study): the objectives (names and directions), the
constraints and the space name must match what the study recorded, else :class:`AgentError`.
A study with no recorded objectives and no trial, whose directions are ours, is one whose
creation was interrupted (a crash between creating it and recording its attributes): resuming
finishes its record.
Thresholds may change (they only set the hypervolume reference) and are updated. Trials left
RUNNING by a crashed process are told FAIL by :meth:`OptunaAgent.recover_stale_trials`, which the
constructor calls; their numbers are in ``agent.recovered_on_resume`` (to log) and in the study
attribute ``recovered_stale_trials``. So only resume a study no other worker is writing to.
``resume=True`` on a study that does not exist yet simply creates it.

Example:
    >>> from agents import parse_objectives
    >>> class Toy:
    ...     name = "toy"
    ...     def sample(self, trial):
    ...         return {"timesteps": trial.suggest_int("timesteps", 1, 8)}
    >>> agent = OptunaAgent(
    ...     space=Toy(), objectives=parse_objectives("accuracy,energy"),
    ...     storage=None, study_name="demo", sampler="random", seed=0)
    >>> proposal = agent.ask()
    >>> agent.tell(proposal, {"accuracy": 0.9, "energy_uj": 0.1 * proposal.arch["timesteps"]})
    >>> agent.n_done(), len(agent.pareto_trials())
    (1, 1)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from agents.base import Proposal, SearchSpaceLike, TrialStateName
from agents.early_stopping import CURVE_ATTR
from agents.errors import AgentError
from agents.fidelity import FIDELITY_ATTRS, EarlyStopper
from agents.objectives import Constraint, Objective
from agents.optuna_store import OptunaStore
from agents.optuna_study import open_study
from agents.pareto import hypervolume
from agents.records import TrialRecord
from agents.samplers import resolve_sampler_name

# where they were first defined: still importable from here
from agents.storage import (
    JOURNAL_SUFFIXES,
    SCHEMA_RACE_ATTEMPTS,
    close_storage,
    describe_storage,
    open_storage,
    set_user_attrs,
    with_trial_cache,
)

__all__ = [
    "JOURNAL_SUFFIXES",
    "RESERVED_ATTRS",
    "SCHEMA_RACE_ATTEMPTS",
    "OptunaAgent",
    "describe_storage",
    "open_storage",
]

#: Trial user attributes that ``tell(attrs=...)`` may not set: the early-stopping history (the
#: curve, and a scheduler's rungs: :data:`agents.fidelity.FIDELITY_ATTRS`).
#: (Other keys the agent writes in ``tell``, ``metrics``, ``constraint_values``, ``feasible`` and
#: ``fail_reason``, are written after ``attrs`` and win; ``arch`` is written by ``ask``.)
RESERVED_ATTRS = frozenset({CURVE_ATTR, *FIDELITY_ATTRS})

_STATES: dict[str, TrialState] = {
    "complete": TrialState.COMPLETE,
    "pruned": TrialState.PRUNED,
    "fail": TrialState.FAIL,
}
_COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)


def _json_problem(label: str, value: object) -> str | None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as error:
        return f"{label} is not JSON-serialisable ({error})"
    return None


def _as_float(value: object) -> float | None:
    """``value`` as a float, or None when it is not a real number (bools and NaN excluded)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return None if math.isnan(number) else number


class OptunaAgent:
    """Explores a search space with an Optuna study, in ask/tell form.

    Args:
        space: The search space (``space.sample(trial)`` → ``ArchSpec``; ``space.name``).
        objectives: What to optimise, in order (study directions follow them).
        storage: An Optuna storage URL (``sqlite:////abs/path/study.db``, ``postgresql://...``),
            a storage object (e.g. a ``JournalStorage`` for several processes), or ``None`` for
            memory.
        study_name: The study's name in the storage.
        sampler: ``"auto"`` (NSGA-II for several objectives, TPE for one) or a name from
            :data:`agents.samplers.SAMPLERS`.
        seed: Seeds the sampler (``None``: not reproducible).
        constraints: Inclusive upper bounds; a trial above one is infeasible.
        resume: Continue an existing study instead of refusing it (its RUNNING trials are
            stale: told FAIL).
        join: Work on a study other processes may be running right now: open it if it exists
            (or create it), leave RUNNING trials alone.
        early_stopper: Decides from the reported curves when a trial should stop (the
            domination stopper or a multi-fidelity scheduler, :mod:`agents.fidelity`).
        population_size: NSGA-II generation size (keep it small for small budgets).

    Raises:
        StudyExistsError: The study exists and ``resume`` is False.
        AgentError: An unknown sampler, an empty or repeated objective, a storage that cannot be
            opened, or a resumed study recorded with other objectives, constraints or space.
    """

    def __init__(
        self,
        *,
        space: SearchSpaceLike,
        objectives: Sequence[Objective],
        storage: str | optuna.storages.BaseStorage | None,
        study_name: str,
        sampler: str = "auto",
        seed: int | None = 0,
        constraints: Sequence[Constraint] = (),
        resume: bool = False,
        early_stopper: EarlyStopper | None = None,
        population_size: int = 8,
        join: bool = False,
    ) -> None:
        if not objectives:
            raise AgentError("at least one objective is needed, e.g. parse_objectives('accuracy')")
        names = [objective.name for objective in objectives]
        if len(set(names)) != len(names):
            raise AgentError(f"objectives repeat a name: {', '.join(names)}")
        constraint_names = [constraint.name for constraint in constraints]
        if len(set(constraint_names)) != len(constraint_names):
            raise AgentError(f"constraints repeat a name: {', '.join(constraint_names)}")
        if not study_name:
            raise AgentError("the study needs a non-empty name (study_name)")

        self._space = space
        self._objectives = tuple(objectives)
        self._constraints = tuple(constraints)
        self._early_stopper = early_stopper
        self._open: dict[int, Proposal] = {}
        self._live: dict[int, optuna.trial.Trial] = {}  # the Optuna trial of each open proposal
        # a scheduler's rung history of each open trial, written once when it is told
        self._rungs: dict[int, dict[str, Any]] = {}
        self.sampler_name = resolve_sampler_name(sampler, len(self._objectives))

        # the study and the store share it
        backend = with_trial_cache(open_storage(storage, writer=True))
        self._study, existed = open_study(
            backend,
            storage=storage,
            study_name=study_name,
            space=self._space,
            objectives=self._objectives,
            constraints=self._constraints,
            sampler_name=self.sampler_name,
            seed=seed,
            population_size=population_size,
            resume=resume,
            join=join,
        )
        self.recovered_on_resume: list[int] = []
        """Numbers of the stale trials the constructor told FAIL on resume (for the run log)."""
        # joining a study another process runs: its RUNNING trials are alive, not stale
        if existed and not join:
            self.recovered_on_resume = self.recover_stale_trials()
        self._store = OptunaStore(
            backend, study_name, objectives=self._objectives, constraints=self._constraints
        )

    def close(self) -> None:
        """Closes the study's database connections (:func:`agents.storage.close_storage`);
        the agent is not used afterwards. Trials still open stay RUNNING (a resume marks them
        failed)."""
        close_storage(self._study._storage)

    # -- what the study holds ---------------------------------------------------------------

    @property
    def study(self) -> optuna.Study:
        """The Optuna study (for optuna-dashboard and plots; not part of :class:`agents.Agent`:
        read trials through :attr:`store`)."""
        return self._study

    @property
    def store(self) -> OptunaStore:
        """The study's trials as :class:`~agents.records.TrialRecord`\\s (live, read only)."""
        return self._store

    @property
    def objectives(self) -> tuple[Objective, ...]:
        """The objectives, in the study's order."""
        return self._objectives

    @property
    def constraints(self) -> tuple[Constraint, ...]:
        """The constraints."""
        return self._constraints

    @property
    def early_stopper(self) -> EarlyStopper | None:
        """The early-stopping rule, if any."""
        return self._early_stopper

    def n_done(self) -> int:
        """Trials that count toward the budget: COMPLETE and PRUNED (FAIL does not count)."""
        return len(self._study.get_trials(deepcopy=False, states=_COUNTED))

    def objective_values(self, trial: TrialRecord | FrozenTrial) -> dict[str, float]:
        """A complete trial's values by objective name (empty for other states)."""
        if isinstance(trial, TrialRecord):
            return dict(trial.values or {})
        if trial.values is None:
            return {}
        return {o.name: v for o, v in zip(self._objectives, trial.values, strict=True)}

    def pareto_trials(self) -> list[TrialRecord]:
        """COMPLETE, feasible, non-dominated trials with finite values, by trial number.

        Never pruned trials. The same as ``self.store.pareto()``.
        """
        return self._store.pareto()

    @property
    def best_trials(self) -> list[TrialRecord]:
        """Same as :meth:`pareto_trials`."""
        return self.pareto_trials()

    def hypervolume(self, reference: Sequence[float] | None = None) -> float:
        """Hypervolume of the current front.

        Args:
            reference: The reference point in objective order; defaults to the objectives'
                thresholds.

        Returns:
            The hypervolume (0.0 for an empty front).

        Raises:
            AgentError: When no reference is given and an objective has no threshold.
        """
        if reference is None:
            missing = [o.name for o in self._objectives if o.threshold is None]
            if missing:
                raise AgentError(
                    f"no hypervolume reference for {', '.join(missing)}: give the objective a "
                    "threshold or pass a reference point"
                )
            reference = [float(o.threshold) for o in self._objectives if o.threshold is not None]
        points = [
            [(record.values or {})[o.name] for o in self._objectives]
            for record in self.pareto_trials()
        ]
        return hypervolume(points, reference, [o.direction for o in self._objectives])

    def recover_stale_trials(self) -> list[int]:
        """Tells FAIL every RUNNING trial this agent did not hand out; returns their numbers.

        Optuna keeps the trials of a crashed process RUNNING forever. Call this (the constructor
        does, on resume) only when no other worker is running trials of this study.
        """
        stale = [
            trial.number
            for trial in self._study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if trial.number not in self._open
        ]
        for number in stale:
            self._study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
        if stale:
            earlier = self._study.user_attrs.get("recovered_stale_trials", [])
            self._study.set_user_attr("recovered_stale_trials", [*earlier, *stale])
        return stale

    # -- ask / report / tell ----------------------------------------------------------------

    def ask(self) -> Proposal:
        """Starts a trial and samples an architecture from the space.

        Returns:
            The proposal; tell it exactly once.

        Raises:
            Exception: Whatever the space raised while sampling (the trial is told FAIL first),
                or AgentError when the architecture is not JSON-serialisable.
        """
        trial = self._study.ask()
        try:
            arch = self._space.sample(trial)
            to_dict = getattr(arch, "to_dict", None)
            arch_data = to_dict() if callable(to_dict) else dict(arch)
            problem = _json_problem("the sampled architecture", arch_data)
            if problem is not None:
                raise AgentError(f"space {self._space.name!r}: {problem}")
        except BaseException as error:
            trial.set_user_attr("fail_reason", f"sampling: {type(error).__name__}: {error}")
            self._study.tell(trial, state=TrialState.FAIL)
            raise
        trial.set_user_attr("arch", arch_data)
        proposal = Proposal(number=trial.number, arch=arch)
        self._open[proposal.number] = proposal
        self._live[proposal.number] = trial
        return proposal

    def report(self, proposal: Proposal, epoch: int, values: Mapping[str, float]) -> bool:
        """Records one epoch's values in the trial's curve; says whether to stop it now.

        Args:
            proposal: An open proposal.
            epoch: 0-based epoch index, increasing from one report to the next.
            values: Metrics measured after that epoch (``val_accuracy``, ``energy_uj``, ...).

        Returns:
            True when the early stopper says stop; the caller then tells the trial as
            ``"pruned"``. Always False without a stopper.

        Raises:
            AgentError: On a closed proposal, a non-increasing epoch, a NaN or non-numeric value,
                or a value named ``epoch``.
        """
        self._check_open(proposal)
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise AgentError(f"trial {proposal.number}: epoch must be an int >= 0, got {epoch!r}")
        if proposal.curve and epoch <= proposal.curve[-1]["epoch"]:
            raise AgentError(
                f"trial {proposal.number}: epoch {epoch} reported after epoch "
                f"{proposal.curve[-1]['epoch']:g}; epochs must increase"
            )
        if "epoch" in values:
            raise AgentError(f"trial {proposal.number}: 'epoch' is not a metric name")
        entry: dict[str, float] = {"epoch": epoch}
        for name, value in values.items():
            number = _as_float(value)
            if number is None:
                raise AgentError(f"trial {proposal.number}: {name}={value!r} is not a number")
            entry[name] = number
        proposal.curve.append(entry)
        trial = self._live[proposal.number]
        trial.set_user_attr(CURVE_ATTR, list(proposal.curve))
        if self._early_stopper is None:
            return False
        decision = self._early_stopper.decide(
            self._study, trial_number=proposal.number, epoch=epoch, values=entry
        )
        if decision.trial_attrs:  # written by tell: one storage write per rung saved
            self._rungs.setdefault(proposal.number, {}).update(decision.trial_attrs)
        if decision.stop:
            trial.set_user_attr("early_stop", decision.to_dict())
        return decision.stop

    def tell(
        self,
        proposal: Proposal,
        values: Mapping[str, float] | None,
        *,
        state: TrialStateName = "complete",
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        """Finishes a trial.

        Args:
            proposal: An open proposal.
            values: Measured metrics; for ``"complete"`` they must hold every objective (and
                every constrained metric, unless it is in ``attrs``). All of them are stored as
                the ``metrics`` user attribute, whatever the state; only the objectives go to
                Optuna, and only for ``"complete"`` (a pruned or failed trial has no values).
            state: ``"complete"``, ``"pruned"`` (stopped early) or ``"fail"``.
            attrs: JSON-serialisable diagnostics stored as trial user attributes (spike rates,
                parameter count, ...); keys in :data:`RESERVED_ATTRS` are the agent's.

        Raises:
            AgentError: On a closed proposal, an unknown state, or a malformed result: missing
                or NaN objectives, a missing constrained metric, attributes that are not
                JSON-serialisable or use a reserved key. A malformed result is told as FAIL
                (with ``fail_reason``) before the error is raised.
        """
        self._check_open(proposal)
        if state not in _STATES:
            raise AgentError(f"unknown trial state {state!r}; choose from {', '.join(_STATES)}")
        attrs = dict(attrs or {})
        metrics = dict(values or {})
        problems: list[str] = []
        attrs_problem = _json_problem("attrs", attrs)
        reserved = sorted(RESERVED_ATTRS & attrs.keys())
        if reserved:
            attrs_problem = f"attrs use reserved keys {reserved}"
        metrics_problem = _json_problem("values", metrics)
        problems += [p for p in (attrs_problem, metrics_problem) if p is not None]
        objective_values: list[float] = []
        violations: dict[str, float] = {}
        if state == "complete":
            for objective in self._objectives:
                value = _as_float(metrics.get(objective.name))
                if value is None:
                    problems.append(f"objective {objective.name!r} missing or not a number")
                objective_values.append(math.nan if value is None else value)
            for constraint in self._constraints:
                raw = metrics.get(constraint.name, attrs.get(constraint.name))
                value = _as_float(raw)
                if value is None:
                    problems.append(f"constrained metric {constraint.name!r} missing")
                else:
                    violations[constraint.name] = constraint.violation(value)

        trial = self._live[proposal.number]
        written = dict(self._rungs.pop(proposal.number, {}))
        if attrs_problem is None:
            written.update(attrs)
        if metrics_problem is None and metrics:
            written["metrics"] = metrics
        set_user_attrs(trial, written)  # one commit, not one per key
        if problems:
            message = f"trial {proposal.number}: " + "; ".join(problems)
            trial.set_user_attr("fail_reason", message)
            self._close(proposal, TrialState.FAIL)
            raise AgentError(message)
        if state != "complete":
            self._close(proposal, _STATES[state])
            return
        for name, violation in violations.items():
            trial.set_constraint(name, violation)
        if violations:
            trial.set_user_attr("constraint_values", list(violations.values()))
            trial.set_user_attr("feasible", all(v <= 0.0 for v in violations.values()))
        self._close(proposal, TrialState.COMPLETE, objective_values)

    def _check_open(self, proposal: Proposal) -> None:
        if self._open.get(proposal.number) is not proposal:
            raise AgentError(
                f"trial {proposal.number} is not open in this agent (already told, or asked "
                "by another agent)"
            )

    def _close(
        self, proposal: Proposal, state: TrialState, values: Sequence[float] | None = None
    ) -> None:
        del self._open[proposal.number]
        trial = self._live.pop(proposal.number)
        self._study.tell(trial, values, state=state)
