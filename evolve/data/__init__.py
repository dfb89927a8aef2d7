"""Data sets: the embedded and packaged ones by name, users' files, and arrays passed in memory."""
