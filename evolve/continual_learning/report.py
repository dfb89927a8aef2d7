"""A stream run as text (the accuracy matrix and its metrics) and as a heat map of R."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evolve.continual_learning.runner import ContinualResult

__all__ = ["format_result", "plot_r"]


def format_result(result: ContinualResult, energy_uj: float) -> str:
    """R as a table (rows: after training task i; columns: task j), then ACC, BWT, forgetting
    and the energy per inference, joined by newlines."""
    n = len(result.tasks)
    width = max(6, *(len(t) for t in result.tasks))
    lines = [f"R (test accuracy on each task, rows: after training task i) — {result.strategy}"]
    lines.append(" " * (width + 2) + " ".join(t[:width].rjust(width) for t in result.tasks))
    for i in range(n):
        row = " ".join(f"{v:.3f}".rjust(width) for v in result.r[i])
        lines.append(f"{result.tasks[i][:width].ljust(width)}  {row}")
    m = result.metrics
    lines.append(
        f"ACC {m.acc:.4f}  BWT {m.bwt:+.4f}  forgetting {m.forgetting:.4f}  "
        f"energy {energy_uj:.4g} µJ/inference"
    )
    return "\n".join(lines)


def plot_r(result: ContinualResult, path: Path) -> Path | None:
    """Draw R as a heat map (rows: after task i; columns: task j) into ``path``; ``None`` when
    matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    n = len(result.tasks)
    fig = Figure(figsize=(1.2 * n + 2, 1.0 * n + 1.5))
    ax = fig.subplots()
    im = ax.imshow(result.r, vmin=0.0, vmax=1.0, cmap="viridis")
    for i in range(n):
        for j in range(n):
            v = result.r[i][j]
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="w" if v < 0.6 else "k")
    ax.set_xticks(range(n), result.tasks, rotation=30, ha="right")
    ax.set_yticks(range(n), [f"after {t}" for t in result.tasks])
    m = result.metrics
    ax.set_title(
        f"{result.stream} / {result.strategy}: ACC {m.acc:.3f}, BWT {m.bwt:+.3f}", fontsize=10
    )
    fig.colorbar(im, ax=ax, label="test accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
