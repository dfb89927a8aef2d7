"""The drawing parts the ``evolve explain`` figures share: font sizes, tick styling, the input
under a map, the token grid, one colour scale per figure and its colour bar."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from torch import Tensor

    from snn_models.explain import Maps

#: the smallest text height allowed, in pixels at DPI
MIN_PX = 9.0
#: font sizes (pt): the smallest, 7.5 pt, is 10.4 px at 100 dpi
SMALL, TICK, LABEL, TITLE = 7.5, 8.0, 8.5, 9.5
#: the spike activation maps' colour map: perceptually uniform, readable in grey
SAM_CMAP = "viridis"
#: opacity of a map laid over the grey input (a zero of the map is fully transparent)
OVERLAY_ALPHA = 0.6
_GRID_COLOUR = "#ff3b30"


def _ticks(ax: Axes) -> None:
    """Tick labels (and any offset or exponent text) at :data:`TICK` pt."""
    ax.tick_params(labelsize=TICK)
    ax.xaxis.get_offset_text().set_fontsize(TICK)
    ax.yaxis.get_offset_text().set_fontsize(TICK)


def _aspect(canvas: Tensor) -> Literal["equal", "auto"]:
    """Square pixels for images; stretched for a strip (features) or a long sequence."""
    h, w = int(canvas.shape[0]), int(canvas.shape[1])
    return "auto" if min(h, w) == 1 or max(h, w) > 8 * min(h, w) else "equal"


def _step_ticks(ax: Axes, n_steps: int) -> None:
    """Every timestep as a tick for short runs; a handful of whole numbers for long ones (a
    temporal network runs one step per window of its series)."""
    if n_steps <= 12:
        ax.set_xticks(list(range(n_steps)))
    else:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))


def _show_input(ax: Axes, img: np.ndarray, aspect: Literal["equal", "auto"]) -> None:
    ax.imshow(img, cmap=None if img.ndim == 3 else "gray", interpolation="nearest", aspect=aspect)
    ax.set_xticks([])
    ax.set_yticks([])


def _token_grid(ax: Axes, shape: tuple[int, int], grid: tuple[int, int]) -> None:
    """Dashed lines between the patches that a transformer's tokens stand for (red: seen on
    black, white and every colour of the map)."""
    rows, cols = shape
    for k in range(1, grid[0]):
        ax.axhline(k * rows / grid[0] - 0.5, color=_GRID_COLOUR, lw=1.4, ls="--")
    for k in range(1, grid[1]):
        ax.axvline(k * cols / grid[1] - 0.5, color=_GRID_COLOUR, lw=1.4, ls="--")


def _global_scale(
    maps: Maps, peaks: Mapping[str, Sequence[float]] | None
) -> tuple[float, dict[str, list[float]]] | None:
    """``(figure maximum, layer → factor per step)`` that turns every normalised map into the
    raw map divided by the maximum over all layers and steps; ``None`` without peaks."""
    if peaks is None or any(layer not in peaks for layer in maps.maps):
        return None
    top = max((float(p) for layer in maps.maps for p in peaks[layer]), default=0.0)
    if not top > 0:
        return None
    return top, {layer: [float(p) / top for p in peaks[layer]] for layer in maps.maps}


def _colorbar(fig: Figure, axes: list[Axes], label: str) -> None:
    """One horizontal colour bar of :data:`SAM_CMAP` on [0, 1] above ``axes``."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    bar = fig.colorbar(
        ScalarMappable(Normalize(0.0, 1.0), cmap=SAM_CMAP),
        ax=axes,
        location="top",
        shrink=0.8,
        aspect=35,
        fraction=0.04,
        pad=0.02,
    )
    bar.set_label(label, fontsize=SMALL)
    bar.ax.tick_params(labelsize=TICK)
