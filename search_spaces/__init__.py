"""Declarative search spaces: YAML files validated into a :class:`SearchSpace`.

A space is sampled define-by-run (``space.sample(trial)``) into an :class:`ArchSpec`, a flat,
frozen, JSON-serialisable mapping such as ``{"kind": "mlp", "depth": 2, "layer.0.neuron": "bif"}``.
This package needs only the standard library and PyYAML.

Example:
    >>> from search_spaces import RandomSuggester, load_space
    >>> space = load_space("hybrid_neuron")
    >>> space.contains(space.default())
    True
"""

from search_spaces.archspec import ArchSpec
from search_spaces.errors import SpaceError
from search_spaces.loader import list_spaces, load_space, parse_space
from search_spaces.space import SearchSpace
from search_spaces.suggesters import RandomSuggester, Suggester

__all__ = [
    "ArchSpec",
    "RandomSuggester",
    "SearchSpace",
    "SpaceError",
    "Suggester",
    "list_spaces",
    "load_space",
    "parse_space",
]
