"""The search spaces shipped with snn-evolve: what ``evolve spaces`` lists and describes."""

from __future__ import annotations

import os
from dataclasses import dataclass

from evolve.errors import translated

__all__ = ["SpaceInfo", "describe_space", "list_spaces"]


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


def describe_space(space: str | os.PathLike[str]) -> str:
    """A space's dimensions, budget and fixed settings, as text.

    Args:
        space: A library space name or a YAML file.

    Raises:
        SpaceInputError: no library space of that name (with the nearest names), or a file
            that is missing or invalid.
    """
    from search_spaces import load_space

    with translated():
        return load_space(space).describe()
