"""Continual learning: task streams, the GEM accuracy-matrix metrics, strategies, and the search.

* :mod:`~evolve.continual_learning.streams` — a :class:`Stream` of :class:`Task` s (:data:`STREAMS`,
  :func:`make_stream`).
* :mod:`~evolve.continual_learning.metrics` — ACC, BWT and forgetting of the accuracy matrix R
  (:func:`continual_metrics`).
* :mod:`~evolve.continual_learning.strategies` — how a model learns one task after another
  (:data:`STRATEGIES`, :func:`make_strategy`; one module per strategy).
* :mod:`~evolve.continual_learning.runner` — :func:`run_stream` trains a model on a stream and fills R.
* :mod:`~evolve.continual_learning.search` — :func:`continual` (the search) and
  :func:`continue_trial` (continue a found network).

Importing this package (and the two registries) does not import torch; every name below is
imported when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evolve.continual_learning.metrics import ContinualMetrics, continual_metrics
    from evolve.continual_learning.runner import ContinualResult, StageRecord, run_stream
    from evolve.continual_learning.search import ContinueResult, continual, continue_trial
    from evolve.continual_learning.strategies import STRATEGIES, Strategy, make_strategy
    from evolve.continual_learning.streams import STREAMS, Stream, Task, make_stream

#: Public name → the module that defines it.
_LAZY: dict[str, str] = {
    "ContinualMetrics": "evolve.continual_learning.metrics",
    "continual_metrics": "evolve.continual_learning.metrics",
    "ContinualResult": "evolve.continual_learning.runner",
    "StageRecord": "evolve.continual_learning.runner",
    "run_stream": "evolve.continual_learning.runner",
    "ContinueResult": "evolve.continual_learning.search",
    "continual": "evolve.continual_learning.search",
    "continue_trial": "evolve.continual_learning.search",
    "STRATEGIES": "evolve.continual_learning.strategies",
    "Strategy": "evolve.continual_learning.strategies",
    "make_strategy": "evolve.continual_learning.strategies",
    "STREAMS": "evolve.continual_learning.streams",
    "Stream": "evolve.continual_learning.streams",
    "Task": "evolve.continual_learning.streams",
    "make_stream": "evolve.continual_learning.streams",
}

__all__ = [
    "STRATEGIES",
    "STREAMS",
    "ContinualMetrics",
    "ContinualResult",
    "ContinueResult",
    "StageRecord",
    "Strategy",
    "Stream",
    "Task",
    "continual",
    "continual_metrics",
    "continue_trial",
    "make_strategy",
    "make_stream",
    "run_stream",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
