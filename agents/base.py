"""The shapes an agent works with: the space it samples, the proposal it hands out, its interface.

An agent is the *exploration strategy* of the search (NNI's split): it never builds or trains a
model. It asks the space for an architecture, hands it out as a :class:`Proposal`, and is told the
result. Every agent (those in :data:`agents.AGENTS`) has the :class:`Agent` shape, so the
conductor in ``evolve`` drives any of them the same way, and reads what they recorded through
their :attr:`Agent.store` (:class:`~agents.records.TrialRecord`\\s, no library types):

.. code-block:: python

    while agent.n_done() < budget:
        proposal = agent.ask()
        for epoch in range(epochs):
            ...  # train one epoch, measure
            if agent.report(proposal, epoch, {"val_accuracy": acc, "energy_uj": e}):
                agent.tell(proposal, None, state="pruned")
                break
        else:
            agent.tell(proposal, {"accuracy": acc, "energy_uj": e})
    front = agent.pareto_trials()  # TrialRecords
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from agents.records import RunStore, TrialRecord

if TYPE_CHECKING:
    from search_spaces.suggesters import Suggester

__all__ = ["Agent", "Proposal", "SearchSpaceLike", "TrialStateName"]

#: The outcomes :meth:`Agent.tell` accepts.
TrialStateName = Literal["complete", "pruned", "fail"]


class SearchSpaceLike(Protocol):
    """What an agent needs from a search space (``search_spaces.SearchSpace`` has this shape).

    ``sample`` is define-by-run: it calls ``suggest_int``/``suggest_float``/``suggest_categorical``
    on the suggester (an ``optuna.trial.Trial`` for the Optuna agents; any
    ``search_spaces.Suggester``), conditionals being plain ``if``\\s, and returns a flat,
    JSON-serialisable mapping (an ``ArchSpec``).
    """

    @property
    def name(self) -> str:
        """The space's name, recorded with the study."""
        ...

    def sample(self, suggester: Suggester, /) -> Mapping[str, Any]:
        """Draws one architecture through ``suggester``."""
        ...


@dataclass
class Proposal:
    """One candidate handed out by :meth:`Agent.ask`.

    Attributes:
        number: The trial number in the study (the ``number`` of its
            :class:`~agents.records.TrialRecord`).
        arch: The sampled architecture (an ``ArchSpec``): flat and JSON-serialisable.
        curve: Per-epoch values reported so far, each ``{"epoch": e, <metric>: value, ...}``
            (also stored with the trial as its ``curve`` attribute).
    """

    number: int
    arch: Mapping[str, Any]
    curve: list[dict[str, float]] = field(default_factory=list)


class Agent(Protocol):
    """The interface every agent offers (see the module docstring for the loop that drives it).

    Only project types cross it: :class:`Proposal` out, plain mappings in, and
    :class:`~agents.records.TrialRecord`\\s from :attr:`store` and :meth:`pareto_trials`.
    """

    #: Trial numbers a resumed agent found left running by a crashed run and marked failed.
    recovered_on_resume: list[int]

    @property
    def store(self) -> RunStore:
        """The record of every trial of this agent's study (live)."""
        ...

    def ask(self) -> Proposal:
        """Samples the next candidate."""
        ...

    def tell(
        self,
        proposal: Proposal,
        values: Mapping[str, float] | None,
        *,
        state: TrialStateName = "complete",
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        """Records the outcome of a candidate."""
        ...

    def report(self, proposal: Proposal, epoch: int, values: Mapping[str, float]) -> bool:
        """Records one epoch's values; returns True when the candidate should stop early."""
        ...

    def n_done(self) -> int:
        """How many candidates count toward the budget (complete or pruned)."""
        ...

    def pareto_trials(self) -> list[TrialRecord]:
        """The feasible, complete, non-dominated trials, by number."""
        ...
