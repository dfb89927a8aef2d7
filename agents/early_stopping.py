"""Early stopping that understands accuracy *and* energy.

Neither Optuna (``trial.report``/``should_prune`` raise ``NotImplementedError`` in a
multi-objective study) nor Ray Tune prunes multi-objective trials, so this rule is ours. It reads
the learning curves that agents store in the study (the ``curve`` user attribute of each trial:
a list of ``{"epoch": e, "val_accuracy": ..., "energy_uj": ..., ...}``), so every process and every
agent writing to the same storage sees the same history. It reads them from an Optuna study or
from any :class:`~agents.records.RunStore` (the ``curve`` of each record's ``attrs``).

The rule (epochs are **0-based**: epoch 0 is the report after the first training epoch):

    A running trial T reports, at epoch ``e``, validation accuracy ``a`` and energy ``E``.

    1. If ``e < min_epoch``, T continues (default ``min_epoch = 1``: never stopped on the report of
       its first epoch, at the earliest after its second).
    2. The *peers* are the finished trials of the study (COMPLETE or PRUNED; never RUNNING or
       FAIL, never T itself) whose curve has an entry for epoch ``e`` with an accuracy (and, when
       ``energy_key`` is set, an energy). ``n_compared`` is their number.
    3. A peer *dominates* T at epoch ``e`` when its accuracy at ``e`` is ``>= a + margin`` and its
       energy at ``e`` is ``<= E`` (no greater energy). With ``energy_key=None`` only the
       accuracy is compared.
    4. T is stopped when ``n_dominators >= min_dominators`` **and**
       ``n_dominators / n_compared >= min_fraction``.

So with the defaults (``min_dominators = 2``, ``margin = 0.01``, ``min_fraction = 0.0``) a trial
stops once two finished trials were at least one accuracy point better at the same epoch for no
more energy; with fewer than ``min_dominators`` peers nothing is ever stopped. Accuracy and margin
share their units (a fraction in [0, 1] by default). The caller tells a stopped trial as PRUNED; a
pruned trial is never on the Pareto front.

Example:
    >>> stopper = MultiObjectiveStopper(min_dominators=3)
    >>> stopper.state_dict()["min_dominators"]
    3
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from agents.errors import AgentError
from agents.records import RunStore

__all__ = ["CURVE_ATTR", "MultiObjectiveStopper", "StopDecision", "curve_value"]

#: The trial user attribute holding the per-epoch values (list of dicts with an ``epoch`` key).
CURVE_ATTR = "curve"

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass(frozen=True)
class StopDecision:
    """The outcome of one check, with the counts behind it (JSON-serialisable via ``to_dict``).

    Attributes:
        stop: Whether the trial should stop now.
        epoch: The 0-based epoch checked.
        n_compared: Finished trials that reported this epoch.
        n_dominators: Those among them that dominate the trial at this epoch.
        reason: One line saying why.
        trial_attrs: User attributes the agent records with the trial (a scheduler's rung
            history, :mod:`agents.fidelity`); empty for this stopper.
    """

    stop: bool
    epoch: int
    n_compared: int
    n_dominators: int
    reason: str
    trial_attrs: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Returns the decision as plain data (stored with a stopped trial)."""
        return {
            "stop": self.stop,
            "epoch": self.epoch,
            "n_compared": self.n_compared,
            "n_dominators": self.n_dominators,
            "reason": self.reason,
        }


def _entry_at(curve: object, epoch: int) -> Mapping[str, Any] | None:
    if not isinstance(curve, list):
        return None
    for entry in curve:
        if isinstance(entry, Mapping) and entry.get("epoch") == epoch:
            return entry
    return None


def _peer_curves(history: optuna.Study | RunStore, trial_number: int) -> Iterator[object]:
    """The ``curve`` of every finished trial but ``trial_number``."""
    if isinstance(history, optuna.Study):
        for peer in history.get_trials(deepcopy=False, states=_FINISHED):
            if peer.number != trial_number:
                yield peer.user_attrs.get(CURVE_ATTR)
        return
    for record in history.trials(("complete", "pruned")):
        if record.number != trial_number:
            yield record.attrs.get(CURVE_ATTR)


def curve_value(entry: Mapping[str, Any], key: str) -> float | None:
    """A curve entry's number under ``key`` (``None`` when absent, not a number, or NaN)."""
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


class MultiObjectiveStopper:
    """Stops a trial whose accuracy is dominated, at the same epoch, by enough finished trials.

    The rule is written out in this module's docstring.

    Args:
        accuracy_key: Reported metric to maximise (validation accuracy).
        energy_key: Reported metric to minimise (energy per inference, µJ); ``None`` compares
            accuracy only.
        min_epoch: First 0-based epoch at which a trial may be stopped.
        min_dominators: Dominating finished trials needed to stop (at least 1).
        margin: How much better (in accuracy units) a peer must be to count as dominating.
        min_fraction: Share of the compared peers that must dominate, in [0, 1].
    """

    def __init__(
        self,
        *,
        accuracy_key: str = "val_accuracy",
        energy_key: str | None = "energy_uj",
        min_epoch: int = 1,
        min_dominators: int = 2,
        margin: float = 0.01,
        min_fraction: float = 0.0,
    ) -> None:
        if min_epoch < 0:
            raise AgentError(f"min_epoch must be >= 0 (epochs are 0-based), got {min_epoch}")
        if min_dominators < 1:
            raise AgentError(f"min_dominators must be >= 1, got {min_dominators}")
        if not math.isfinite(margin) or margin < 0.0:
            raise AgentError(f"margin must be finite and >= 0, got {margin}")
        if not 0.0 <= min_fraction <= 1.0:
            raise AgentError(f"min_fraction must be in [0, 1], got {min_fraction}")
        self.accuracy_key = accuracy_key
        self.energy_key = energy_key
        self.min_epoch = min_epoch
        self.min_dominators = min_dominators
        self.margin = margin
        self.min_fraction = min_fraction

    def state_dict(self) -> dict[str, Any]:
        """Returns the configuration as plain data (for the run log and the study)."""
        return {
            "rule": "dominated-at-epoch",
            "accuracy_key": self.accuracy_key,
            "energy_key": self.energy_key,
            "min_epoch": self.min_epoch,
            "min_dominators": self.min_dominators,
            "margin": self.margin,
            "min_fraction": self.min_fraction,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.state_dict().items() if k != "rule")
        return f"{type(self).__name__}({args})"

    def decide(
        self,
        study: optuna.Study | RunStore,
        *,
        trial_number: int,
        epoch: int,
        values: Mapping[str, float],
    ) -> StopDecision:
        """Applies the rule to one report.

        Args:
            study: The study (or run store) holding the finished trials and their curves.
            trial_number: The reporting trial (excluded from its own peers).
            epoch: The 0-based epoch of the report.
            values: The reported values; must hold ``accuracy_key`` (and ``energy_key`` if set).

        Returns:
            The decision with its counts.

        Raises:
            AgentError: When a needed metric is missing from ``values``.
        """
        accuracy = curve_value(values, self.accuracy_key)
        if accuracy is None:
            raise AgentError(
                f"early stopping needs {self.accuracy_key!r} in each report, got {sorted(values)}"
            )
        energy: float | None = None
        if self.energy_key is not None:
            energy = curve_value(values, self.energy_key)
            if energy is None:
                raise AgentError(
                    f"early stopping needs {self.energy_key!r} in each report, got "
                    f"{sorted(values)}; build the stopper with energy_key=None to compare "
                    "accuracy only"
                )
        if epoch < self.min_epoch:
            return StopDecision(False, epoch, 0, 0, f"epoch {epoch} < min_epoch {self.min_epoch}")

        n_compared = n_dominators = 0
        for curve in _peer_curves(study, trial_number):
            entry = _entry_at(curve, epoch)
            if entry is None:
                continue
            peer_accuracy = curve_value(entry, self.accuracy_key)
            peer_energy = None if self.energy_key is None else curve_value(entry, self.energy_key)
            if peer_accuracy is None or (self.energy_key is not None and peer_energy is None):
                continue
            n_compared += 1
            better = peer_accuracy >= accuracy + self.margin
            cheaper = energy is None or (peer_energy is not None and peer_energy <= energy)
            if better and cheaper:
                n_dominators += 1

        fraction = n_dominators / n_compared if n_compared else 0.0
        stop = n_dominators >= self.min_dominators and fraction >= self.min_fraction
        reason = (
            f"{n_dominators} of {n_compared} finished trials dominate at epoch {epoch} "
            f"(need {self.min_dominators} and a share >= {self.min_fraction:g})"
        )
        return StopDecision(stop, epoch, n_compared, n_dominators, reason)

    def should_stop(
        self,
        study: optuna.Study | RunStore,
        *,
        trial_number: int,
        epoch: int,
        values: Mapping[str, float],
    ) -> bool:
        """Shortcut for ``decide(...).stop``."""
        return self.decide(study, trial_number=trial_number, epoch=epoch, values=values).stop
