"""What a search optimises: objectives with a direction and a reference value, and constraints.

An :class:`Objective` follows Ax: it names a metric, says whether to maximise or minimise it and
may carry a ``threshold``, the value used as that objective's coordinate of the hypervolume
reference point (the worst value still worth having). A :class:`Constraint` is an inclusive upper
bound on a metric: a trial whose value is above it is infeasible and never on the Pareto front.

Besides accuracy and our energy model (µJ), a search can optimise NeuroBench's metrics, measured
on every trial with NeuroBench's definitions (:mod:`snn_models.neurobench_metrics`):
``effective_acs``, ``effective_macs``, ``synops`` (their sum), ``footprint`` (bytes) and
``activation_sparsity``.

Example:
    >>> [(o.name, o.direction) for o in parse_objectives("accuracy,energy")]
    [('accuracy', 'maximize'), ('energy_uj', 'minimize')]
    >>> o = parse_objectives("effective_acs")[0]
    >>> o.direction, unit_of(o.name)
    ('minimize', 'ACs/inference')
    >>> Constraint("energy_uj", 0.5).violation(0.75)
    0.25
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from agents.errors import AgentError

__all__ = [
    "OBJECTIVES",
    "Constraint",
    "Direction",
    "Objective",
    "parse_objectives",
    "unit_of",
]

Direction = Literal["maximize", "minimize"]
_DIRECTIONS: tuple[str, ...] = get_args(Direction)


@dataclass(frozen=True)
class Objective:
    """One metric to optimise.

    Args:
        name: The metric's name as the evaluator reports it, units in the name
            (``"accuracy"``, ``"energy_uj"``, ``"latency_ms"``).
        direction: ``"maximize"`` or ``"minimize"``.
        threshold: The hypervolume reference value for this objective (Ax-style), in the metric's
            own units: a lower bound for a maximised metric, an upper bound for a minimised one.
            ``None`` when not stated; a hypervolume then needs an explicit reference.
        unit: The unit its values are in, as reports print it (``"µJ"``; ``""`` for a fraction
            or a ratio). Not part of the objective's identity (nor of what a study records):
            :func:`unit_of` finds it again by name.
    """

    name: str
    direction: Direction
    threshold: float | None = None
    unit: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise AgentError("an objective needs a non-empty name")
        if self.direction not in _DIRECTIONS:
            raise AgentError(
                f"objective {self.name!r}: direction must be one of {', '.join(_DIRECTIONS)}, "
                f"got {self.direction!r}"
            )
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise AgentError(f"objective {self.name!r}: threshold must be finite")

    def to_dict(self) -> dict[str, object]:
        """Returns the objective as JSON-serialisable data (stored with the study)."""
        return {"name": self.name, "direction": self.direction, "threshold": self.threshold}


@dataclass(frozen=True)
class Constraint:
    """An inclusive upper bound on a metric: ``value <= upper_bound`` is feasible.

    Args:
        name: The metric's name, looked up in the values (then the attributes) told for a trial.
        upper_bound: The largest feasible value, in the metric's units (e.g. µJ per inference).
    """

    name: str
    upper_bound: float

    def __post_init__(self) -> None:
        if not self.name:
            raise AgentError("a constraint needs a non-empty name")
        if not math.isfinite(self.upper_bound):
            raise AgentError(f"constraint {self.name!r}: upper_bound must be finite")

    def violation(self, value: float) -> float:
        """Returns ``value - upper_bound``: feasible when zero or less (Optuna's convention)."""
        return float(value) - self.upper_bound

    def to_dict(self) -> dict[str, object]:
        """Returns the constraint as JSON-serialisable data (stored with the study)."""
        return {"name": self.name, "upper_bound": self.upper_bound}


#: Short names accepted on the command line → the objective they stand for.
OBJECTIVES: dict[str, Objective] = {
    "accuracy": Objective("accuracy", "maximize", threshold=0.0),
    "energy": Objective("energy_uj", "minimize", unit="µJ"),
    "latency": Objective("latency_ms", "minimize", unit="ms"),
    # the candidate's energy over its ANN twin's (all MACs): < 1 means the SNN is cheaper
    "energy_ratio": Objective("energy_ratio_to_ann", "minimize"),
    # continual learning (`evolve continual`): GEM ACC and max-based forgetting, both in [0, 1]
    "acc": Objective("cl_acc", "maximize", threshold=0.0),
    "forgetting": Objective("forgetting", "minimize", threshold=1.0),
    # NeuroBench's metrics (SynapticOperations per inference, Footprint, ActivationSparsity),
    # counted under the run's energy model (`per-step` counts the stem at every step)
    "effective_acs": Objective("effective_acs", "minimize", unit="ACs/inference"),
    "effective_macs": Objective("effective_macs", "minimize", unit="MACs/inference"),
    "synops": Objective("synops", "minimize", unit="ops/inference"),
    "footprint": Objective("footprint_bytes", "minimize", unit="bytes"),
    "activation_sparsity": Objective("activation_sparsity", "maximize", threshold=0.0),
}


def unit_of(name: str) -> str:
    """The unit of the metric ``name`` (a registry key or a metric name); ``""`` for a fraction,
    a ratio or a metric the registry does not know."""
    objective = OBJECTIVES.get(name) or next(
        (o for o in OBJECTIVES.values() if o.name == name), None
    )
    return objective.unit if objective is not None else ""


def parse_objectives(text: str | Sequence[str]) -> tuple[Objective, ...]:
    """Turns ``"accuracy,energy"`` (or a list of names) into objectives.

    A short name (``energy``) and the metric name it stands for (``energy_uj``) are both accepted.

    Args:
        text: Comma-separated names, or a sequence of names.

    Returns:
        The objectives, in the order given.

    Raises:
        AgentError: On an empty list, an unknown name (the message lists the valid ones) or a
            repeated objective.
    """
    names = text.split(",") if isinstance(text, str) else list(text)
    names = [name.strip() for name in names if name.strip()]
    if not names:
        raise AgentError(f"no objectives given; choose from {', '.join(OBJECTIVES)}")
    by_metric = {objective.name: objective for objective in OBJECTIVES.values()}
    objectives: list[Objective] = []
    for name in names:
        objective = OBJECTIVES.get(name) or by_metric.get(name)
        if objective is None:
            raise AgentError(f"unknown objective {name!r}; choose from {', '.join(OBJECTIVES)}")
        if objective in objectives:
            raise AgentError(f"objective {name!r} is given twice")
        objectives.append(objective)
    return tuple(objectives)
