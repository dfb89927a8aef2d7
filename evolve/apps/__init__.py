"""Applications built on the engine."""
