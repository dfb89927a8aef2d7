"""Class labels of any type as indices ``0..K-1``, with the class names kept.

A model scores classes by index; users name them: strings (``cat``, ``dog``), the UCR archive's
``1``/``2``, whole-number floats (``1.0``) read from a CSV. :func:`fit_classes` turns the labels of
a data set into indices and records the class names in order; :func:`encode` maps other labels
(a file given to ``evolve predict``) back through the same names, refusing names the model never
saw.

The rules:

* a label's *name* is its text: integers and whole-number floats as the integer (``1``, ``1.0``
  and ``"1"`` are all class ``"1"``), other text stripped of surrounding spaces;
* classes are ordered by value when every name is a whole number (``2`` before ``10``), else
  alphabetically;
* fractional numbers (``0.37``), missing labels (NaN, empty) and non-finite values are refused:
  they are not classes.

Example:
    >>> import numpy as np
    >>> classes, codes = fit_classes(np.array([2, 1, 2, 10]))
    >>> classes, codes.tolist()
    (('1', '2', '10'), [1, 0, 1, 2])
    >>> encode(np.array(["10", "1.0"]), classes).tolist()
    [2, 0]
    >>> fit_classes(np.array(["dog", "cat", "dog"]))[0]
    ('cat', 'dog')
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from evolve.errors import DataError

__all__ = ["class_names_of", "default_classes", "encode", "fit_classes", "label_names"]

_WHOLE = re.compile(r"^[+-]?\d+$")


def _name(value: Any, where: str) -> str:
    """One label's class name (see the module rules)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        if not math.isfinite(v):
            raise DataError(
                f"{where}: a label is missing (NaN) or infinite; give every sample a class"
            )
        if v != int(v):
            raise DataError(
                f"{where}: labels must be classes (an integer label or a class name per "
                f"sample), got the fraction {v:g}; a fractional target is not a class"
            )
        return str(int(v))
    if value is None:
        raise DataError(f"{where}: a label is missing; give every sample a class")
    text = str(value).strip()
    if not text:
        raise DataError(f"{where}: a label is empty; give every sample a class")
    if _WHOLE.match(text):
        return str(int(text))  # "01" is class 1
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isfinite(number) and number == int(number):
        return str(int(number))  # "1.0" is class 1
    return text


def label_names(labels: Any, where: str = "labels") -> list[str]:
    """Each label's class name (integers and whole-number floats as the integer).

    Raises:
        DataError: not one label per sample, or a fractional, missing or infinite label.
    """
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise DataError(f"{where}: give one label per sample, got an array of shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise DataError(
                f"{where}: {int(bad.sum())} labels are missing (NaN) or infinite; give every "
                "sample a class"
            )
        frac = arr[arr != np.round(arr)]
        if frac.size:
            raise DataError(
                f"{where}: labels must be classes (an integer label or a class name per "
                f"sample), got fractions such as {float(frac[0]):g}; a fractional target is "
                "not a class"
            )
        return [str(int(v)) for v in arr.tolist()]
    if np.issubdtype(arr.dtype, np.integer):
        return [str(int(v)) for v in arr.tolist()]
    return [_name(v, where) for v in arr.tolist()]


def _ordered(names: Sequence[str]) -> tuple[str, ...]:
    unique = set(names)
    if all(_WHOLE.match(n) for n in unique):
        return tuple(sorted(unique, key=int))
    return tuple(sorted(unique))


def fit_classes(labels: Any, where: str = "labels") -> tuple[tuple[str, ...], np.ndarray]:
    """The class names in order, and each label's index into them (int64).

    Raises:
        DataError: see :func:`label_names`.
    """
    names = label_names(labels, where)
    classes = _ordered(names)
    index = {c: i for i, c in enumerate(classes)}
    return classes, np.array([index[n] for n in names], dtype=np.int64)


def class_names_of(*label_sets: Any, where: str = "labels") -> tuple[str, ...]:
    """The class names, in order, of several label arrays together (train and test, say)."""
    names: list[str] = []
    for labels in label_sets:
        names += label_names(labels, where)
    return _ordered(names)


def encode(labels: Any, classes: Sequence[str], where: str = "labels") -> np.ndarray:
    """Labels as indices into ``classes`` (the names a model was trained with).

    Raises:
        DataError: a label that is none of ``classes`` (names the first few and the classes).
    """
    index = {c: i for i, c in enumerate(classes)}
    names = label_names(labels, where)
    unknown = sorted({n for n in names if n not in index})
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:3]) + (" ..." if len(unknown) > 3 else "")
        known = ", ".join(repr(c) for c in list(classes)[:8]) + (" ..." if len(classes) > 8 else "")
        raise DataError(
            f"{where}: unknown class {shown}; the model knows {known}; give labels by these names"
        )
    return np.array([index[n] for n in names], dtype=np.int64)


def default_classes(n_classes: int) -> tuple[str, ...]:
    """The names of classes known only by index: ``"0"``, ``"1"``, ..."""
    return tuple(str(i) for i in range(int(n_classes)))
