"""The pictures of ``evolve explain``: spike activation maps, membrane traces, firing rates.

Each ``*_figure`` function builds a :class:`matplotlib.figure.Figure` on the Agg canvas (no
pyplot, no global backend state) and each ``plot_*`` function saves one as a PNG at :data:`DPI`
(through :func:`save`). The report shows these PNGs in a column about 670 px wide, so a figure is
at most :data:`WIDTH` inches wide (it shows there at 1:1, not scaled down), and every text has an
explicit size of at least :data:`SMALL` pt, i.e. ``SMALL * DPI / 72`` ≥ :data:`MIN_PX` pixels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from evolve.report.figure_parts import (
    LABEL,
    MIN_PX,
    OVERLAY_ALPHA,
    SAM_CMAP,
    SMALL,
    TITLE,
    _aspect,
    _colorbar,
    _global_scale,
    _show_input,
    _step_ticks,
    _ticks,
    _token_grid,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from torch import Tensor

    from snn_models.explain import Activity, Maps

__all__ = [
    "DPI",
    "MIN_PX",
    "RUNAWAY",
    "SAM_CMAP",
    "SILENT",
    "WIDTH",
    "membrane_figure",
    "plot_membrane",
    "plot_rates",
    "plot_sam",
    "plot_sam_time",
    "rates_figure",
    "sam_figure",
    "sam_time_figure",
    "save",
]

#: firing-rate bands of the runaway/silence monitor (snn_models.neurons.base)
SILENT, RUNAWAY = 0.05, 0.95
#: resolution of the saved PNGs (pixels per inch)
DPI = 100
#: widest figure (inches): the report's figure column is about 670 px, so this shows at 1:1
WIDTH = 6.6
#: the line colours of the membrane traces (Okabe-Ito, colour-blind safe; none is the
#: threshold's red); past six neurons the line style changes too
_TRACE_COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#000000")


def _figure(width: float, height: float) -> Figure:
    """A matplotlib Figure drawn by the Agg canvas (no pyplot, no global backend state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: Path) -> None:
    """Write ``fig`` as a PNG at :data:`DPI`."""
    fig.savefig(path, dpi=DPI)


def sam_figure(
    canvas: Tensor,
    maps: Maps,
    timesteps: int,
    title: str,
    *,
    peaks: Mapping[str, Sequence[float]] | None = None,
    grids: Mapping[str, tuple[int, int]] | None = None,
) -> Figure:
    """One row per drawn layer: the input, then each step's map laid over the input in grey.

    Args:
        canvas: The input as a picture (:func:`snn_models.explain.input_canvas`).
        maps: The maps, each step normalised to [0, 1] by :func:`snn_models.explain.explain_maps`.
        timesteps: The network's steps (one column each).
        title: A line added to the title.
        peaks: layer → each step's maximum before that normalisation. With it every tile uses
            one colour scale: the raw map divided by its maximum over all layers and steps.
            Without it each step keeps its own normalisation (and the title says so).
        grids: layer → the (rows, columns) of its token grid, drawn as lines on its tiles.
    """
    layers = list(maps.maps)
    scale = _global_scale(maps, peaks)
    aspect = _aspect(canvas)
    colour = canvas.numpy()
    grey = colour.mean(axis=-1) if colour.ndim == 3 else colour
    h, w = int(canvas.shape[0]), int(canvas.shape[1])

    label_w, min_cell, max_cell = 1.4, 0.6, 1.15
    avail = WIDTH - label_w - 0.2
    per_line = max(1, timesteps)
    if avail / (per_line + 1) < min_cell:  # many steps: wrap them onto several lines
        per_line = max(1, int(avail // min_cell) - 1)
    lines = math.ceil(max(1, timesteps) / per_line)
    cell = min(max_cell, avail / (per_line + 1))
    tile_h = min(2.0, max(0.45, cell * h / w)) if aspect == "equal" else 0.75 * cell
    wrapped = lines > 1
    rows = max(1, len(layers)) * lines
    cols = per_line + 1
    fig = _figure(
        min(WIDTH, label_w + cols * cell + 0.2),
        rows * (tile_h + (0.3 if wrapped else 0.1)) + 1.6,
    )
    axes = fig.subplots(rows, cols, squeeze=False)
    head = "spike activation maps (Kim & Panda 2021, γ = 0.5) over the input"
    if scale is not None:
        how = f"one colour scale for all tiles: SAM ÷ {scale[0]:.4g}, its maximum over all layers and steps"
    else:
        how = "each step's map ÷ its own maximum (not comparable between tiles)"
    fig.suptitle(f"{head}\n{how}\n{title}", fontsize=TITLE)
    if not layers:
        _show_input(axes[0][0], colour, aspect)
        axes[0][0].set_title("input", fontsize=LABEL)
        for ax in axes[0][1:]:
            ax.axis("off")
        reasons = "\n".join(f"{k}: {v}" for k, v in maps.skipped.items())
        axes[0][1].text(
            0, 0.5, "no layer can be drawn on the input\n" + reasons, fontsize=SMALL, va="center"
        )
        return fig
    for li, layer in enumerate(layers):
        m = maps.maps[layer]
        grid = (grids or {}).get(layer)
        for line in range(lines):
            r = li * lines + line
            first = axes[r][0]
            if line == 0:
                _show_input(first, colour, aspect)
                if grid is not None:
                    _token_grid(first, (h, w), grid)
                first.set_ylabel(
                    f"{layer}\n({maps.methods[layer]})",
                    fontsize=SMALL,
                    rotation=0,
                    ha="right",
                    va="center",
                    labelpad=4,
                )
                if r == 0:
                    first.set_title("input", fontsize=LABEL)
            else:
                first.axis("off")
            for j in range(per_line):
                t = line * per_line + j
                ax = axes[r][j + 1]
                if t >= timesteps:
                    ax.axis("off")
                    continue
                _show_input(ax, grey, aspect)
                if t < m.shape[0]:
                    heat = m[t].numpy() * (scale[1][layer][t] if scale is not None else 1.0)
                    ax.imshow(
                        heat,
                        cmap=SAM_CMAP,
                        alpha=np.where(heat > 0, OVERLAY_ALPHA, 0.0),  # zero: the input shows
                        vmin=0.0,
                        vmax=1.0,
                        interpolation="nearest",
                        aspect=aspect,
                    )
                if grid is not None:
                    _token_grid(ax, (h, w), grid)
                if r == 0 or wrapped:
                    ax.set_title(f"t = {t}", fontsize=LABEL)
    what = "SAM ÷ figure maximum" if scale is not None else "SAM ÷ step maximum"
    _colorbar(
        fig,
        list(axes.ravel()),
        f"{what}\n(laid over the grey input at α {OVERLAY_ALPHA}; 0: transparent"
        + ("; red dashes: token patches)" if grids else ")"),
    )
    return fig


def sam_time_figure(
    series: Tensor,
    maps: Maps,
    title: str,
    *,
    peaks: Mapping[str, Sequence[float]] | None = None,
) -> Figure:
    """A temporal network: one panel per layer, the series (each channel) over a heat strip of
    the layer's SAM along time, on one colour scale for all layers when ``peaks`` (layer → the
    curve's maximum before normalisation) is given."""
    layers = list(maps.maps)
    scale = _global_scale(maps, peaks)
    rows = len(layers)
    fig = _figure(WIDTH, 1.45 * rows + 1.6)
    axes = fig.subplots(rows, 1, squeeze=False, sharex=True)
    if scale is not None:
        how = f"one colour scale: SAM ÷ {scale[0]:.4g}, its maximum over all layers"
    else:
        how = "each layer's curve ÷ its own maximum"
    fig.suptitle(
        f"spike activation over time (γ = 0.5) under the input series\n{how}\n{title}",
        fontsize=TITLE,
    )
    values = series.detach().float().reshape(-1, series.shape[-1]).numpy()  # [C, L]
    lo, hi = float(values.min()), float(values.max())
    pad = 0.05 * (hi - lo or 1.0)
    for r, (layer, curve) in enumerate(maps.maps.items()):
        ax = axes[r][0]
        heat = curve.numpy()[None, :] * (scale[1][layer][0] if scale is not None else 1.0)
        ax.imshow(
            heat,
            cmap=SAM_CMAP,
            alpha=OVERLAY_ALPHA,
            vmin=0.0,
            vmax=1.0,
            aspect="auto",
            extent=(-0.5, values.shape[1] - 0.5, lo - pad, hi + pad),
            interpolation="nearest",
        )
        for c, channel in enumerate(values):
            ax.plot(channel, color="black", lw=0.9, alpha=1.0 if c == 0 else 0.6)
        ax.set_title(f"{layer} ({maps.methods[layer]})", fontsize=LABEL, loc="left")
        ax.set_ylabel("input value (a.u.)", fontsize=LABEL)
        _ticks(ax)
    axes[-1][0].set_xlabel("sample of the series (index)", fontsize=LABEL)
    what = "SAM ÷ figure maximum" if scale is not None else "SAM ÷ layer maximum"
    _colorbar(fig, list(axes.ravel()), f"{what} (α {OVERLAY_ALPHA} under the series)")
    return fig


def membrane_figure(act: Activity, picks: Mapping[str, Sequence[int]], title: str) -> Figure:
    """One panel per spiking layer: the traced neurons' membranes, threshold, spikes; the
    legend sits right of each panel, off the lines."""
    from matplotlib.lines import Line2D

    layers = list(picks)
    cols = 1 if len(layers) == 1 else 2
    rows = math.ceil(len(layers) / cols)
    fig = _figure(WIDTH, 2.0 * rows + 1.0)
    axes = fig.subplots(rows, cols, squeeze=False)
    pre = all(act.pre_reset.values())
    what = "pre-reset membrane potential" if pre else "membrane potential (post-reset where marked)"
    fig.suptitle(
        f"{what} v of the most active neurons per layer\n"
        f"v in the model's units (a.u.); dashed: firing threshold θ; ▲: a spike\n{title}",
        fontsize=TITLE,
    )
    for ax in axes.ravel()[len(layers) :]:
        ax.axis("off")
    for ax, layer in zip(axes.ravel(), layers, strict=False):
        v = act.membrane[layer][:, 0].flatten(1)
        s = act.spikes[layer][:, 0].flatten(1)
        steps = list(range(v.shape[0]))
        few = len(steps) <= 40
        handles, names = [], []
        for k, i in enumerate(picks[layer]):
            colour = _TRACE_COLOURS[k % len(_TRACE_COLOURS)]
            style = ("-", "--", ":", "-.")[(k // len(_TRACE_COLOURS)) % 4]
            (line,) = ax.plot(
                steps, v[:, i].numpy(), color=colour, ls=style, marker="." if few else None, lw=1.3
            )
            fired = [t for t in steps if s[t, i] > 0]
            if fired:
                ax.scatter(
                    fired,
                    v[fired, i].numpy(),
                    marker="^",
                    s=36 if few else 12,
                    color=colour,
                    edgecolors="black",
                    linewidths=0.6,
                    zorder=3,
                )
            handles.append(line)
            names.append(f"#{i}: {len(fired)} spike{'' if len(fired) == 1 else 's'}")
        theta = act.thresholds[layer]
        ax.axhline(theta, color="#d62728", ls="--", lw=1.2)
        handles.append(Line2D([], [], color="#d62728", ls="--", lw=1.2))
        names.append(f"θ = {theta:.3g}")
        suffix = "" if act.pre_reset.get(layer, True) else ", post-reset"
        ax.set_title(f"{layer} ({act.kinds[layer]}{suffix})", fontsize=LABEL)
        ax.set_xlabel("timestep t (step)", fontsize=LABEL)
        ax.set_ylabel("v (a.u.)", fontsize=LABEL)
        _step_ticks(ax, len(steps))
        _ticks(ax)
        ax.grid(True, alpha=0.25)
        ax.legend(
            handles,
            names,
            fontsize=SMALL,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0.0,
            frameon=False,
            handlelength=1.6,
        )
    return fig


def rates_figure(
    rates: Mapping[str, float],
    steps: Mapping[str, Sequence[float]],
    kinds: Mapping[str, str],
    title: str,
) -> Figure:
    """Top: mean rate per layer (bars; silent grey, runaway red, else blue); below: one small
    panel per layer with its rate at each step (the same colour), on shared axes."""
    from matplotlib.patches import Patch

    layers = list(rates)
    n = max(1, len(layers))
    cols = min(3, n)
    rows = math.ceil(n / cols)
    bars_h = max(1.6, 0.24 * n + 1.0)
    steps_h = 1.25 * rows + 0.7
    fig = _figure(WIDTH, bars_h + steps_h + 0.7)
    fig.suptitle(f"firing rates\n{title}", fontsize=TITLE)
    top, bottom = fig.subfigures(2, 1, height_ratios=[bars_h, steps_h])  # type: ignore[misc]

    def status(r: float) -> str:
        return "tab:gray" if r < SILENT else "tab:red" if r > RUNAWAY else "tab:blue"

    left = top.subplots()
    ys = list(range(len(layers)))
    left.barh(ys, list(rates.values()), color=[status(r) for r in rates.values()])
    for y, r in zip(ys, rates.values(), strict=True):
        left.text(
            r + 0.01,
            y,
            f"{r:.3f}",
            va="center",
            fontsize=SMALL,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
            zorder=4,
        )
    left.set_yticks(ys, [f"{k} ({kinds[k]})" for k in layers])
    left.invert_yaxis()
    for x, name in ((SILENT, "silent"), (RUNAWAY, "runaway")):
        left.axvline(x, color="black", ls=":", lw=1)
        left.text(x, 1.01, name, transform=left.get_xaxis_transform(), fontsize=SMALL, ha="center")
    left.set_xlim(0, 1)
    left.set_xlabel("mean firing rate (spikes per neuron per step)", fontsize=LABEL)
    left.set_title("mean over all steps, per layer", fontsize=LABEL, pad=14)
    _ticks(left)
    left.legend(
        [Patch(color=c) for c in ("tab:blue", "tab:gray", "tab:red")],
        ["active", f"silent (< {SILENT})", f"runaway (> {RUNAWAY})"],
        fontsize=SMALL,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        frameon=False,
        title="bar colour",
        title_fontsize=SMALL,
    )

    panels = bottom.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    bottom.suptitle("rate at each step, one panel per layer", fontsize=LABEL)
    n_steps = max((len(v) for v in steps.values()), default=1)
    for ax in panels.ravel()[len(layers) :]:
        ax.axis("off")
    for k, (ax, layer) in enumerate(zip(panels.ravel(), layers, strict=False)):
        values = list(steps[layer])
        ax.axhspan(0, SILENT, color="tab:gray", alpha=0.15, lw=0)
        ax.axhspan(RUNAWAY, 1.02, color="tab:red", alpha=0.12, lw=0)
        ax.plot(
            range(len(values)),
            values,
            color=status(rates[layer]),
            marker="o" if len(values) <= 40 else None,
            markersize=3.5,
            lw=1.3,
        )
        ax.set_title(layer, fontsize=SMALL, pad=2)
        ax.set_ylim(0, 1.02)
        ax.set_yticks([0, 0.5, 1])
        ax.grid(True, alpha=0.25)
        _step_ticks(ax, n_steps)
        _ticks(ax)
        if k % cols == 0:
            ax.set_ylabel("rate (spikes/\nneuron/step)", fontsize=SMALL)
        if k >= len(layers) - cols:  # the lowest panel of its column
            ax.set_xlabel("timestep t (step)", fontsize=SMALL)
            ax.tick_params(labelbottom=True)
    return fig


def plot_sam(
    path: Path,
    canvas: Tensor,
    maps: Maps,
    timesteps: int,
    title: str,
    *,
    peaks: Mapping[str, Sequence[float]] | None = None,
    grids: Mapping[str, tuple[int, int]] | None = None,
) -> None:
    """Save :func:`sam_figure` as ``path``."""
    save(sam_figure(canvas, maps, timesteps, title, peaks=peaks, grids=grids), path)


def plot_sam_time(
    path: Path,
    series: Tensor,
    maps: Maps,
    title: str,
    *,
    peaks: Mapping[str, Sequence[float]] | None = None,
) -> None:
    """Save :func:`sam_time_figure` as ``path``."""
    save(sam_time_figure(series, maps, title, peaks=peaks), path)


def plot_membrane(
    path: Path, act: Activity, picks: Mapping[str, Sequence[int]], title: str
) -> None:
    """Save :func:`membrane_figure` as ``path``."""
    save(membrane_figure(act, picks, title), path)


def plot_rates(
    path: Path,
    rates: Mapping[str, float],
    steps: Mapping[str, Sequence[float]],
    kinds: Mapping[str, str],
    title: str,
) -> None:
    """Save :func:`rates_figure` as ``path``."""
    save(rates_figure(rates, steps, kinds, title), path)
