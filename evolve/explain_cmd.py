"""``evolve explain``: what one trained trial's spikes do on one sample, as pictures.

Loads a trial's checkpoint (kept for Pareto-front trials), runs it once on one sample of the
data set's test (or validation) split while recording every spiking layer
(:func:`snn_models.explain.record_activity`), and writes into one folder:

    sam.png        spike activation maps (Kim & Panda 2021, γ = 0.5): one row per layer that
                   can be drawn on the input, one column per timestep, each map normalised to
                   [0, 1] and laid over the input. CNN: the feature maps of every conv layer
                   (bilinear upsampling); transformer: each token layer, token by token on its
                   patch; MLP: hidden units have no layout, so the first hidden layer is
                   projected onto the input through its weights (labelled input-projection).
    membrane.png   the pre-reset membrane of the K most active neurons of every spiking layer
                   over time, with the threshold (dashed) and a marker at every spike
    rates.png      firing rate per layer (silent < 0.05, runaway > 0.95 marked) and per step
    explain.json   sample, label, prediction, scores, per-layer and per-step rates, the layers
                   drawn (and why the others were not), the neurons traced (flat indices over a
                   layer's neurons of one sample, C·H·W or N·D order)

The default folder ``runs/<study>/explain/trial_N-sample_I/`` (``-val`` appended for the
validation split) is derived data and is regenerated on each call; a folder named with ``--out``
must not exist yet (as for ``evolve export``). Either is written whole or not at all.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from evolve.errors import UserError
from evolve.export_cmd import run_dir_of
from evolve.runfolder import new_folder

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from torch import Tensor, nn

    from snn_models.explain import Activity, Maps

SPLITS = ("test", "val")
DEFAULT_NEURONS = 5
#: firing-rate bands of the runaway/silence monitor (snn_models.neurons.base)
SILENT, RUNAWAY = 0.05, 0.95
FILES = {"sam": "sam.png", "membrane": "membrane.png", "rates": "rates.png"}
JSON = "explain.json"
DPI = 100


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain",
        help="draw spike activation maps, membrane traces and firing rates of a trial",
        description=(
            "Explain one trained trial on one sample: spike activation maps over the input (one "
            "column per timestep), membrane traces of the most active neurons with threshold and "
            "spikes, and per-layer firing rates. Writes sam.png, membrane.png, rates.png and "
            "explain.json. The trial needs a checkpoint (the search keeps one for every "
            "Pareto-front trial)."
        ),
        epilog=(
            "examples:\n"
            "  evolve explain runs/mine                      # best-accuracy front trial, sample 0\n"
            "  evolve explain runs/mine --trial 12 --sample 7 --neurons 3\n"
            "  evolve explain --study mine --trial 12 --split val --out explained/\n"
            "\n"
            "default folder: runs/<study>/explain/trial_N-sample_I/ (regenerated each time)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", nargs="?", type=Path, help="a run folder (runs/<study>)")
    p.add_argument("--study", help="the study name (its run folder is --runs/<study>)")
    p.add_argument("--runs", type=Path, default=Path("runs"), help="where run folders are")
    p.add_argument(
        "--trial", default="best", help="best (the most accurate front trial) or a trial number"
    )
    p.add_argument("--sample", type=int, default=0, help="index into the split (default 0)")
    p.add_argument("--split", choices=SPLITS, default="test", help="which split (default test)")
    p.add_argument(
        "--neurons",
        type=int,
        default=DEFAULT_NEURONS,
        help=f"membrane traces per layer: the K most active neurons (default {DEFAULT_NEURONS})",
    )
    p.add_argument("--out", type=Path, help="output folder; must not exist")
    p.set_defaults(func=run)


# ----------------------------------------------------------------------------- the run
def resolve_trial(run_dir: Path, trial: int | str) -> tuple[int, dict[str, Any]]:
    """The trial number ``trial`` means (``best``: the most accurate front trial) and the run
    config; refuses a trial the study lacks or one without a checkpoint."""
    from evolve import checkpoints
    from evolve.export_cmd import choose_trial
    from evolve.results import pareto_summary
    from evolve.show_cmd import front_settings, load_run

    study, cfg = load_run(run_dir)
    if isinstance(trial, str) and trial.strip() == "best":
        objectives, reference = front_settings(cfg, run_dir)
        summary = pareto_summary(study, objectives, reference)
        number = choose_trial(summary["front"], "accuracy", None)
    else:
        try:
            number = int(trial)
        except (TypeError, ValueError):
            raise UserError(f"--trial must be best or a trial number, got {trial!r}") from None
    saved = checkpoints.saved_trials(run_dir)
    if number not in {t.number for t in study.get_trials(deepcopy=False)}:
        raise UserError(
            f"study {run_dir.name!r} has no trial {number}; trials with a checkpoint: "
            f"{', '.join(map(str, saved)) or 'none'}"
        )
    if number not in saved:
        raise UserError(
            f"trial {number} has no checkpoint in {run_dir / checkpoints.FOLDER} (only "
            f"Pareto-front trials keep one); trials with a checkpoint: "
            f"{', '.join(map(str, saved)) or 'none'}"
        )
    return number, cfg


def default_folder(run_dir: Path, number: int, sample: int, split: str = "test") -> Path:
    """``runs/<study>/explain/trial_N-sample_I`` (``-val`` appended for the validation split)."""
    suffix = "" if split == "test" else f"-{split}"
    return run_dir / "explain" / f"trial_{number}-sample_{sample}{suffix}"


def explain_trial(
    run_dir: Path,
    trial: int | str,
    sample: int = 0,
    out: Path | None = None,
    split: str = "test",
) -> dict[str, Any]:
    """Explain trial ``trial`` (a number or ``"best"``) of a run on one sample of ``split``.

    Writes ``sam.png``, ``membrane.png``, ``rates.png`` and ``explain.json`` into ``out`` (which
    must not exist) or, by default, into :func:`default_folder` (regenerated if present).

    Returns:
        The ``explain.json`` content, with ``"files"`` mapping ``"sam"``, ``"membrane"`` and
        ``"rates"`` to the absolute paths of the PNGs and ``"folder"`` the folder.

    Raises:
        UserError: not a run folder, an unknown trial or one without a checkpoint, a bad split
            or sample index, or an existing ``out``.
    """
    return _explain(Path(run_dir).resolve(), trial, sample, out, split, DEFAULT_NEURONS)


def _explain(
    run_dir: Path,
    trial: int | str,
    sample: int,
    out: Path | None,
    split: str,
    neurons: int,
) -> dict[str, Any]:
    from evolve import checkpoints
    from evolve.datasets import load_dataset
    from evolve.show_cmd import dataset_of

    if split not in SPLITS:
        raise UserError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    if neurons < 1:
        raise UserError(f"--neurons must be at least 1, got {neurons}")
    number, cfg = resolve_trial(run_dir, trial)
    data = load_dataset(
        dataset_of(cfg, run_dir),
        seed=int(cfg.get("seed", 0)),
        data_dir=Path(cfg["data_dir"]) if cfg.get("data_dir") else None,
    )
    part = data.test if split == "test" else data.val
    if not 0 <= sample < len(part):
        raise UserError(
            f"--sample {sample}: the {split} split of {data.name} has {len(part)} samples "
            f"(0..{len(part) - 1})"
        )
    ckpt = checkpoints.load(run_dir, number)
    target = out.resolve() if out is not None else default_folder(run_dir, number, sample, split)
    label = int(part.y[sample])
    title = f"{run_dir.name} · trial {number} · {split} sample {sample} (label {label})"
    with new_folder(target, replace=out is None) as tmp:
        info = render(
            ckpt.model,
            part.x[sample : sample + 1],
            ckpt.input_shape,
            tmp,
            neurons=neurons,
            title=title,
            label=label,
        )
        info = {
            "study": run_dir.name,
            "trial": number,
            "dataset": data.name,
            "split": split,
            "sample": sample,
            "kind": ckpt.spec.get("kind"),
            "timesteps": ckpt.spec.get("timesteps"),
            **info,
        }
        (tmp / JSON).write_text(json.dumps(info, indent=2) + "\n")
    return {
        **info,
        "folder": str(target),
        "files": {k: str(target / name) for k, name in FILES.items()},
    }


def render(
    model: nn.Module,
    x: Tensor,
    input_shape: Sequence[int],
    folder: Path,
    *,
    neurons: int = DEFAULT_NEURONS,
    title: str = "",
    label: int | None = None,
) -> dict[str, Any]:
    """Record ``model`` on one sample ``x`` (``[1, ...]``) and draw the three PNGs into
    ``folder``; returns what ``explain.json`` says about them (no study fields).

    The pass runs in eval mode with a fixed seed, so a rate-encoded model explains the same
    spike trains every time (the global RNG state is left as it was).
    """
    import torch

    from snn_models.explain import GAMMA, explain_maps, input_canvas, most_active, record_activity

    model.eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        act = record_activity(model, x)
    if not act.layers:
        raise UserError("the model has no spiking layer: nothing to explain")
    scores = act.output[0]
    pred = int(scores.argmax())
    maps = explain_maps(model, act, input_shape, sample=0)
    picks = {layer: most_active(act, layer, neurons) for layer in act.layers}
    canvas = input_canvas(x[0], input_shape)
    head = f"{title} · predicted {pred}" if title else f"predicted {pred}"
    if maps.maps and all(m == "time" for m in maps.methods.values()):
        plot_sam_time(folder / FILES["sam"], x[0].reshape(input_shape), maps, head)
    else:
        plot_sam(folder / FILES["sam"], canvas, maps, act.timesteps, head)
    plot_membrane(folder / FILES["membrane"], act, picks, head)
    rates, steps = act.rates(0), act.step_rates(0)
    plot_rates(folder / FILES["rates"], rates, steps, act.kinds, head)
    return {
        "label": label,
        "prediction": pred,
        "correct": None if label is None else pred == label,
        "scores": [round(float(v), 6) for v in scores],
        "gamma": GAMMA,
        "firing_rates": rates,
        "step_rates": steps,
        "neuron_kinds": act.kinds,
        "sam": {
            "drawn": [{"layer": k, "method": maps.methods[k]} for k in maps.maps],
            "skipped": maps.skipped,
        },
        "membrane": {
            "value": "pre-reset" if all(act.pre_reset.values()) else "mixed",
            "pre_reset": act.pre_reset,
            "thresholds": act.thresholds,
            "neurons": picks,
        },
        "files": dict(FILES),
    }


# ----------------------------------------------------------------------------- drawing
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


# ----------------------------------------------------------------------------- the command
def run(a: argparse.Namespace) -> int:
    run_dir = run_dir_of(a, "explain")
    info = _explain(run_dir, a.trial, a.sample, a.out, a.split, a.neurons)
    folder = Path(info["folder"])
    verdict = "correct" if info["correct"] else "wrong"
    print(
        f"explained trial {info['trial']} of {info['study']} on {info['split']} sample "
        f"{info['sample']}: label {info['label']}, predicted {info['prediction']} ({verdict})"
    )
    print(f"  folder        {folder}")
    drawn = ", ".join(f"{d['layer']} ({d['method']})" for d in info["sam"]["drawn"]) or "none"
    print(f"  sam.png       maps over the input of: {drawn}")
    for layer, why in info["sam"]["skipped"].items():
        print(f"                not drawn: {layer}: {why}")
    n_layers = len(info["membrane"]["neurons"])
    print(
        f"  membrane.png  {info['membrane']['value']} membrane of the {a.neurons} most active "
        f"neurons in each of {n_layers} layers"
    )
    rates = "  ".join(f"{k} {v:.3f}" for k, v in info["firing_rates"].items())
    print(f"  rates.png     firing rates: {rates}")
    return 0


__all__ = [
    "DEFAULT_NEURONS",
    "FILES",
    "add_parser",
    "default_folder",
    "explain_trial",
    "plot_membrane",
    "plot_rates",
    "plot_sam",
    "render",
    "resolve_trial",
    "run",
]
