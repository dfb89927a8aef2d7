"""ANN→SNN conversion of a ReLU MLP/CNN, with accuracy and energy against T: what
``evolve convert`` does.

The ANN is the twin (:func:`snn_models.ann.twin_spec`) of an architecture, trained here, or a
trained one read from a file. Its BatchNorms are folded, each layer is normalised by a percentile
of its ReLU activations on training data, and it runs as soft-reset IF neurons
(:func:`snn_models.conversion.convert`) for each number of time steps T.

Example:
    >>> from evolve.training.convert import convert
    >>> res = convert("mlp", "digits", timesteps=[8, 32], epochs=2,
    ...               out=getfixture("tmp_path"))                      # doctest: +SKIP
    >>> [row.timesteps for row in res.rows]                           # doctest: +SKIP
    [8, 32]
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evolve.errors import UserError, translated

__all__ = ["ConversionResult", "ConversionRow", "convert", "load_ann"]


@dataclass(frozen=True)
class ConversionRow:
    """The converted SNN at one number of time steps."""

    timesteps: int
    test_accuracy: float
    energy_uj: float
    ratio_to_ann: float
    spikes_per_inference: float


@dataclass
class ConversionResult:
    """One conversion, measured.

    Attributes:
        run_dir: The run folder written (``result.json``, ``log.txt``, ``ann.pt`` when the
            ANN was trained here, ``accuracy_vs_T.png`` with matplotlib).
        dataset: The data set's name.
        source: Where the ANN came from (the file, or ``twin of <arch>, trained here``).
        spec: The ANN's spec.
        percentile: The activation percentile of each layer's scale.
        ann_test_accuracy: The ANN's test accuracy.
        ann_energy_uj: The ANN's energy per inference (µJ).
        rows: The SNN at each T, in the order given.
        seconds: Time of the conversion and its measurements.
        plot: The accuracy-against-T figure, or None without matplotlib.
    """

    run_dir: Path
    dataset: str
    source: str
    spec: dict[str, Any]
    percentile: float
    ann_test_accuracy: float
    ann_energy_uj: float
    rows: list[ConversionRow]
    seconds: float
    plot: Path | None

    def to_dict(self) -> dict[str, Any]:
        """What ``result.json`` holds."""
        return {
            "data": self.dataset,
            "source": self.source,
            "spec": self.spec,
            "percentile": self.percentile,
            "ann_test_accuracy": self.ann_test_accuracy,
            "ann_energy_uj": self.ann_energy_uj,
            "rows": [asdict(r) for r in self.rows],
            "seconds": self.seconds,
        }


def load_ann(path: Path, data: Any) -> tuple[Any, dict[str, Any]]:
    """A trained twin and its spec, from ``ann.pt`` (``{spec, state_dict, ...}``, as
    :func:`convert` writes) or a teacher's ``.pt`` with its ``.json`` beside it.

    Raises:
        UserError: a missing or unreadable file, no spec, or weights that do not fit it.
    """
    import torch

    from snn_models.ann import build_ann
    from snn_models.errors import ConfigError

    if not path.is_file():
        raise UserError(f"ann: file {path} not found")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(
            f"ann: {path} is not a readable PyTorch file ({type(e).__name__}); "
            "retrain it (evolve convert without --ann)"
        ) from None
    if isinstance(blob, dict) and "state_dict" in blob and "spec" in blob:
        spec, state = blob["spec"], blob["state_dict"]
    else:
        meta_path = path.with_suffix(".json")
        if not meta_path.is_file():
            raise UserError(
                f"ann: {path} has no spec: expected ann.pt from evolve convert, "
                f"or a teacher .pt with its .json beside it"
            )
        try:
            spec, state = json.loads(meta_path.read_text())["spec"], blob
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserError(
                f"ann: {meta_path}: no readable spec ({type(e).__name__}: {e}); "
                "retrain the teacher (evolve teacher train --force)"
            ) from None
    try:
        model = build_ann(spec, data.input_shape, data.n_classes)
    except (ConfigError, KeyError, TypeError, ValueError) as e:
        raise UserError(
            f"ann: {path}: its spec cannot be built on {data.name} ({e}); "
            "retrain it (evolve convert without --ann)"
        ) from None
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, AttributeError) as e:
        first = str(e).strip().splitlines()[0]
        raise UserError(f"ann: {path} does not fit its spec on {data.name} ({first})") from None
    return model, spec


def convert(
    arch: str | Path | Mapping[str, Any] = "mlp",
    dataset: Any = "digits",
    *,
    ann: str | Path | None = None,
    timesteps: Sequence[int] = (8, 16, 32, 64),
    percentile: float = 99.9,
    epochs: int = 20,
    seed: int = 0,
    data_dir: str | Path | None = None,
    out: str | Path = "runs",
    progress: bool = False,
    verbose: bool = False,
) -> ConversionResult:
    """Convert a trained ReLU network to IF neurons and measure it for each T.

    Writes ``result.json``, ``log.txt``, ``ann.pt`` (when the ANN is trained here) and
    ``accuracy_vs_T.png`` (with matplotlib) into a new folder ``out/convert-<data>-<date-time>/``.
    Every keyword has the name of an ``evolve convert`` flag.

    Args:
        arch: The architecture whose ANN twin is trained here: a preset (``"mlp"``,
            ``"cnn"``), a YAML file or a mapping (see :func:`evolve.training.single.load_arch`).
            Ignored with ``ann``.
        dataset: A data set name, file, ``(x, y)`` arrays or Dataset.
        ann: A trained ANN: ``ann.pt`` from an earlier conversion, or a teacher's ``.pt``.
        timesteps: The numbers of time steps T to measure.
        percentile: Activation percentile of each layer's scale, in (0, 100]; 100 = max.
        epochs: Training epochs of the ANN twin.
        seed: Seed of the split and training.
        data_dir: Folder holding the data set's files.
        out: Where run folders go.
        progress: Show a progress bar and warnings on standard error.
        verbose: Also show INFO messages on standard error.

    Returns:
        The :class:`ConversionResult`.

    Raises:
        UserError: bad input (bad T values or percentile, an architecture that cannot be
            converted, an unreadable ANN file or data set); nothing is written then.
    """
    with translated():
        return _convert(
            arch,
            dataset,
            ann=Path(ann) if ann is not None else None,
            timesteps=_checked_timesteps(timesteps),
            percentile=percentile,
            epochs=epochs,
            seed=seed,
            data_dir=data_dir,
            out=Path(out),
            progress=progress,
            verbose=verbose,
        )


def _checked_timesteps(values: Sequence[int]) -> list[int]:
    steps = list(values)
    if not steps or any(isinstance(t, bool) or not isinstance(t, int) or t < 1 for t in steps):
        raise UserError(f"timesteps: give positive integers, e.g. 8,16,32 (got {values!r})")
    return steps


def _convert(
    arch_arg: str | Path | Mapping[str, Any],
    dataset: Any,
    *,
    ann: Path | None,
    timesteps: list[int],
    percentile: float,
    epochs: int,
    seed: int,
    data_dir: str | Path | None,
    out: Path,
    progress: bool,
    verbose: bool,
) -> ConversionResult:
    import torch

    from evolve.data.arrays import as_dataset
    from evolve.store.runfolder import new_run_dir, write_json
    from evolve.store.runlog import echo_level, logger, run_log
    from evolve.training import trainer
    from evolve.training.single import load_arch
    from snn_models import conversion
    from snn_models.ann import build_ann, twin_spec
    from snn_models.energy import measure_energy

    if not (math.isfinite(percentile) and 0 < percentile <= 100):
        raise UserError(f"percentile must be in (0, 100], got {percentile}")
    if epochs < 1:
        raise UserError(f"epochs must be >= 1, got {epochs}")
    data = as_dataset(dataset, seed=seed, data_dir=data_dir)
    if ann is not None:
        model, spec = load_ann(ann, data)
        source = str(ann)
    else:
        arch, _ = load_arch(arch_arg)
        spec = twin_spec(arch).to_dict()
        from snn_models.kinds import KINDS, feedforward_kinds

        kind = KINDS.get(spec["kind"])
        if kind is None or not kind.feedforward:
            raise UserError(
                f"arch: kind {spec['kind']} cannot be converted; use "
                f"{' or '.join(feedforward_kinds())}"
            )
        model = None
        source = (
            f"twin of {arch_arg if not isinstance(arch_arg, Mapping) else 'arch'}, trained here"
        )
    run_dir = new_run_dir(out, f"convert-{data.name}")
    echo = echo_level(progress, verbose)
    with run_log(run_dir / "log.txt", echo=echo):
        t0 = time.perf_counter()
        if model is None:
            torch.manual_seed(seed)
            model = build_ann(spec, data.input_shape, data.n_classes)
            cfg = trainer.TrainConfig(epochs=epochs, seed=seed, progress=progress)
            trainer.train(model, data.train, data.val, cfg, description=f"ANN twin on {data.name}")
            torch.save(
                {
                    "spec": spec,
                    "input_shape": list(data.input_shape),
                    "n_classes": data.n_classes,
                    "state_dict": model.state_dict(),
                },
                run_dir / "ann.pt",
            )
        model.eval()
        ann_acc = trainer.evaluate(model, data.test)
        ann_energy = measure_energy(model, (x for x, _ in data.test.batches(256))).energy_uj
        calibration = [x for x, _ in data.train.batches(256)][:8]
        snn = conversion.convert(
            model, calibration, timesteps=max(timesteps), percentile=percentile
        )
        rows = []
        for t in timesteps:
            conversion.set_timesteps(snn, t)
            acc = trainer.evaluate(snn, data.test)
            e = measure_energy(snn, (x for x, _ in data.test.batches(256)))
            rows.append(
                ConversionRow(
                    timesteps=t,
                    test_accuracy=acc,
                    energy_uj=e.energy_uj,
                    ratio_to_ann=e.energy_uj / ann_energy,
                    spikes_per_inference=sum(e.spikes_per_inference.values()),
                )
            )
            logger.info("T={} test_acc {:.4f} energy {:.4f} uJ", t, acc, e.energy_uj)
        result = ConversionResult(
            run_dir=run_dir,
            dataset=data.name,
            source=source,
            spec=spec,
            percentile=percentile,
            ann_test_accuracy=ann_acc,
            ann_energy_uj=ann_energy,
            rows=rows,
            seconds=time.perf_counter() - t0,
            plot=None,
        )
        write_json(run_dir / "result.json", result.to_dict())
        result.plot = _plot(result, run_dir / "accuracy_vs_T.png")
    return result


def _plot(result: ConversionResult, png: Path) -> Path | None:
    """Accuracy against T, the ANN's as a line; None without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    ts = [r.timesteps for r in result.rows]
    fig = Figure(figsize=(5.5, 3.8))
    ax = fig.subplots()
    ax.plot(ts, [100 * r.test_accuracy for r in result.rows], "o-", label="converted SNN")
    ax.axhline(100 * result.ann_test_accuracy, color="grey", ls="--", label="ANN")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ts, [str(t) for t in ts])
    ax.set_xlabel("time steps T")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"ANN→SNN conversion on {result.dataset}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    return png
