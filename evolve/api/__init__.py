"""The public Python API: every command's work as a function, and the :class:`Run` a search leaves."""
