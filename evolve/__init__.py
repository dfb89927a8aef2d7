"""snn-evolve: search, train and measure spiking neural networks on accuracy and energy counted
from their real spikes.

The Python API (the ``evolve`` command calls exactly these):

* :func:`search` runs a multi-objective architecture search and returns a :class:`Run`;
  :func:`open_run` opens an existing one. A run gives its ``front``, ``trials`` (a DataFrame),
  ``hypervolume``, ``best(pick=..., max_energy=...)``, ``model(trial)``, ``export(...)`` and
  ``report(...)``.
* :func:`continual` searches for networks that learn a stream of tasks; :func:`continue_trial`
  continues a found one.
* Every command's work is a function: :func:`train`, :func:`convert`, :func:`train_teacher`,
  :func:`export_trial`, :func:`predict`, :func:`import_nir`, :func:`write_report`,
  :func:`explain_trial`, :func:`dashboard`, :func:`detect_anomalies` (ECG), :func:`list_spaces`,
  :func:`describe_space` (with a data set: what of a space fits it, :func:`fit_space_to_data`).
* Data may be a name, a file, ``(x, y)`` arrays or a torch Dataset (:func:`from_arrays`); its
  kind (image, tabular, series) is recognised or declared (``data_kind=``) and its class names
  are kept end to end.
* Bad input raises :class:`UserError` (one line, naming the problem and the fix).

Example:
    >>> import evolve
    >>> run = evolve.search("hybrid_neuron", "digits", trials=3, epochs=1)  # doctest: +SKIP
    >>> print(run.front[0].values)                                        # doctest: +SKIP

Importing ``evolve`` is cheap: torch, optuna and the rest load when a function is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from evolve.errors import (
    AgentInputError,
    DataError,
    FailuresStopped,
    Interrupted,
    ModelSpecError,
    RunError,
    SpaceInputError,
    UserError,
)

if TYPE_CHECKING:
    from evolve.api.run import Run, open_run
    from evolve.api.search import search
    from evolve.api.spaces import describe_space, fit_space_to_data, list_spaces
    from evolve.apps.ecg.pipeline import detect_anomalies
    from evolve.config import ContinualConfig, SearchConfig
    from evolve.continual_learning.search import continual, continue_trial
    from evolve.data.arrays import from_arrays, from_torch
    from evolve.data.datasets import Dataset, Split, load_dataset
    from evolve.engine.loop import TrialEvent
    from evolve.engine.objectives import UserObjective
    from evolve.export.import_nir import import_nir
    from evolve.export.predict import predict
    from evolve.export.trial import export_trial
    from evolve.report.dashboard import dashboard
    from evolve.report.explain import explain_trial
    from evolve.report.html import write_report
    from evolve.training.baselines import baselines
    from evolve.training.convert import convert
    from evolve.training.single import train
    from evolve.training.teachers import train_teacher

#: Public name → the module that defines it (imported on first use).
_LAZY: dict[str, str] = {
    "search": "evolve.api.search",
    "Run": "evolve.api.run",
    "open_run": "evolve.api.run",
    "SearchConfig": "evolve.config",
    "ContinualConfig": "evolve.config",
    "from_arrays": "evolve.data.arrays",
    "from_torch": "evolve.data.arrays",
    "Dataset": "evolve.data.datasets",
    "Split": "evolve.data.datasets",
    "load_dataset": "evolve.data.datasets",
    "TrialEvent": "evolve.engine.loop",
    "UserObjective": "evolve.engine.objectives",
    # each command's work as a function
    "continual": "evolve.continual_learning.search",
    "continue_trial": "evolve.continual_learning.search",
    "train": "evolve.training.single",
    "convert": "evolve.training.convert",
    "train_teacher": "evolve.training.teachers",
    "export_trial": "evolve.export.trial",
    "predict": "evolve.export.predict",
    "import_nir": "evolve.export.import_nir",
    "write_report": "evolve.report.html",
    "explain_trial": "evolve.report.explain",
    "dashboard": "evolve.report.dashboard",
    "detect_anomalies": "evolve.apps.ecg.pipeline",
    "list_spaces": "evolve.api.spaces",
    "describe_space": "evolve.api.spaces",
    "fit_space_to_data": "evolve.api.spaces",
    "baselines": "evolve.training.baselines",
}

__all__ = [
    "AgentInputError",
    "ContinualConfig",
    "DataError",
    "Dataset",
    "FailuresStopped",
    "Interrupted",
    "ModelSpecError",
    "Run",
    "RunError",
    "SearchConfig",
    "SpaceInputError",
    "Split",
    "TrialEvent",
    "UserError",
    "UserObjective",
    "baselines",
    "continual",
    "continue_trial",
    "convert",
    "dashboard",
    "describe_space",
    "detect_anomalies",
    "explain_trial",
    "export_trial",
    "fit_space_to_data",
    "from_arrays",
    "from_torch",
    "import_nir",
    "list_spaces",
    "load_dataset",
    "open_run",
    "predict",
    "search",
    "train",
    "train_teacher",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'evolve' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
