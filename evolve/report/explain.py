"""What one trained trial's spikes do on one sample, as pictures (``evolve explain``).

Loads a trial's checkpoint (kept for Pareto-front trials), runs it once on one sample of the
data set's test (or validation) split while recording every spiking layer
(:func:`snn_models.explain.record_activity`), and writes into one folder:

    sam.png        spike activation maps (Kim & Panda 2021, γ = 0.5): one row per layer that
                   can be drawn on the input, one column per timestep, every map on one colour
                   scale (divided by the maximum over all layers and steps, see
                   :func:`sam_peaks`) and laid over the input in grey. CNN: the feature maps of
                   every conv layer (bilinear upsampling); transformer: each token layer, token
                   by token on its patch (patch borders dashed); MLP: hidden units have no
                   layout, so the first hidden layer is projected onto the input through its
                   weights (labelled input-projection).
    membrane.png   the pre-reset membrane of the K most active neurons of every spiking layer
                   over time (in the model's units), with the threshold (dashed) and a marker at
                   every spike
    rates.png      firing rate per layer (silent < 0.05, runaway > 0.95 marked) and per step
                   (one small panel per layer)
    explain.json   sample, label, prediction, scores, per-layer and per-step rates, the layers
                   drawn (and why the others were not), the neurons traced (flat indices over a
                   layer's neurons of one sample, C·H·W or N·D order)

The default folder ``runs/<study>/explain/trial_N-sample_I/`` (``-val`` appended for the
validation split) is derived data and is regenerated on each call; a folder given as ``out``
must not exist yet (as for an export). Either is written whole or not at all.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolve.errors import RunError, UserError
from evolve.report.figures_explain import plot_membrane, plot_rates, plot_sam, plot_sam_time
from evolve.store.runfolder import new_folder

if TYPE_CHECKING:
    from torch import Tensor, nn

    from snn_models.explain import Activity, Maps

__all__ = [
    "DEFAULT_NEURONS",
    "FILES",
    "JSON",
    "SPLITS",
    "default_folder",
    "explain_trial",
    "render",
    "resolve_trial",
    "sam_peaks",
]

SPLITS = ("test", "val")
DEFAULT_NEURONS = 5
FILES = {"sam": "sam.png", "membrane": "membrane.png", "rates": "rates.png"}
JSON = "explain.json"


def resolve_trial(run_dir: Path, trial: int | str) -> tuple[int, dict[str, Any]]:
    """The trial number ``trial`` means and the run's ``config.yaml``.

    Args:
        run_dir: The run folder.
        trial: A trial number, or ``"best"`` (the most accurate Pareto-front trial).

    Returns:
        ``(number, config)``.

    Raises:
        UserError: not a run folder, ``trial`` neither ``"best"`` nor a number, a trial the
            study lacks or one without a checkpoint.
    """
    from agents import AgentError, pick
    from evolve.store import checkpoints
    from evolve.store.results import pareto_summary
    from evolve.store.run import front_settings, load_run

    store, cfg = load_run(run_dir)
    if isinstance(trial, str) and trial.strip() == "best":
        objectives, reference = front_settings(cfg, run_dir)
        summary = pareto_summary(store, objectives, reference)
        try:
            number = pick(summary["front"], "accuracy")
        except AgentError as e:
            raise RunError(str(e)) from None
    else:
        try:
            number = int(trial)
        except (TypeError, ValueError):
            raise UserError(f"trial must be best or a trial number, got {trial!r}") from None
    saved = checkpoints.saved_trials(run_dir)
    if number not in {t.number for t in store.trials()}:
        raise RunError(
            f"study {run_dir.name!r} has no trial {number}; trials with a checkpoint: "
            f"{', '.join(map(str, saved)) or 'none'}"
        )
    if number not in saved:
        raise RunError(
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
    run_dir: str | Path,
    trial: int | str = "best",
    *,
    sample: int = 0,
    out: str | Path | None = None,
    split: str = "test",
    neurons: int = DEFAULT_NEURONS,
) -> dict[str, Any]:
    """Explain one trial of a run on one sample: spike activation maps, membrane traces and
    firing rates.

    Writes ``sam.png``, ``membrane.png``, ``rates.png`` and ``explain.json`` into ``out`` (which
    must not exist) or, by default, into :func:`default_folder` (regenerated if present).

    Args:
        run_dir: The run folder (``runs/<study>``).
        trial: A trial number, or ``"best"`` (the most accurate Pareto-front trial). The trial
            needs a checkpoint (the search keeps one for every front trial).
        sample: Index into the split.
        out: The folder to write; must not exist. Default: :func:`default_folder`.
        split: ``"test"`` or ``"val"``.
        neurons: Membrane traces per layer: the K most active neurons.

    Returns:
        The ``explain.json`` content, with ``"files"`` mapping ``"sam"``, ``"membrane"`` and
        ``"rates"`` to the absolute paths of the PNGs and ``"folder"`` the folder.

    Raises:
        UserError: not a run folder, an unknown trial or one without a checkpoint, a bad split,
            sample index or neuron count, or an existing ``out``.
    """
    from evolve.data.datasets import load_dataset
    from evolve.store import checkpoints
    from evolve.store.run import dataset_of

    run_dir = Path(run_dir).resolve()
    if split not in SPLITS:
        raise UserError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if neurons < 1:
        raise UserError(f"neurons must be at least 1, got {neurons}")
    number, cfg = resolve_trial(run_dir, trial)
    data = load_dataset(
        dataset_of(cfg, run_dir),
        seed=int(cfg.get("seed", 0)),
        data_dir=Path(cfg["data_dir"]) if cfg.get("data_dir") else None,
        kind=cfg.get("data_kind"),
    )
    part = data.test if split == "test" else data.val
    if not 0 <= sample < len(part):
        raise UserError(
            f"sample {sample}: the {split} split of {data.name} has {len(part)} samples "
            f"(0..{len(part) - 1})"
        )
    ckpt = checkpoints.load(run_dir, number)
    target = (
        Path(out).resolve() if out is not None else default_folder(run_dir, number, sample, split)
    )
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
    """Record ``model`` on one sample and draw the three PNGs into ``folder``.

    The pass runs in eval mode with a fixed seed, so a rate-encoded model explains the same
    spike trains every time (the global RNG state is left as it was).

    Args:
        model: A spiking network.
        x: One sample, ``[1, ...]``.
        input_shape: The shape of one input (``[C, H, W]``, ``[C, L]`` or ``[F]``).
        folder: An existing folder to draw into.
        neurons: Membrane traces per layer.
        title: A line added to every figure's title.
        label: The sample's true class, if known.

    Returns:
        What ``explain.json`` says about the pictures (no study fields).

    Raises:
        UserError: the model has no spiking layer.
    """
    import torch

    from snn_models.explain import (
        GAMMA,
        explain_maps,
        input_canvas,
        most_active,
        record_activity,
        token_grid,
    )

    model.eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        act = record_activity(model, x)
    if not act.layers:
        raise UserError("the model has no spiking layer: nothing to explain")
    scores = act.output[0]
    pred = int(scores.argmax())
    maps = explain_maps(model, act, input_shape, sample=0)
    peaks = sam_peaks(model, act, maps, input_shape)
    picks = {layer: most_active(act, layer, neurons) for layer in act.layers}
    canvas = input_canvas(x[0], input_shape)
    head = f"{title} · predicted {pred}" if title else f"predicted {pred}"
    if maps.maps and all(m == "time" for m in maps.methods.values()):
        plot_sam_time(folder / FILES["sam"], x[0].reshape(input_shape), maps, head, peaks=peaks)
    else:
        grids = {
            layer: grid
            for layer, method in maps.methods.items()
            if method == "tokens"
            and (grid := token_grid(int(act.spikes[layer].shape[2]), input_shape)) is not None
        }
        plot_sam(folder / FILES["sam"], canvas, maps, act.timesteps, head, peaks=peaks, grids=grids)
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


def _raw_map(
    model: nn.Module, act: Activity, layer: str, method: str, input_shape: Sequence[int]
) -> Tensor | None:
    """Sample 0's map of ``layer`` as :func:`snn_models.explain.explain_maps` computes it, but
    before its normalisation (``[T, rows, cols]``; method ``time``: ``[L]``), or ``None`` for a
    method this does not know."""
    import torch
    import torch.nn.functional as F

    from snn_models.explain import (
        GAMMA,
        canvas_size,
        neuronal_contribution,
        spike_activation_map,
        token_grid,
    )

    spikes = act.spikes[layer][:, 0]
    if method == "spatial":
        sam = spike_activation_map(spikes, GAMMA, normalize=False)
        size = canvas_size(input_shape)
        up = F.interpolate(sam.unsqueeze(1), size=size, mode="bilinear", align_corners=False)
        return up.squeeze(1).clamp_min(0.0)
    if method == "tokens":
        grid = token_grid(int(spikes.shape[1]), input_shape)
        if grid is None:
            return None
        feats = spikes.transpose(1, 2).reshape(spikes.shape[0], spikes.shape[2], *grid)
        sam = spike_activation_map(feats, GAMMA, normalize=False)
        size = canvas_size(input_shape)
        return F.interpolate(sam.unsqueeze(1), size=size, mode="nearest").squeeze(1).clamp_min(0)
    if method == "input-projection":
        from snn_models.explain.maps import _first_synapse

        found = _first_synapse(model, act)
        if found is None or act.synapse_input is None:
            return None
        linear, scale = found
        n_in = math.prod(int(d) for d in input_shape)
        T, B = spikes.shape[0], act.spikes[layer].shape[1]
        xin = act.synapse_input.reshape(-1, n_in)
        if xin.shape[0] == B:  # static input (direct encoding): the same at every step
            x_t = xin[0].unsqueeze(0).expand(T, n_in)
        else:
            x_t = xin.reshape(T, B, n_in)[:, 0]
        weight = (linear.weight.detach() * scale.unsqueeze(1)).float()
        current = (weight.unsqueeze(0) * x_t.unsqueeze(1)).clamp_min(0.0)
        ncs = neuronal_contribution(spikes, GAMMA) * spikes.float()
        proj = torch.einsum("tk,tkp->tp", ncs, current)
        shape = tuple(int(d) for d in input_shape)
        maps = proj.reshape(T, *shape)
        return maps.sum(dim=1) if len(shape) == 3 else maps.reshape(T, *canvas_size(shape))
    if method == "time":
        from snn_models.temporal import SeriesEncoder

        encoder = next((m for m in model.modules() if isinstance(m, SeriesEncoder)), None)
        if encoder is None:
            return None
        flat = spikes.float().reshape(spikes.shape[0], -1)
        per_step = (neuronal_contribution(flat, GAMMA) * flat).sum(dim=1)
        w, repeat = int(encoder.window), int(encoder.repeat)
        length = int(input_shape[-1])
        windows = math.ceil(length / w)
        per_window = per_step.reshape(windows, repeat).mean(dim=1)
        return per_window.repeat_interleave(w)[windows * w - length :]
    return None


def sam_peaks(
    model: nn.Module, act: Activity, maps: Maps, input_shape: Sequence[int]
) -> dict[str, list[float]] | None:
    """Each drawn map's maximum per step before :func:`snn_models.explain.explain_maps`
    normalised it (method ``time``: one maximum per layer), so that the figure can put all maps
    on one colour scale; ``None`` when a map cannot be reproduced exactly (the figure then keeps
    the per-step normalisation and says so)."""
    import torch

    peaks: dict[str, list[float]] = {}
    for layer, shown in maps.maps.items():
        try:
            raw = _raw_map(model, act, layer, maps.methods[layer], input_shape)
        except (ValueError, RuntimeError, IndexError):
            return None
        if raw is None:
            return None
        if maps.methods[layer] == "time":
            peak = raw.amax().reshape(1)
            norm = raw / peak if float(peak) > 0 else raw
        else:
            peak = raw.flatten(1).amax(dim=1)
            norm = torch.where(
                peak.view(-1, 1, 1) > 0, raw / peak.clamp_min(1e-12).view(-1, 1, 1), raw
            )
        if norm.shape != shown.shape or not torch.allclose(norm, shown.float(), atol=1e-4):
            return None
        peaks[layer] = [float(p) for p in peak]
    return peaks
