"""The search spaces shipped with snn-evolve: what ``evolve spaces`` lists and describes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolve.errors import translated

if TYPE_CHECKING:
    from search_spaces import SearchSpace

__all__ = ["SpaceFit", "SpaceInfo", "describe_space", "fit_space_to_data", "list_spaces"]


@dataclass(frozen=True)
class SpaceInfo:
    """One library space: its name (what :func:`evolve.search` takes) and description."""

    name: str
    description: str


def list_spaces() -> list[SpaceInfo]:
    """The library's search spaces, sorted by name, each with a one-line description.

    Raises:
        SpaceInputError: a library file is invalid.

    Example:
        >>> "hybrid_neuron" in [s.name for s in list_spaces()]
        True
    """
    from search_spaces import list_spaces as library

    with translated():
        return [SpaceInfo(n, " ".join(d.split())) for n, d in sorted(library().items())]


@dataclass(frozen=True)
class SpaceFit:
    """What remains of a space for a data set (what a search on it samples).

    Attributes:
        space: The space restricted to the network kinds that take the data.
        dataset: The data set's name.
        data_kind: ``image``, ``tabular`` or ``series`` (:mod:`evolve.data.kinds`).
        input_shape: One sample's shape.
        kinds: The network kinds left, in the space's order.
        removed: The network kinds the space proposes that do not take the data.
    """

    space: SearchSpace
    dataset: str
    data_kind: str
    input_shape: tuple[int, ...]
    kinds: tuple[str, ...]
    removed: tuple[str, ...]

    def describe(self) -> str:
        """A line naming the data and the kinds kept or removed, then the space's table."""
        kept = ", ".join(self.kinds) or "-"
        gone = f" (removed: {', '.join(self.removed)})" if self.removed else ""
        head = (
            f"for data set {self.dataset!r}: {self.data_kind} data of shape "
            f"{tuple(self.input_shape)}; network kinds {kept}{gone}"
        )
        return f"{head}\n{self.space.describe()}"


def fit_space_to_data(
    space: str | os.PathLike[str],
    dataset: Any,
    *,
    data_kind: str | None = None,
    seed: int = 0,
    data_dir: str | Path | None = None,
) -> SpaceFit:
    """What remains of ``space`` for ``dataset``: the space restricted to the network kinds
    that take the data's kind, as :func:`evolve.search` samples it.

    Args:
        space: A library space name or a YAML file.
        dataset: A data set name or file, ``(x, y)`` arrays or a :class:`evolve.data.Dataset`.
        data_kind: ``image``, ``tabular`` or ``series``; ``None``: recognised from the data.
        seed: Seed of the data split (loading only).
        data_dir: Folder holding the data set's files.

    Raises:
        SpaceInputError: an unknown or invalid space.
        DataError: unreadable data, an unknown ``data_kind``, or no network kind of the space
            that takes the data.

    Example:
        >>> fit = fit_space_to_data("hybrid_neuron", "gunpoint")  # doctest: +SKIP
        >>> fit.data_kind, fit.kinds, fit.removed                # doctest: +SKIP
        ('series', ('mlp',), ('cnn',))
    """
    from evolve.data.arrays import as_dataset
    from evolve.data.kinds import _space_kinds, fit_space
    from search_spaces import load_space

    with translated():
        full = load_space(space)
        data = as_dataset(dataset, seed=seed, data_dir=data_dir, kind=data_kind)
        fitted = fit_space(full, data.kind, dataset=data.name, shape=data.input_shape)
        before, after = _space_kinds(full), _space_kinds(fitted)
        return SpaceFit(
            space=fitted,
            dataset=data.name,
            data_kind=data.kind,
            input_shape=tuple(data.input_shape),
            kinds=after,
            removed=tuple(k for k in before if k not in after),
        )


def describe_space(
    space: str | os.PathLike[str],
    dataset: Any = None,
    *,
    data_kind: str | None = None,
    data_dir: str | Path | None = None,
) -> str:
    """A space's dimensions, budget and fixed settings, as text; with ``dataset``, what remains
    of it for that data (:func:`fit_space_to_data`).

    Args:
        space: A library space name or a YAML file.
        dataset: A data set name or file (or arrays, a Dataset); ``None``: the whole space.
        data_kind: The data's kind (``image``, ``tabular``, ``series``); ``None``: recognised.
        data_dir: Folder holding the data set's files.

    Raises:
        SpaceInputError: no library space of that name (with the nearest names), or a file
            that is missing or invalid.
        DataError: see :func:`fit_space_to_data`.
    """
    from search_spaces import load_space

    if dataset is not None:
        return fit_space_to_data(space, dataset, data_kind=data_kind, data_dir=data_dir).describe()
    if data_kind is not None:
        from evolve.errors import DataError

        raise DataError("data_kind needs a dataset: give the data set the space is for")
    with translated():
        return load_space(space).describe()
