"""The report's pictures: the accuracy–energy front, the hypervolume history and the best
models' explanation figures, as PNG bytes without metadata (no text, time or EXIF chunks, so no
address rides along). Drawn with :class:`matplotlib.figure.Figure` on the Agg canvas: no
pyplot, no global backend state."""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolve.errors import UserError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "LABELS",
    "UNITS",
    "Figures",
    "clean_png",
    "front_figure",
    "front_plot",
    "hypervolume_figure",
    "hypervolume_plot",
    "model_figures",
]

#: Axis labels (with units) of the objectives a search may have.
LABELS = {
    "accuracy": "validation accuracy (fraction correct)",
    "cv_accuracy": "k-fold mean accuracy (fraction correct)",  # evolve.engine.selection
    "energy_uj": "energy per inference (µJ)",
    "latency_ms": "latency (ms)",
    "energy_ratio_to_ann": "energy / ANN twin's energy (ratio)",
    "cl_acc": "continual ACC (fraction correct)",
    "forgetting": "forgetting (fraction)",
    "effective_acs": "NeuroBench Effective_ACs per inference",
    "effective_macs": "NeuroBench Effective_MACs per inference",
    "synops": "NeuroBench effective synaptic ops per inference",
    "footprint_bytes": "NeuroBench footprint (bytes)",
    "activation_sparsity": "NeuroBench activation sparsity (fraction)",
}
#: The unit of each objective's value, for the hypervolume's unit ("" when dimensionless).
UNITS = {
    "accuracy": "",
    "energy_uj": "µJ",
    "latency_ms": "ms",
    "energy_ratio_to_ann": "",
    "cl_acc": "",
    "forgetting": "",
    "effective_acs": "ACs",
    "effective_macs": "MACs",
    "synops": "ops",
    "footprint_bytes": "bytes",
    "activation_sparsity": "",
}
#: Saved resolution (pixels per inch) and font sizes (pt) of the report's own figures: the
#: smallest, 8 pt, is 11 px at 100 dpi.
DPI = 100
SMALL, TICK, LABEL, TITLE = 8.0, 9.0, 10.0, 10.0
#: PNG chunks kept when embedding a figure: no text, time or EXIF metadata rides along.
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"pHYs"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def clean_png(data: bytes) -> bytes:
    """``data`` with only the chunks that draw the image (no text, time or EXIF chunks).

    Raises:
        ValueError: ``data`` is not a PNG.
    """
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    out, pos = [_PNG_SIGNATURE], len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if kind in _PNG_KEEP:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    return b"".join(out)


def _png(fig: Figure) -> bytes:
    """A matplotlib figure as PNG bytes without metadata."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return clean_png(buf.getvalue())


def _figure(width: float, height: float) -> Figure:
    """A figure drawn by the Agg canvas (no pyplot, no global backend state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _label(name: str) -> str:
    return LABELS.get(name, name)


def _ticks(ax: Axes) -> None:
    """Tick labels (and any offset or exponent text) at :data:`TICK` pt."""
    ax.tick_params(labelsize=TICK, which="both")
    ax.xaxis.get_offset_text().set_fontsize(TICK)
    ax.yaxis.get_offset_text().set_fontsize(TICK)


def _hypervolume_unit(names: Sequence[str]) -> str:
    """The objectives' product as a unit: ``accuracy × µJ`` (a dimensionless objective by its
    name)."""
    return " × ".join(UNITS.get(n) or n for n in names) if names else "objective units"


def front_figure(
    points: Sequence[tuple[int, float, float]],
    front: Sequence[tuple[int, float, float]],
    names: tuple[str, str],
    reference: tuple[float, float],
    teachers: Sequence[tuple[str, float, float]],
    baselines: Sequence[tuple[str, float]] = (),
) -> bytes:
    """:func:`front_plot` as PNG bytes without metadata."""
    return _png(front_plot(points, front, names, reference, teachers, baselines))


def front_plot(
    points: Sequence[tuple[int, float, float]],
    front: Sequence[tuple[int, float, float]],
    names: tuple[str, str],
    reference: tuple[float, float],
    teachers: Sequence[tuple[str, float, float]],
    baselines: Sequence[tuple[str, float]] = (),
) -> Figure:
    """The front: (trial, y, x) of every finished trial in grey, the front highlighted and
    labelled, the reference x as a dashed line, the teachers as stars and the simple baselines'
    accuracy (``(label, y)``, :mod:`evolve.training.baselines`) as dotted horizontal lines; the
    legend right of the plot. x is logarithmic when the values span more than a decade."""
    fig = _figure(8.6, 4.6)
    ax = fig.subplots()
    xs = [p[2] for p in points] + [t[2] for t in teachers] + [reference[1]]
    finite = [x for x in xs if math.isfinite(x)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > 10:
        ax.set_xscale("log")
    ax.scatter(
        [p[2] for p in points],
        [p[1] for p in points],
        s=22,
        color="#9a9a9a",
        label="finished trials",
        zorder=2,
    )
    ordered = sorted(front, key=lambda p: p[2])
    ax.step(
        [p[2] for p in ordered],
        [p[1] for p in ordered],
        where="post",
        color="#d1495b",
        linewidth=1.2,
        zorder=3,
    )
    ax.scatter(
        [p[2] for p in ordered],
        [p[1] for p in ordered],
        s=46,
        color="#d1495b",
        edgecolor="black",
        linewidth=0.6,
        label="Pareto front",
        zorder=4,
    )
    for number, y, x in ordered:
        ax.annotate(
            str(number),
            (x, y),
            textcoords="offset points",
            xytext=(5, 5),
            fontsize=SMALL + 1,
            color="#8a1c2b",
        )
    if math.isfinite(reference[1]):
        ax.axvline(
            reference[1],
            color="#2e4057",
            linestyle="--",
            linewidth=1.0,
            label=f"reference {names[1]} {reference[1]:.4g}",
        )
    for i, (name, y, x) in enumerate(teachers):
        ax.scatter(
            [x],
            [y],
            marker="*",
            s=160,
            color="#edae49",
            edgecolor="black",
            linewidth=0.6,
            label=f"ANN teacher {name}" if i < 4 else None,
            zorder=5,
        )
    colors = ("#00798c", "#6a4c93", "#3b7d23", "#a05a2c")
    for (label, y), color in zip(baselines, colors, strict=False):
        ax.axhline(y, color=color, linestyle=":", linewidth=1.4, label=f"{label} {y:.3f}")
    ax.set_xlabel(_label(names[1]), fontsize=LABEL)
    ax.set_ylabel(_label(names[0]), fontsize=LABEL)
    _ticks(ax)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(
        fontsize=SMALL + 1,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        frameon=False,
        title="trial numbers label the front",
        title_fontsize=SMALL + 1,
    )
    return fig


def hypervolume_figure(
    history: Sequence[Mapping[str, Any]],
    reference_text: str,
    names: Sequence[str] | None = None,
) -> bytes:
    """:func:`hypervolume_plot` as PNG bytes without metadata."""
    return _png(hypervolume_plot(history, reference_text, names))


def hypervolume_plot(
    history: Sequence[Mapping[str, Any]],
    reference_text: str,
    names: Sequence[str] | None = None,
) -> Figure:
    """Hypervolume of the front of the first k finished trials, against k. Its unit is the
    product of the objectives' units; ``names`` are the objectives (default: the names in
    ``reference_text``, ``"accuracy 0, energy_uj 0.12"``)."""
    if names is None:
        names = [part.strip().split(" ")[0] for part in reference_text.split(",") if part.strip()]
    fig = _figure(8.6, 3.2)
    ax = fig.subplots()
    ks = list(range(1, len(history) + 1))
    ax.step(ks, [h["hypervolume"] for h in history], where="post", color="#00798c")
    ax.plot(ks, [h["hypervolume"] for h in history], "o", color="#00798c", markersize=3)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("finished trials k (count)", fontsize=LABEL)
    ax.set_ylabel(f"hypervolume\n({_hypervolume_unit(names)})", fontsize=LABEL)
    ax.set_title(
        f"hypervolume of the first k trials' front; reference point: {reference_text}",
        fontsize=TITLE,
    )
    _ticks(ax)
    ax.grid(True, alpha=0.3)
    return fig


@dataclass
class Figures:
    """A best model's figures (PNG bytes by title), or why there are none."""

    images: dict[str, bytes] = field(default_factory=dict)
    note: str = ""


def model_figures(run_dir: Path | None, number: int, workdir: Path) -> Figures:
    """The firing-rate, SAM and membrane figures of trial ``number`` from
    :func:`evolve.report.explain.explain_trial` (drawn in ``workdir``), or why there are none."""
    from evolve.store import checkpoints

    if run_dir is None:
        return Figures(
            note="figures unavailable: the study has no run folder here (reported from --storage "
            "only), so no checkpoint to explain"
        )
    if not checkpoints.path_of(run_dir, number).is_file():
        return Figures(
            note=f"figures unavailable: trial {number} kept no checkpoint "
            f"({checkpoints.FOLDER}/trial_{number}.pt)"
        )
    try:
        from evolve.report.explain import explain_trial
    except Exception as e:  # a missing or broken module: the rest of the report still stands
        return Figures(note=f"figures unavailable: evolve explain cannot load ({e})")
    out = workdir / f"trial_{number}"
    try:
        result = explain_trial(run_dir, number, sample=0, out=out, split="test")
        files = result["files"]
        titles = {
            "rates": "firing rate per layer",
            "sam": "Spike Activation Map",
            "membrane": "membrane potential",
        }
        images = {
            titles.get(k, k): clean_png(Path(files[k]).read_bytes())
            for k in ("rates", "sam", "membrane")
            if k in files
        }
    except UserError as e:
        return Figures(note=f"figures unavailable: {e}")
    except Exception as e:
        return Figures(note=f"figures unavailable: {type(e).__name__}: {e}")
    return Figures(images=images)
