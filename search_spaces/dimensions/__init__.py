"""The four kinds of dimension a space is made of, each validated when it is built.

* ``int``: ``low``, ``high`` (inclusive), ``step`` (default 1), ``log`` (default false; not with
  a step > 1). Sampled with ``suggest_int(name, low, high, step=step, log=log)``.
* ``float``: ``low``, ``high`` (inclusive), ``step`` or ``log`` (not both). Sampled with
  ``suggest_float(name, low, high, step=step, log=log)``.
* ``categorical``: ``choices``, a list of distinct str, int, float or bool. Sampled with
  ``suggest_categorical(name, choices)``.
* ``bool``: no keys of its own. Sampled with ``suggest_categorical(name, [False, True])``.

``high`` must lie on the step grid (``low + k*step``): Optuna would otherwise move it silently.

Every dimension also takes ``default`` (inside the dimension; if absent: the first choice, false,
or the midpoint — geometric for log ranges — snapped to the step grid), ``when`` (a mapping
``{param: value}`` or ``{param: [values]}``; several entries must all hold) and ``description``.

Units belong in names, not in comments: ``energy_budget_uj``, ``tau_ms``, ``lr``.

A bad entry raises :class:`~search_spaces.errors.SchemaProblem` whose path is relative to the
dimension (``("low",)``, ``("choices", 2)``, ``()`` for the dimension as a whole).
"""

from __future__ import annotations

from search_spaces.dimensions.base import (
    AUTO,
    Condition,
    Dimension,
    check_name,
    check_scalar,
    same_value,
    show,
)
from search_spaces.dimensions.choice import BoolDimension, CategoricalDimension
from search_spaces.dimensions.numeric import MAX_INT as MAX_INT
from search_spaces.dimensions.numeric import FloatDimension, IntDimension
from search_spaces.dimensions.parsing import TYPES, dimension_from_mapping
from search_spaces.dimensions.parsing import parse_when as parse_when

__all__ = [
    "AUTO",
    "TYPES",
    "BoolDimension",
    "CategoricalDimension",
    "Condition",
    "Dimension",
    "FloatDimension",
    "IntDimension",
    "check_name",
    "check_scalar",
    "dimension_from_mapping",
    "same_value",
    "show",
]
