"""The run store: run folders, atomic writes, results files and checkpoints."""
