"""What the benchmark renderers share: markdown tables, mean ± std, durations and the line naming
where a table was measured (no torch import)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

Renderer = Callable[[dict[str, Any], str | None], str]


# --------------------------------------------------------------------------- helpers
def md(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """A GitHub-markdown table; ``align`` holds one letter per column (``l`` or ``r``)."""
    align = align.ljust(len(header), "l")
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = [header, rule, *rows]
    return "\n".join("| " + " | ".join(str(c) for c in line) + " |" for line in lines)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    vals = [float(v) for v in values]
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def pm(values: Sequence[float], scale: float = 1.0, digits: int = 2) -> str:
    """``mean ± std`` of ``values × scale``."""
    m, s = mean_std([v * scale for v in values])
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s`` or ``1 h 02 min``."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def signed(x: float, digits: int = 3) -> str:
    return f"{x:+.{digits}f}".replace("-", "−")


def no_variant(variant: str | None, name: str) -> None:
    if variant is not None:
        raise KeyError(f"{name} has no variant {variant!r}")


def provenance(meta: dict[str, Any]) -> str:
    """The line under every table: commit, date, command, versions, CPUs and wall time."""
    cmd = meta["command"]
    how = f"`{cmd['make']}` (`{cmd['script']}`)" if cmd.get("make") else f"`{cmd['script']}`"
    wall = f", {duration(meta['wall_seconds'])}" if meta.get("wall_seconds") is not None else ""
    return (
        f"<sub>Measured at commit `{meta['commit']}` on {meta['date']} with {how}; python {meta['python']}, torch {meta['torch']}, "
        f"{meta['cpus']} CPUs{wall}.</sub>"
    )


def missing(command: str) -> str:
    """What a block says while its JSON does not exist."""
    return f"_Not yet measured on the current code: run `{command}`._"
