"""The errors the library raises for input a user can fix (the CLI prints them as one line and
exits with status 2; a Python caller catches :class:`UserError`).

Each package below ``evolve`` has its own error class (``search_spaces.SpaceError``,
``agents.AgentError``, ``snn_models.ConfigError``); the public API turns them into the
matching subclass here (:func:`translated`), so one ``except evolve.UserError`` catches every
bad input, and the original stays reachable as ``__cause__``.

Example:
    >>> from agents.errors import AgentError
    >>> try:
    ...     with translated():
    ...         raise AgentError("unknown agent 'x'; choose from optuna, random")
    ... except UserError as e:
    ...     print(type(e).__name__, "-", e)
    AgentInputError - unknown agent 'x'; choose from optuna, random
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

__all__ = [
    "AgentInputError",
    "DataError",
    "FailuresStopped",
    "Interrupted",
    "ModelSpecError",
    "RunError",
    "SpaceInputError",
    "UserError",
    "one_line",
    "translated",
]


class UserError(Exception):
    """Bad input a user can fix; the message names the problem and the fix."""


class DataError(UserError):
    """A data set that cannot be found or read, or data that does not fit."""


class RunError(UserError):
    """A run folder or study that is missing, damaged, or exists already."""


class SpaceInputError(UserError):
    """A search space that cannot be loaded or sampled (``search_spaces.SpaceError``)."""


class AgentInputError(UserError):
    """A bad agent, sampler, objective or storage setting (``agents.AgentError``)."""


class ModelSpecError(UserError):
    """A model spec that cannot be built (``snn_models.ConfigError``)."""


#: Library error classes (module, class name) → the UserError subclass they become. A module
#: that is not imported yet cannot have raised anything, so nothing is imported here.
_FOREIGN = (
    ("search_spaces.errors", "SpaceError", SpaceInputError),
    ("agents.errors", "AgentError", AgentInputError),
    ("snn_models.errors", "ConfigError", ModelSpecError),
)


def one_line(e: BaseException) -> str:
    """The message of ``e`` on one line (a wrapped library error may span several)."""
    text = " ".join(line.strip() for line in str(e).splitlines() if line.strip())
    return text or type(e).__name__


def as_user_error(e: BaseException) -> UserError | None:
    """``e`` as a :class:`UserError` (itself, or its translation), or None if it is not bad
    input."""
    if isinstance(e, UserError):
        return e
    for module, name, cls in _FOREIGN:
        mod = sys.modules.get(module)
        if mod is not None and isinstance(e, getattr(mod, name)):
            err = cls(one_line(e))
            err.__cause__ = e
            return err
    return None


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Re-raise the packages' own bad-input errors as :class:`UserError` subclasses."""
    try:
        yield
    except UserError:
        raise
    except Exception as e:
        err = as_user_error(e)
        if err is None:
            raise
        raise err from e


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run: the running trial was recorded as failed and the results written;
    ``run_dir`` is the study's folder (continue it with ``resume=True``)."""

    def __init__(self, run_dir: object, study: str) -> None:
        super().__init__(f"study {study!r} interrupted; continue it with resume=True")
        self.run_dir = run_dir
        self.study = study


class FailuresStopped(RunError):
    """A run stopped because too many trials in a row failed (``max_failures``); its results
    are written. ``run_dir`` is the study's folder."""

    def __init__(self, message: str, run_dir: object) -> None:
        super().__init__(message)
        self.run_dir = run_dir
