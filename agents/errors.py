"""Errors raised by the agents: one line a user can act on (the CLI maps them to exit code 2)."""

from __future__ import annotations

__all__ = ["AgentError", "StudyExistsError"]


class AgentError(ValueError):
    """Bad input to an agent: an unknown name, a study that does not match, a malformed result."""


class StudyExistsError(AgentError):
    """The study already exists in the storage and ``resume`` was not asked for."""
