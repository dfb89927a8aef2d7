"""Continual-learning strategies: the :data:`STRATEGIES` registry and :func:`make_strategy`.

Every strategy implements :class:`~evolve.continual_learning.strategies.base.Strategy` in a module of its
own: ``naive`` fine-tunes on the current task only; ``replay`` mixes a class-balanced buffer of
past training examples into each new task (with a class-balanced loss); ``stdp`` keeps the
feature layers away from gradients — calibrated once, then adapted per task by unsupervised
online STDP — and trains only the readout; ``replay_stdp`` adds the replay buffer to that
readout.

The registry names each strategy's class as ``"module:Class"``, imported when first used, so
that the registry (and the command line's ``--help``, which lists it) never imports torch.
Adding a strategy means one module and one line in :data:`STRATEGIES`.

Example:
    >>> sorted(STRATEGIES)
    ['naive', 'replay', 'replay_stdp', 'stdp']
    >>> make_strategy("replay", buffer_size=100).settings()["buffer_size"]
    100
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

from evolve.continual_learning.strategies.base import Strategy
from evolve.errors import UserError

if TYPE_CHECKING:
    from evolve.continual_learning.strategies.memory import ReplayBuffer, balanced_loss
    from evolve.continual_learning.strategies.naive import Naive
    from evolve.continual_learning.strategies.replay import Replay
    from evolve.continual_learning.strategies.replay_stdp import ReplaySTDP
    from evolve.continual_learning.strategies.stdp import (
        STDPReadout,
        calibrate_rates,
        feature_layers,
    )

__all__ = [
    "STRATEGIES",
    "Naive",
    "Replay",
    "ReplayBuffer",
    "ReplaySTDP",
    "STDPReadout",
    "Strategy",
    "balanced_loss",
    "calibrate_rates",
    "feature_layers",
    "make_strategy",
    "strategy_class",
    "strategy_options",
]

#: Strategies by name: ``name -> "module:Class"``; the class is built with the strategy's
#: options as keywords. The only list of strategies: add one with one line here.
STRATEGIES: dict[str, str] = {
    "naive": "evolve.continual_learning.strategies.naive:Naive",
    "replay": "evolve.continual_learning.strategies.replay:Replay",
    "stdp": "evolve.continual_learning.strategies.stdp:STDPReadout",
    "replay_stdp": "evolve.continual_learning.strategies.replay_stdp:ReplaySTDP",
}

#: Other public names of this package, imported when first used (they need torch).
_LAZY: dict[str, str] = {
    "Naive": "evolve.continual_learning.strategies.naive",
    "Replay": "evolve.continual_learning.strategies.replay",
    "ReplaySTDP": "evolve.continual_learning.strategies.replay_stdp",
    "STDPReadout": "evolve.continual_learning.strategies.stdp",
    "calibrate_rates": "evolve.continual_learning.strategies.stdp",
    "feature_layers": "evolve.continual_learning.strategies.stdp",
    "ReplayBuffer": "evolve.continual_learning.strategies.memory",
    "balanced_loss": "evolve.continual_learning.strategies.memory",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def strategy_class(name: str) -> type[Strategy]:
    """The class registered as ``name`` (imported now).

    Raises:
        UserError: unknown name (the message lists the choices).
    """
    if name not in STRATEGIES:
        raise UserError(
            f"unknown continual strategy {name!r}; choose one of {', '.join(STRATEGIES)}"
        )
    module, _, cls = STRATEGIES[name].partition(":")
    found: type[Strategy] = getattr(importlib.import_module(module), cls)
    return found


def strategy_options(name: str) -> tuple[str, ...]:
    """The keywords strategy ``name`` takes (its options, and ``seed`` if it draws anything).

    Raises:
        UserError: unknown name.
    """
    return tuple(inspect.signature(strategy_class(name)).parameters)


def make_strategy(name: str, **settings: Any) -> Strategy:
    """A strategy by registry name with its settings, e.g.
    ``make_strategy("replay", buffer_size=100)``.

    Raises:
        UserError: unknown name (the message lists the choices), a setting it does not take,
            or a bad value.
    """
    factory = strategy_class(name)
    try:
        inspect.signature(factory).bind(**settings)
    except TypeError:
        takes = ", ".join(inspect.signature(factory).parameters) or "no settings"
        raise UserError(
            f"strategy {name!r} does not take {', '.join(settings)}; it takes: {takes}"
        ) from None
    return factory(**settings)
