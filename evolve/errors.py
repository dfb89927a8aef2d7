"""Errors the CLI turns into one line on stderr and exit code 2 (bad input, never a traceback)."""

from __future__ import annotations


class UserError(Exception):
    """Bad input a user can fix; the message names the problem and the fix."""


class DataError(UserError):
    """A data set that cannot be found or read."""
