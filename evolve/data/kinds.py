"""Data kinds: what one sample is, recognised from the file and its shape, or declared.

======== ============================== ==================================================
kind     one sample (``input_shape``)   the network kinds that take it
======== ============================== ==================================================
image    ``(C, H, W)``                  those whose :attr:`snn_models.kinds.Kind.inputs`
                                        hold ``image`` (mlp, cnn, transformer)
tabular  ``(F,)`` features              ... ``vector`` (mlp)
series   ``(C, T)`` channels, time      ... ``series`` (mlp, temporal)
======== ============================== ==================================================

The network kinds declare what they read in one registry (:data:`snn_models.kinds.KINDS`);
:data:`NETWORK_INPUT` says which of those inputs a sample of each data kind is, so a search
proposes only the network kinds that fit its data (:func:`fit_space`).

How a kind is recognised (``data_kind=`` / ``--data-kind`` overrides it):

* arrays ``x`` (``.npz``, :func:`evolve.from_arrays`): ``[N]`` or ``[N, F]`` is tabular;
  ``[N, C, H, W]`` is an image; ``[N, A, B]`` is an image ``[N, H, W]`` (one channel), unless one
  of ``A``, ``B`` is at least :data:`SERIES_RATIO` times the other: then it is a series whose
  longer axis is time (``[N, T, C]`` and ``[N, C, T]`` both become ``(C, T)``);
* tables (``.csv``, ``.parquet``: a ``label`` column and one column per value): a series when the
  value columns are numbered time points (one prefix, then consecutive whole numbers:
  ``t0, t1, ...``, ``0, 1, ...``, ``att1, att2, ...``), else tabular (``sepal_length, ...``);
* the named sets: digits and Fashion-MNIST are images, the UCR sets are series.

Declared kinds arrange the arrays: ``tabular`` flattens each sample to ``(F,)``; ``series`` takes
``[N, T]`` as ``(1, T)`` and ``[N, A, B]`` as above (equal axes: ``[N, T, C]``); ``image`` takes
``[N, H, W]`` and ``[N, C, H, W]``.

Example:
    >>> import numpy as np
    >>> arrange(np.zeros((10, 13)), None)[0].shape, arrange(np.zeros((10, 13)), None)[1]
    ((10, 13), 'tabular')
    >>> x, kind = arrange(np.zeros((10, 100, 3)), None)
    >>> x.shape, kind
    ((10, 3, 100), 'series')
    >>> table_kind(["t0", "t1", "t2"]), table_kind(["alcohol", "ash"])
    ('series', 'tabular')
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from evolve.errors import DataError

if TYPE_CHECKING:
    import numpy as np

    from search_spaces import SearchSpace

__all__ = [
    "DATA_KINDS",
    "NETWORK_INPUT",
    "SERIES_RATIO",
    "arrange",
    "check_data_kind",
    "fit_space",
    "kind_of_shape",
    "model_kinds_for",
    "table_kind",
]

#: The kinds of data a search can take.
DATA_KINDS: tuple[str, ...] = ("image", "tabular", "series")
#: Data kind → the network input kind (:data:`snn_models.kinds.INPUT_KINDS`) one sample of it is.
NETWORK_INPUT: dict[str, str] = {"image": "image", "tabular": "vector", "series": "series"}
#: ``[N, A, B]`` arrays are a series when one sample axis is at least this many times the other.
SERIES_RATIO = 4

_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def check_data_kind(kind: str | None) -> str | None:
    """``kind`` if it is a data kind (or ``None``: recognise it).

    Raises:
        DataError: another value.
    """
    if kind is None or kind in DATA_KINDS:
        return kind
    raise DataError(f"data_kind must be one of {', '.join(DATA_KINDS)}, got {kind!r}")


def kind_of_shape(input_shape: Sequence[int]) -> str:
    """The data kind of one sample of ``input_shape`` as the models take it: ``(C, H, W)`` is
    an image, ``(C, T)`` a series, anything else tabular (flattened by an MLP)."""
    return {3: "image", 2: "series"}.get(len(tuple(input_shape)), "tabular")


def _series(x: np.ndarray) -> np.ndarray:
    """``[N, A, B]`` as ``[N, C, T]``: the longer axis is time (equal axes: ``[N, T, C]``)."""
    return x if x.shape[2] > x.shape[1] else x.swapaxes(1, 2)


def arrange(x: np.ndarray, kind: str | None, where: str = "x") -> tuple[np.ndarray, str]:
    """Samples ``x`` ``[N, ...]`` arranged as the models of their data kind take them, and
    that kind (recognised, or ``kind`` when given); the rules are in the module docstring.

    Raises:
        DataError: an unknown ``kind``, or samples that cannot be of the declared kind.
    """
    check_data_kind(kind)
    n = x.shape[0]
    sample = x.shape[1:]
    if kind is None:
        if len(sample) <= 1:
            kind = "tabular"
        elif len(sample) == 3:
            kind = "image"
        elif len(sample) == 2:
            a, b = sample
            kind = "series" if max(a, b) >= SERIES_RATIO * min(a, b) else "image"
        else:
            raise DataError(
                f"{where}: samples of shape {tuple(sample)} are none of the data kinds; give "
                "[N, F] features, [N, T, C] series or [N, C, H, W] images (or declare data_kind "
                "tabular to flatten them)"
            )
    if kind == "tabular":
        return x.reshape(n, -1), kind
    if kind == "series":
        if len(sample) == 1:
            return x[:, None, :], kind
        if len(sample) == 2:
            return _series(x), kind
        raise DataError(
            f"{where}: samples of shape {tuple(sample)} are not a series; give [N, T] or "
            "[N, T, C], or another data_kind"
        )
    if len(sample) == 2:
        return x[:, None], kind
    if len(sample) == 3:
        return x, kind
    raise DataError(
        f"{where}: samples of shape {tuple(sample)} are not images; give [N, H, W] or "
        "[N, C, H, W], or another data_kind"
    )


def table_kind(columns: Sequence[Any]) -> str:
    """``series`` when the value columns of a table are numbered time points (one prefix, then
    whole numbers counting up by one: ``t0, t1, ...``), else ``tabular``."""
    found = [_NUMBERED.match(str(c)) for c in columns]
    if len(found) < 2 or not all(found):
        return "tabular"
    prefixes = {m.group(1) for m in found if m}
    numbers = [int(m.group(2)) for m in found if m]
    steps = {b - a for a, b in itertools.pairwise(numbers)}
    return "series" if len(prefixes) == 1 and steps == {1} else "tabular"


def model_kinds_for(data_kind: str) -> tuple[str, ...]:
    """The network kinds (keys of :data:`snn_models.kinds.KINDS`) that take ``data_kind``.

    Example:
        >>> model_kinds_for("tabular"), model_kinds_for("series")
        (('mlp',), ('mlp', 'temporal'))
    """
    from snn_models.kinds import KINDS

    wanted = NETWORK_INPUT[data_kind]
    return tuple(name for name, kind in KINDS.items() if wanted in kind.inputs)


def _space_kinds(space: SearchSpace) -> tuple[str, ...]:
    """The network kinds a space can propose (its ``kind`` choices, or its fixed kind)."""
    if "kind" in space.fixed:
        return (str(space.fixed["kind"]),)
    dim = space.dimensions.get("kind")
    return tuple(str(c) for c in getattr(dim, "choices", ())) if dim is not None else ()


def fit_space(
    space: SearchSpace, data_kind: str, *, dataset: str = "", shape: Sequence[int] = ()
) -> SearchSpace:
    """``space`` restricted to the network kinds that take ``data_kind`` data, before any trial
    (the options only those kinds use go with them, by :meth:`SearchSpace.restrict`).

    Args:
        space: The search space.
        data_kind: One of :data:`DATA_KINDS`.
        dataset: The data set's name, for the message.
        shape: One sample's shape, for the message.

    Raises:
        DataError: no network kind of the space takes this data (the message names the kinds
            that would, and the library spaces that propose them).
    """
    from search_spaces.errors import SchemaProblem

    check_data_kind(data_kind)
    fits = model_kinds_for(data_kind)
    proposed = _space_kinds(space)
    if not proposed:
        return space
    if any(k in fits for k in proposed):
        try:
            return space.restrict({"kind": list(fits)}, f"{data_kind} data")
        except SchemaProblem:  # pragma: no cover - a kind is left, so restrict keeps it
            pass
    what = f"data set {dataset!r} " if dataset else ""
    of_shape = f" of shape {tuple(shape)}" if shape else ""
    raise DataError(
        f"space {space.name!r} does not fit {what}({data_kind} data{of_shape}): its network "
        f"kinds ({', '.join(proposed)}) take no {data_kind} data, {', '.join(fits)} would; "
        f"choose another data set or another data_kind, or a space with one of them"
        f"{_spaces_hint(fits)}"
    )


def _spaces_hint(fits: Sequence[str]) -> str:
    """`` (hybrid_neuron, ...)``: the library spaces that propose one of ``fits``."""
    try:
        from search_spaces import list_spaces, load_space

        spaces = [load_space(n) for n in sorted(list_spaces())]
        names = [
            s.name
            for s in spaces
            if set(_space_kinds(s)) & set(fits)
            and not any(k.startswith("cl_") for k in s.dimensions)  # continual spaces
        ]
    except Exception:  # a hint only: a broken library file is reported elsewhere
        return ""
    return f" ({', '.join(names)})" if names else ""
