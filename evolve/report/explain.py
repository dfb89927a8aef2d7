"""What one trained trial's spikes do on one sample, as pictures (``evolve explain``).

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
validation split) is derived data and is regenerated on each call; a folder given as ``out``
must not exist yet (as for an export). Either is written whole or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolve.errors import RunError, UserError
from evolve.report.figures_explain import plot_membrane, plot_rates, plot_sam, plot_sam_time
from evolve.store.runfolder import new_folder

if TYPE_CHECKING:
    from torch import Tensor, nn

__all__ = [
    "DEFAULT_NEURONS",
    "FILES",
    "JSON",
    "SPLITS",
    "default_folder",
    "explain_trial",
    "render",
    "resolve_trial",
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
