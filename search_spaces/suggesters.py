"""What :meth:`SearchSpace.sample` asks values from: Optuna's ``suggest_*`` shape.

An ``optuna.trial.Trial`` is a :class:`Suggester` as it is. :class:`RandomSuggester` draws
uniformly (log-uniformly for ``log`` ranges) with the standard library, for tests and for callers
that want samples without Optuna.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["RandomSuggester", "Suggester"]


class Suggester(Protocol):
    """Anything with Optuna's three ``suggest_*`` methods (an ``optuna.trial.Trial`` fits).

    Bounds are inclusive. A name must be suggested with the same range every time.
    """

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        """An int in ``low..high`` on the grid ``low + k*step`` (log-uniform if ``log``)."""
        ...

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        """A float in ``[low, high]``, on ``low + k*step`` if ``step`` (log-uniform if ``log``)."""
        ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        """One of ``choices``."""
        ...


class RandomSuggester:
    """Draws values with :class:`random.Random`; the same seed gives the same draws.

    Unlike an Optuna trial it does not remember a name's value: every call draws afresh, so one
    suggester yields a stream of samples. It does remember each name's range and raises if a name
    comes back with another one (Optuna would refuse that too).

    Args:
        seed: Seed for the generator; ``None`` seeds from the system.

    Example:
        >>> s = RandomSuggester(seed=0)
        >>> 1 <= s.suggest_int("depth", 1, 3) <= 3
        True
        >>> s.suggest_categorical("neuron", ["if", "lif", "bif"]) in ("if", "lif", "bif")
        True
    """

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._ranges: dict[str, tuple[Any, ...]] = {}

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        """An int in ``low..high`` on the step grid; log-uniform if ``log``."""
        self._remember(name, ("int", low, high, step, log))
        _check_range(name, low, high, step, log)
        if log:
            drawn = math.exp(self._rng.uniform(math.log(low - 0.5), math.log(high + 0.5)))
            return min(max(round(drawn), low), high)
        return low + self._rng.randint(0, (high - low) // step) * step

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        """A float in ``[low, high]``: on the step grid if ``step``, log-uniform if ``log``."""
        self._remember(name, ("float", low, high, step, log))
        _check_range(name, low, high, step, log)
        if step is not None:
            k = self._rng.randint(0, round((high - low) / step))
            value = float(f"{low + k * step:.12g}")
        elif log:
            value = math.exp(self._rng.uniform(math.log(low), math.log(high)))
        else:
            value = self._rng.uniform(low, high)
        return min(max(value, low), high)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        """One of ``choices``, each equally likely."""
        self._remember(name, ("categorical", tuple(choices)))
        if not choices:
            raise ValueError(f"{name}: no choices to pick from")
        return choices[self._rng.randrange(len(choices))]

    def _remember(self, name: str, distribution: tuple[Any, ...]) -> None:
        seen = self._ranges.setdefault(name, distribution)
        if seen != distribution:
            raise ValueError(f"{name}: suggested as {distribution}, but earlier as {seen}")


def _check_range(name: str, low: float, high: float, step: float | None, log: bool) -> None:
    if low > high:
        raise ValueError(f"{name}: low {low} is above high {high}")
    if step is not None and step <= 0:
        raise ValueError(f"{name}: step must be positive, got {step}")
    if log and low <= 0:
        raise ValueError(f"{name}: log scale needs low > 0, got {low}")
