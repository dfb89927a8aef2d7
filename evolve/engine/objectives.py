"""User-defined objectives: a function of the trained model and the data, scored on every trial.

From Python, pass a :class:`UserObjective` (or a plain function: its name, minimised) among
``objectives=`` of :func:`evolve.search`. From the command line, ``--user-objective
FILE.py:FUNCTION[:max]`` loads the function from a file. The function is called once per
finished trial, after training and the energy measurement, as ``fn(model, data)`` with the model
in eval mode and ``data`` the search's :class:`~evolve.data.Dataset` (``data.val`` is the split
the search selects on); it returns a float. Its name must not clash with a built-in objective.

Example:
    >>> def n_layers(model, data):
    ...     return float(len(list(model.children())))
    >>> o = UserObjective.of(n_layers)
    >>> o.name, o.direction, o.spec
    ('n_layers', 'minimize', '-n_layers')
"""

from __future__ import annotations

import importlib.util
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.objectives import Direction
from evolve.errors import UserError

__all__ = ["UserObjective", "load_user_objective", "split_objectives"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class UserObjective:
    """One objective the caller computes.

    Attributes:
        name: The metric's name (recorded in the study, a column of ``trials.parquet``).
        fn: ``fn(model, data) -> float``.
        direction: ``"minimize"`` (default) or ``"maximize"``.
        threshold: The hypervolume reference value; None: 0 for a maximised objective, twice
            the value of the space's default (untrained) model for a minimised one.
        source: ``FILE.py:FUNCTION`` when loaded from a file (what a resume loads again).
    """

    name: str
    fn: Callable[[Any, Any], float]
    direction: Direction = "minimize"
    threshold: float | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise UserError(f"user objective name {self.name!r}: use letters, digits and _")
        if self.direction not in ("minimize", "maximize"):
            raise UserError(f"user objective {self.name!r}: direction must be minimize or maximize")
        if not callable(self.fn):
            raise UserError(f"user objective {self.name!r}: fn is not callable")

    @classmethod
    def of(cls, item: UserObjective | Callable[[Any, Any], float]) -> UserObjective:
        """``item`` itself, or a plain function as a minimised objective named after it."""
        if isinstance(item, UserObjective):
            return item
        return cls(getattr(item, "__name__", "user_objective"), item)

    @property
    def spec(self) -> str:
        """How the study records it: ``+``/``-`` (maximise/minimise) and its name or source."""
        return ("+" if self.direction == "maximize" else "-") + (self.source or self.name)

    def __call__(self, model: Any, data: Any) -> float:
        value = float(self.fn(model, data))
        if not math.isfinite(value):
            raise FloatingPointError(f"user objective {self.name} returned {value}")
        return value


def load_user_objective(text: str) -> UserObjective:
    """``FILE.py:FUNCTION[:max|:min]`` (a leading ``+``/``-`` also sets the direction).

    Raises:
        UserError: a missing file or function, or a malformed text.
    """
    direction: Direction = "minimize"
    if text[:1] in "+-":
        direction = "maximize" if text[0] == "+" else "minimize"
        text = text[1:]
    parts = text.split(":")
    if len(parts) == 3 and parts[2] in ("max", "min"):
        direction = "maximize" if parts.pop() == "max" else "minimize"
    if len(parts) != 2 or not parts[0].endswith(".py") or not parts[1]:
        raise UserError(
            f"user objective {text!r}: give FILE.py:FUNCTION (optionally :max), e.g. "
            "my_objectives.py:latency_on_device"
        )
    path, func = Path(parts[0]), parts[1]
    if not path.is_file():
        raise UserError(f"user objective {text!r}: no file {path}")
    module_spec = importlib.util.spec_from_file_location(f"evolve_user_objective_{path.stem}", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:
        raise UserError(f"user objective {text!r}: importing {path} failed: {e}") from None
    fn = getattr(module, func, None)
    if not callable(fn):
        raise UserError(f"user objective {text!r}: {path} has no function {func!r}")
    return UserObjective(func, fn, direction, source=f"{path}:{func}")


def split_objectives(
    items: str | Sequence[Any] | None,
) -> tuple[str | None, tuple[UserObjective, ...]]:
    """``objectives=`` as given to the API: names (a comma-separated text or strings) and the
    caller's functions, apart."""
    if items is None or isinstance(items, str):
        return items, ()
    names = [i for i in items if isinstance(i, str)]
    users = tuple(UserObjective.of(i) for i in items if not isinstance(i, str))
    return (",".join(names) if names else None), users
