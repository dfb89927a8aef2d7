"""Errors a user can act on.

`ConfigError` is raised for a bad architecture description (unknown neuron type, non-positive
timesteps, ...). Its message is one line that names the offending key and the fix; the CLI prints
it and exits with code 2.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A model or neuron configuration that cannot be built, with a message naming the fix."""
