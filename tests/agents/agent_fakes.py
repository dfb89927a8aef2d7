"""A fake search space with the shape of ``search_spaces`` (name + define-by-run ``sample``).

Kept here so the agent tests do not depend on the real spaces, written in parallel.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna


class ToyArch(dict[str, Any]):
    """Stands in for ``search_spaces.ArchSpec``: a flat mapping with ``to_dict``."""

    def to_dict(self) -> dict[str, Any]:
        return dict(self)


class ToySpace:
    """Same shape as a ``search_spaces`` space: ``name`` and define-by-run ``sample``."""

    def __init__(self, name: str = "toy") -> None:
        self.name = name

    def sample(self, suggester: optuna.trial.Trial) -> ToyArch:
        neuron = suggester.suggest_categorical("neuron", ["if", "lif", "bif"])
        arch = ToyArch(
            neuron=neuron,
            timesteps=suggester.suggest_int("timesteps", 1, 8),
            threshold=suggester.suggest_float("threshold", 0.5, 2.0),
        )
        if neuron == "bif":  # a conditional parameter, as real spaces have
            arch["v_reset"] = suggester.suggest_float("v_reset", 0.1, 0.4)
        return arch


def toy_result(arch: Mapping[str, Any]) -> dict[str, float]:
    """A deterministic fake evaluation: more timesteps, more accuracy and more energy."""
    accuracy = 0.5 + 0.05 * arch["timesteps"] - 0.1 * abs(arch["threshold"] - 1.0)
    return {"accuracy": accuracy, "energy_uj": 0.1 * arch["timesteps"] * arch["threshold"]}
