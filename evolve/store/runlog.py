"""The run log: what the library says goes into the run folder's ``log.txt``, and nowhere else.

The library never touches the caller's logging set-up (no handler of theirs is added, removed or
reconfigured). Messages go to the sinks opened by :func:`run_log` in the current context: the
run's ``log.txt`` (every level) and, when asked, the terminal (``echo``: the lowest level shown).
Outside a :func:`run_log` block the library says nothing.

Example:
    >>> import io, pathlib, tempfile
    >>> out = io.StringIO()
    >>> with tempfile.TemporaryDirectory() as d, run_log(pathlib.Path(d) / "log.txt",
    ...                                                  echo="WARNING", stream=out):
    ...     logger.info("trial {} done", 3)
    ...     logger.warning("trial {} failed", 4)
    ...     text = (pathlib.Path(d) / "log.txt").read_text()
    >>> "INFO" in text and "trial 3 done" in text and "trial 4 failed" in text
    True
    >>> out.getvalue()
    'WARNING: trial 4 failed\\n'
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["LEVELS", "echo_level", "logger", "run_log"]

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


@dataclass
class _Sink:
    level: int
    file: IO[str] | None  # None: the terminal's stream, looked up when written (tests swap it)
    terminal: bool
    stream: IO[str] | None = None

    def write(self, level: str, text: str) -> None:
        if self.terminal:
            out = self.stream if self.stream is not None else sys.stderr
            out.write(f"{level}: {text}\n")
            out.flush()
        elif self.file is not None:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            self.file.write(f"{stamp} | {level:<8} | {text}\n")
            self.file.flush()


_SINKS: contextvars.ContextVar[tuple[_Sink, ...]] = contextvars.ContextVar(
    "evolve_log_sinks", default=()
)


class RunLogger:
    """``logger.info("trial {} arch {}", n, arch)``: ``str.format`` style, like loguru's."""

    def _emit(
        self, level: str, message: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        sinks = [s for s in _SINKS.get() if LEVELS[level] >= s.level]
        if not sinks:
            return
        text = message.format(*args, **kwargs) if args or kwargs else message
        for sink in sinks:
            sink.write(level, text)

    def debug(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._emit("DEBUG", message, args, kwargs)

    def info(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._emit("INFO", message, args, kwargs)

    def warning(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._emit("WARNING", message, args, kwargs)

    def error(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._emit("ERROR", message, args, kwargs)


#: The library's logger (writes only inside :func:`run_log`).
logger = RunLogger()


def echo_level(progress: bool, verbose: bool) -> str | None:
    """The terminal level of a library call: none unless ``progress`` or ``verbose`` (then
    warnings, or INFO with ``verbose``)."""
    if not (progress or verbose):
        return None
    return "INFO" if verbose else "WARNING"


@contextlib.contextmanager
def run_log(
    path: Path | None, *, echo: str | None = None, stream: IO[str] | None = None
) -> Iterator[None]:
    """Within the block, the library's messages go to ``path`` (appended, every level) and, if
    ``echo`` names a level (``"INFO"``, ``"WARNING"``), those at or above it to ``stream``
    (standard error by default). Blocks nest: an inner one adds its sinks to the outer ones', and
    there is one terminal sink at most (the most verbose level asked for)."""
    with contextlib.ExitStack() as stack:
        sinks = list(_SINKS.get())
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = stack.enter_context(path.open("a", encoding="utf-8"))
            sinks.append(_Sink(LEVELS["DEBUG"], handle, terminal=False))
        if echo is not None:
            # one terminal sink at most: the most verbose level asked for
            terminal = [x for x in sinks if x.terminal]
            if not terminal or LEVELS[echo] < terminal[0].level:
                sinks = [x for x in sinks if not x.terminal]
                sinks.append(_Sink(LEVELS[echo], None, terminal=True, stream=stream))
        token = _SINKS.set(tuple(sinks))
        try:
            yield
        finally:
            _SINKS.reset(token)
