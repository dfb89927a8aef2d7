"""The search engine: the trial loop, the Ray loop, trial evaluation and the reference point."""
