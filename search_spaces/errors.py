"""The errors a search space raises: one line a user can act on.

A :class:`SpaceError` names the file, the line, the dotted key and the problem, with a hint in
parentheses::

    my_space.yaml:12: layers.params.decay.low: low 0.9 is above high 0.3 (bounds are inclusive; swap them)

Validation that runs before line numbers are known (building a dimension or a space in Python)
raises a :class:`SchemaProblem` that carries the key path; the loader turns it into a
:class:`SpaceError` by looking the path up in the YAML it parsed.
"""

from __future__ import annotations

import difflib

__all__ = [
    "KeyPath",
    "SchemaProblem",
    "SpaceError",
    "did_you_mean",
    "format_key",
    "show_value",
]

KeyPath = tuple[str | int, ...]
"""A path into the YAML document: mapping keys are strings, list positions are ints."""


def format_key(path: KeyPath) -> str:
    """Writes a key path the way messages show it: ``layers.params.kind.choices[2]``.

    Args:
        path: Mapping keys (str) and list positions (int), outermost first.

    Returns:
        The dotted key, or ``<root>`` for the empty path (the document itself).

    Example:
        >>> format_key(("params", "kind", "choices", 2))
        'params.kind.choices[2]'
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "<root>"


class SchemaProblem(ValueError):
    """An invalid search-space entry, found where no file or line is known.

    Attributes:
        path: Where the problem is, relative to the object being validated.
        problem: What is wrong, in a few words.
        hint: How to fix it (may be empty).
    """

    def __init__(self, path: KeyPath, problem: str, hint: str = "") -> None:
        self.path: KeyPath = tuple(path)
        self.problem = problem
        self.hint = hint
        super().__init__(_one_line(format_key(self.path), problem, hint))

    def within(self, *prefix: str | int) -> SchemaProblem:
        """The same problem with its path placed under ``prefix``."""
        return SchemaProblem((*prefix, *self.path), self.problem, self.hint)


class SpaceError(ValueError):
    """A search space that cannot be loaded, with the place and the fix in one line.

    The message is ``file:line: key: problem (hint)``; where there is no line (a missing file,
    an unknown space name) it is ``file: problem (hint)``.

    Attributes:
        file: The path as given, or the library file name (``hybrid_neuron.yaml``).
        line: 1-based line in ``file``, or ``None``.
        key: The dotted key (``layers.params.decay.low``), ``<root>``, ``<yaml>`` for a syntax
            error, or ``""`` where no key applies.
        problem: What is wrong.
        hint: How to fix it (may be empty).
    """

    def __init__(self, file: str, line: int | None, key: str, problem: str, hint: str = "") -> None:
        self.file = file
        self.line = line
        self.key = key
        self.problem = problem
        self.hint = hint
        where = file if line is None else f"{file}:{line}"
        super().__init__(f"{where}: " + _one_line(key, problem, hint))


def _one_line(key: str, problem: str, hint: str) -> str:
    text = f"{key}: {problem}" if key else problem
    if hint:
        text += f" ({hint})"
    return text.replace("\r", " ").replace("\n", " ")


def did_you_mean(word: str, options: list[str] | tuple[str, ...]) -> str:
    """``"did you mean 'X'?"`` for the closest of ``options``, or ``""`` if none is close."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def show_value(value: object) -> str:
    """A value as a message shows it, with its YAML type: ``float 1.5``, ``string '1e-3'``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"bool {str(value).lower()}"
    if isinstance(value, int | float):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"{type(value).__name__} {value!r}"
