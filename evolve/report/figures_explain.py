"""The pictures of ``evolve explain``: spike activation maps, membrane traces, firing rates.

Each function draws one PNG with a :class:`matplotlib.figure.Figure` on the Agg canvas (no
pyplot, no global backend state).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from torch import Tensor

    from snn_models.explain import Activity, Maps

__all__ = ["DPI", "RUNAWAY", "SILENT", "plot_membrane", "plot_rates", "plot_sam", "plot_sam_time"]

#: firing-rate bands of the runaway/silence monitor (snn_models.neurons.base)
SILENT, RUNAWAY = 0.05, 0.95
DPI = 100


def _figure(width: float, height: float) -> Any:
    """A matplotlib Figure drawn by the Agg canvas (no pyplot, no global backend state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _aspect(canvas: Tensor) -> Literal["equal", "auto"]:
    """Square pixels for images; stretched for a strip (features) or a long sequence."""
    h, w = int(canvas.shape[0]), int(canvas.shape[1])
    return "auto" if min(h, w) == 1 or max(h, w) > 8 * min(h, w) else "equal"


def _step_ticks(ax: Axes, n_steps: int) -> None:
    """Every timestep as a tick for short runs; a handful of whole numbers for long ones (a
    temporal network runs one step per window of its series)."""
    if n_steps <= 20:
        ax.set_xticks(list(range(n_steps)))
    else:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))


def _show_input(ax: Axes, canvas: Tensor) -> None:
    img = canvas.numpy()
    cmap = None if img.ndim == 3 else "gray"
    ax.imshow(img, cmap=cmap, interpolation="nearest", aspect=_aspect(canvas))
    ax.set_xticks([])
    ax.set_yticks([])


def plot_sam(path: Path, canvas: Tensor, maps: Maps, timesteps: int, title: str) -> None:
    """One row per drawn layer: the input, then each step's map (jet, α 0.5) over it."""
    rows = max(1, len(maps.maps))
    cols = timesteps + 1
    cell = 1.3
    fig = _figure(max(4.0, cols * cell + 1.0), rows * cell + 0.8)
    axes = fig.subplots(rows, cols, squeeze=False)
    fig.suptitle(f"spike activation maps (γ = 0.5, normalised per step)\n{title}", fontsize=9)
    if not maps.maps:
        _show_input(axes[0][0], canvas)
        axes[0][0].set_title("input", fontsize=8)
        for ax in axes[0][1:]:
            ax.axis("off")
        reasons = "; ".join(f"{k}: {v}" for k, v in maps.skipped.items())
        note = "no layer can be drawn on the input\n" + reasons
        axes[0][1].text(0, 0.5, note, fontsize=7, wrap=True, va="center")
    for r, (layer, m) in enumerate(maps.maps.items()):
        _show_input(axes[r][0], canvas)
        axes[r][0].set_ylabel(f"{layer}\n({maps.methods[layer]})", fontsize=7)
        if r == 0:
            axes[r][0].set_title("input", fontsize=8)
        for t in range(timesteps):
            ax = axes[r][t + 1]
            _show_input(ax, canvas)
            if t < m.shape[0]:
                heat = m[t].numpy()
                ax.imshow(
                    heat,
                    cmap="jet",
                    alpha=np.where(heat > 0, 0.35 + 0.5 * heat, 0.0),  # zero: the input shows
                    vmin=0.0,
                    vmax=1.0,
                    interpolation="nearest",
                    aspect=_aspect(canvas),
                )
            if r == 0:
                ax.set_title(f"t = {t}", fontsize=8)
    if maps.maps:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        scale = ScalarMappable(Normalize(0.0, 1.0), cmap="jet")
        fig.colorbar(
            scale, ax=axes[:, 1:].ravel().tolist(), shrink=min(0.6, 2.5 / rows), label="SAM"
        )
    fig.savefig(path, dpi=DPI)


def plot_sam_time(path: Path, series: Tensor, maps: Maps, title: str) -> None:
    """A temporal network: one panel per layer, the series (each channel) over a heat strip of
    the layer's SAM along time."""
    rows = len(maps.maps)
    fig = _figure(8.0, 1.9 * rows + 0.8)
    axes = fig.subplots(rows, 1, squeeze=False, sharex=True)
    fig.suptitle(f"spike activation over time (γ = 0.5, normalised)\n{title}", fontsize=9)
    values = series.detach().float().reshape(-1, series.shape[-1]).numpy()  # [C, L]
    lo, hi = float(values.min()), float(values.max())
    pad = 0.05 * (hi - lo or 1.0)
    for r, (layer, curve) in enumerate(maps.maps.items()):
        ax = axes[r][0]
        ax.imshow(
            curve.numpy()[None, :],
            cmap="jet",
            alpha=0.45,
            vmin=0.0,
            vmax=1.0,
            aspect="auto",
            extent=(-0.5, values.shape[1] - 0.5, lo - pad, hi + pad),
            interpolation="nearest",
        )
        for c, channel in enumerate(values):
            ax.plot(channel, color="black", lw=0.9, alpha=1.0 if c == 0 else 0.6)
        ax.set_ylabel(f"{layer}\n(time)", fontsize=7)
        ax.tick_params(labelsize=7)
    axes[-1][0].set_xlabel("sample of the series", fontsize=8)
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    fig.colorbar(
        ScalarMappable(Normalize(0.0, 1.0), cmap="jet"), ax=axes.ravel().tolist(), label="SAM"
    )
    fig.savefig(path, dpi=DPI)


def plot_membrane(
    path: Path, act: Activity, picks: Mapping[str, Sequence[int]], title: str
) -> None:
    """One panel per spiking layer: the traced neurons' membranes, threshold, spikes."""
    layers = list(picks)
    cols = min(3, len(layers))
    rows = math.ceil(len(layers) / cols)
    fig = _figure(4.2 * cols, 2.8 * rows + 0.6)
    axes = fig.subplots(rows, cols, squeeze=False)
    what = "pre-reset membrane" if all(act.pre_reset.values()) else "membrane"
    fig.suptitle(f"{what} of the most active neurons per layer\n{title}", fontsize=9)
    for ax in axes.ravel()[len(layers) :]:
        ax.axis("off")
    for ax, layer in zip(axes.ravel(), layers, strict=False):
        v = act.membrane[layer][:, 0].flatten(1)
        s = act.spikes[layer][:, 0].flatten(1)
        steps = list(range(v.shape[0]))
        for i in picks[layer]:
            n_spikes = int(s[:, i].sum())
            (line,) = ax.plot(
                steps,
                v[:, i].numpy(),
                marker="." if len(steps) <= 40 else None,
                lw=1.2,
                label=f"#{i} ({n_spikes} spikes)",
            )
            fired = [t for t in steps if s[t, i] > 0]
            if fired:
                ax.scatter(
                    fired,
                    v[fired, i].numpy(),
                    marker="^",
                    s=40 if len(steps) <= 40 else 12,
                    color=line.get_color(),
                    edgecolors="black",
                    zorder=3,
                )
        ax.axhline(act.thresholds[layer], color="red", ls="--", lw=1, label="threshold")
        ax.set_title(f"{layer} ({act.kinds[layer]})", fontsize=8)
        ax.set_xlabel("timestep", fontsize=7)
        _step_ticks(ax, len(steps))
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="best")
    fig.savefig(path, dpi=DPI)


def plot_rates(
    path: Path,
    rates: Mapping[str, float],
    steps: Mapping[str, Sequence[float]],
    kinds: Mapping[str, str],
    title: str,
) -> None:
    """Left: mean rate per layer (bars; silent grey, runaway red); right: rate per step."""
    layers = list(rates)
    fig = _figure(11.0, max(3.2, 0.28 * len(layers) + 1.6))
    left, right = fig.subplots(1, 2, width_ratios=[1.1, 1.0])
    fig.suptitle(f"firing rates\n{title}", fontsize=9)
    colours = [
        "tab:gray" if r < SILENT else "tab:red" if r > RUNAWAY else "tab:blue"
        for r in rates.values()
    ]
    ys = list(range(len(layers)))
    left.barh(ys, list(rates.values()), color=colours)
    for y, r in zip(ys, rates.values(), strict=True):
        left.text(r + 0.01, y, f"{r:.3f}", va="center", fontsize=7)
    left.set_yticks(ys, [f"{k} ({kinds[k]})" for k in layers], fontsize=7)
    left.invert_yaxis()
    for x, name in ((SILENT, "silent"), (RUNAWAY, "runaway")):
        left.axvline(x, color="black", ls=":", lw=1)
        left.text(x, -0.6, name, fontsize=7, ha="center")
    left.set_xlim(0, 1)
    left.set_xlabel("mean firing rate (spikes per neuron per step)", fontsize=8)
    for layer in layers:
        n = len(steps[layer])
        right.plot(range(n), steps[layer], marker="o" if n <= 40 else None, lw=1.2, label=layer)
    _step_ticks(right, max((len(v) for v in steps.values()), default=1))
    right.set_xlabel("timestep", fontsize=8)
    right.set_ylabel("firing rate", fontsize=8)
    right.set_ylim(0, 1.02)
    if len(layers) <= 12:
        right.legend(fontsize=6, loc="best")
    fig.savefig(path, dpi=DPI)
