"""One search trial: build the candidate, train it, measure it, return objectives + diagnostics.

The trial is a pure evaluator (NNI's separation): it does not know which agent proposed the
candidate or where results are stored. It reports per-epoch values through a callback so the
agent's multi-objective early stopping can stop it, and returns a :class:`TrialOutcome`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import snn_models
from evolve.data.datasets import Dataset, Split
from evolve.engine.arch import CL_KEYS, arch_to_specs
from evolve.errors import UserError
from evolve.store.runlog import logger
from evolve.training.distill import Distiller
from evolve.training.selector import NeuronSelector
from evolve.training.subsets import DataFidelity, epoch_splits
from evolve.training.teachers import TeacherCache
from evolve.training.trainer import EpochRecord, TrainConfig, evaluate, resolved, train
from snn_models.ann import build_ann
from snn_models.conversion import load_converted
from snn_models.energy import EnergyReport, measure_energy
from snn_models.functional import attention_blocks, neuron_kinds
from snn_models.neurons import RUNAWAY_RATE, SILENT_RATE
from snn_models.preprocess import data_kind_of, default_preprocess, prepare_inputs

#: Called after every epoch with (epoch, {"val_accuracy": ..., "energy_uj": ...}); True = stop.
ReportFn = Callable[[int, Mapping[str, float]], bool]

TWIN_MIN_EPOCHS = 10  # init: convert trains the candidate's ANN twin at least this long
ENERGY_PROBE_SAMPLES = 128  # validation samples used for the cheap per-epoch energy estimate
ENERGY_BATCH = 256  # samples per forward of the energy measurement
#: NeuroBench metrics a trial records that a search may optimise (see agents.objectives)
NEUROBENCH_OBJECTIVES = (
    "effective_acs",
    "effective_macs",
    "synops",
    "footprint_bytes",
    "activation_sparsity",
)


@dataclass(frozen=True)
class TrialSettings:
    """What every trial of a search shares (the per-candidate choices come from the ArchSpec)."""

    epochs: int = 8
    #: None: :func:`evolve.training.trainer.auto_batch_size` of the training split (a space's
    #: ``batch_size`` wins over both)
    batch_size: int | None = None
    lr: float = 3e-3
    seed: int = 0
    energy_profile: str = "45nm_fp32"
    #: ``per-inference`` or ``per-step``: how often the stem is counted (snn_models.energy)
    energy_model: str = "per-inference"
    teacher_dir: str = "runs/teachers"  # the shared teacher cache (evolve.training.teachers)
    teacher_seed: int = 0  # one teacher per study seed, not per trial
    teacher_epochs: int = 20
    #: ``--trial-memory-mb``: the resident memory a trial may add to its process (None: no cap).
    memory_mb: float | None = None
    #: Divergence rules (``TrainConfig``): an epoch with more than this fraction of its steps
    #: clipped while the loss rose fails as "gradients exploded"...
    max_clipped_fraction: float | None = 0.5
    #: ...and one whose mean loss is over this many times the first step's fails as
    #: "loss exploded".
    max_loss_growth: float | None = 100.0
    #: The caller's objectives (:class:`evolve.engine.objectives.UserObjective`), each scored as
    #: ``fn(model, data)`` on the trained model (eval mode) after the energy measurement.
    user_objectives: tuple[Any, ...] = ()
    #: Small-data selection (:mod:`evolve.engine.selection`): with K >= 2 the ``accuracy``
    #: objective is the mean held-out accuracy over K folds of train + validation (drawn with
    #: ``fold_seed``, the run's seed); 0: the validation split's accuracy.
    folds: int = 0
    fold_seed: int = 0
    #: One fold of that cross-validation: train, and return only the held-out accuracy (no
    #: energy, test, latency or user objective: the trial measures those once, on its model).
    score_only: bool = False
    #: ``fidelity_resource="data"``: the per-bracket fractions of the training split each
    #: epoch trains on (:mod:`evolve.training.subsets`); None: all of it every epoch. A
    #: cross-validation fold (``score_only``) always trains on all of its data.
    data_fidelity: DataFidelity | None = None


class TrialMemoryExceeded(MemoryError):
    """A trial grew its process's resident memory past ``--trial-memory-mb``."""


#: The longest reason stored in a failed trial's ``error`` attribute.
MAX_ERROR_CHARS = 500


def one_line(e: BaseException) -> str:
    """An exception as one line: its message's first line, or its type when it has none."""
    lines = str(e).strip().splitlines()
    text = lines[0].strip() if lines else type(e).__name__
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def failure_attrs(e: BaseException, arch: Mapping[str, Any]) -> dict[str, Any]:
    """A failed trial's attributes: the one-line reason (``error``), the exception's class
    (``error_type``) and the candidate (``arch``)."""
    return {"error": one_line(e), "error_type": type(e).__name__, "arch": dict(arch)}


def _proc_status_mb(*keys: str) -> dict[str, float]:
    """``kB`` fields of Linux's ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in MB, read in one
    go; empty where ``/proc`` is missing."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in keys:
            out[key] = int(rest.split()[0]) / 1024
    return out


def resident_mb() -> float | None:
    """This process's resident memory (``VmRSS``) in MB; None where /proc is missing."""
    return _proc_status_mb("VmRSS").get("VmRSS")


def memory_cap_supported() -> bool:
    """Whether :class:`MemoryGuard` can measure this process (Linux ``/proc``)."""
    return resident_mb() is not None


class MemoryGuard:
    """The resident memory one trial adds to this process, and its cap.

    At the start it resets the kernel's peak (``VmHWM``, via ``/proc/self/clear_refs``) when
    allowed and reads the resident set size (``VmRSS``); with a cap it first collects garbage
    (what the previous trial left), so the baseline is honest. :meth:`used_mb` is the growth since
    the start: the current RSS, or the peak when the peak rose during the trial (so a batch's
    short-lived activations count even though checks run between batches). :meth:`check` raises
    over the cap; without a cap there is nothing to check (:attr:`step_check` is ``None``) and
    only the final :meth:`used_mb` is recorded. It is a check, not a kernel limit: one allocation
    larger than the machine can still end the process before a check runs.
    """

    def __init__(self, cap_mb: float | None) -> None:
        self.cap_mb = cap_mb
        if cap_mb is not None:
            gc.collect()
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM (Linux >= 4.0)
        now = _proc_status_mb("VmRSS", "VmHWM")
        self.start_mb = now.get("VmRSS", 0.0)
        self._hwm0 = now.get("VmHWM", 0.0)
        self.peak_used_mb = 0.0

    def used_mb(self) -> float:
        """MB the trial added: current RSS, or the peak if it rose during the trial."""
        now = _proc_status_mb("VmRSS", "VmHWM")
        rss, hwm = now.get("VmRSS", 0.0), now.get("VmHWM", 0.0)
        used = max(rss, hwm if hwm > self._hwm0 else rss) - self.start_mb
        self.peak_used_mb = max(self.peak_used_mb, used)
        return used

    def check(self, where: str) -> None:
        """Raise :class:`TrialMemoryExceeded` when the trial is over its cap."""
        if self.cap_mb is None:
            return
        used = self.used_mb()
        if used > self.cap_mb:
            raise TrialMemoryExceeded(
                f"trial used {used:.0f} MB > --trial-memory-mb {self.cap_mb:g} ({where})"
            )

    @property
    def step_check(self) -> Callable[[int, int], None] | None:
        """The per-step check for :func:`evolve.training.trainer.train` (``None`` without a cap)."""
        if self.cap_mb is None:
            return None
        return lambda epoch, step: self.check(f"epoch {epoch}, step {step}")


@dataclass
class TrialOutcome:
    """Objective values (accuracy on validation, energy from validation spikes) and diagnostics.

    ``checkpoint`` holds what :func:`evolve.store.checkpoints.save` needs to keep the trained model
    (``model``, ``spec``, ``input_shape``, ``n_classes``, ``dataset``); it is not stored in the
    study.
    """

    values: dict[str, float]
    attrs: dict[str, Any] = field(default_factory=dict)
    stopped_early: bool = False
    checkpoint: dict[str, Any] | None = field(default=None, repr=False)


def _energy(
    model: torch.nn.Module, split: Split, settings: TrialSettings, limit: int | None = None
) -> EnergyReport:
    n = len(split) if limit is None else min(limit, len(split))
    return measure_energy(
        model,
        (x for x, _ in Split(split.x[:n], split.y[:n]).batches(ENERGY_BATCH)),
        profile=settings.energy_profile,
        energy_model=settings.energy_model,
    )


def neurobench_attrs(report: EnergyReport) -> dict[str, Any]:
    """A trial's NeuroBench metrics (measured with its energy, same samples), flat for
    ``trials.parquet``: ``effective_macs``, ``effective_acs``, ``dense_synops``, ``synops``
    (per inference), ``footprint_bytes``, ``connection_sparsity``, ``activation_sparsity``, and
    the ``energy_model`` they and the energy were counted under."""
    nb = report.neurobench
    assert nb is not None
    return {
        "effective_macs": nb.effective_macs,
        "effective_acs": nb.effective_acs,
        "dense_synops": nb.dense,
        "synops": nb.synops,
        "footprint_bytes": nb.footprint_bytes,
        "connection_sparsity": nb.connection_sparsity,
        "activation_sparsity": nb.activation_sparsity,
        "energy_model": report.energy_model,
    }


@torch.no_grad()
def _latency_ms(model: torch.nn.Module, split: Split, n: int = 64) -> float:
    """Wall-clock milliseconds per sample for a batch of ``n`` on this machine (eval mode)."""
    model.eval()
    x = split.x[:n]
    model(x)  # warm-up
    t0 = time.perf_counter()
    model(x)
    return 1000 * (time.perf_counter() - t0) / len(x)


def _given_int(value: Any) -> int | None:
    return None if value is None else int(value)


def evaluate_trial(
    arch: Mapping[str, Any],
    data: Dataset,
    settings: TrialSettings,
    *,
    report: ReportFn | None = None,
    number: int = 0,
) -> TrialOutcome:
    """Build, train (select on validation), and measure one candidate.

    ``number`` (the trial's) picks its bracket of ``settings.data_fidelity``; with one, every
    report and the outcome carry ``data_fraction`` (of the training split, that epoch).

    Raises:
        snn_models.ConfigError / evolve.errors.UserError: the candidate cannot be built.
        evolve.training.trainer.Diverged: training diverged (NaN or exploding loss, exploding
            gradients; see :func:`evolve.training.trainer.train` and ``settings``).
        TrialMemoryExceeded: the trial grew the process past ``settings.memory_mb``.
    """
    t0 = time.perf_counter()
    memory = MemoryGuard(settings.memory_mb)
    net_dict, train_over = arch_to_specs(arch)
    continual = sorted(k for k in train_over if k in CL_KEYS)
    if continual:
        raise UserError(
            f"the candidate has continual-learning settings ({', '.join(continual)}); "
            "search this space with `evolve continual`"
        )
    kind = data_kind_of(data.input_shape, getattr(data, "kind", None))
    net_dict.setdefault("preprocess", default_preprocess(kind, net_dict.get("encoder", "direct")))
    spec = snn_models.NetSpec.from_dict(net_dict)
    torch.manual_seed(settings.seed)
    model = snn_models.build(spec, data.input_shape, data.n_classes)
    input_coding = prepare_inputs(model, data.train.x, kind)  # fitted on the training split only
    if input_coding["clipped_fraction"] > 0:
        logger.info(
            "warning: encoder {} clips {:.1%} of the training inputs ({})",
            spec.encoder,
            input_coding["clipped_fraction"],
            input_coding["signed_inputs"],
        )
    memory.check("after building the model")
    cfg = TrainConfig(
        epochs=int(train_over.get("epochs", settings.epochs)),
        batch_size=_given_int(train_over.get("batch_size", settings.batch_size)),
        lr=float(train_over.get("lr", settings.lr)),
        weight_decay=float(train_over.get("weight_decay", 0.0)),
        seed=settings.seed,
        progress=False,
        max_clipped_fraction=settings.max_clipped_fraction,
        max_loss_growth=settings.max_loss_growth,
    )
    cfg = resolved(cfg, len(data.train))  # the batch size it trains with (recorded)
    step_check = memory.step_check
    fidelity = None if settings.score_only else settings.data_fidelity
    fractions = fidelity.of_trial(number) if fidelity is not None else ()
    epoch_split = epoch_splits(data.train, fractions, fidelity.seed) if fidelity else None
    selector = NeuronSelector(model)
    extra: dict[str, Any] = {"input_coding": input_coding}
    loss_fn = None
    if train_over.get("kd_enabled"):
        loss_fn, extra["teacher"] = _distiller(model, spec, train_over, data, settings)
        extra["teacher_energy_uj"] = extra["teacher"]["energy_uj"]
    if train_over.get("init") == "convert":
        extra["init"] = _warm_start(model, net_dict, data, cfg, step_check)

    def on_epoch(rec: EpochRecord) -> bool:
        if report is None and not selector.active:
            return False
        probe = _energy(model, data.val, settings, ENERGY_PROBE_SAMPLES)
        if selector.active:
            for d in selector.on_epoch_end(rec.epoch, rec.loss, probe.firing_rates):
                logger.info(
                    "selector: epoch {} {} {} -> {} ({})",
                    d.epoch,
                    d.layer,
                    d.before,
                    d.after,
                    d.reason,
                )
        if report is None:
            return False
        values = {"val_accuracy": rec.val_acc, "energy_uj": probe.energy_uj}
        if fractions:
            values["data_fraction"] = fractions[rec.epoch] if rec.epoch < len(fractions) else 1.0
        return report(rec.epoch, values)

    result = train(
        model,
        data.train,
        data.val,
        cfg,
        on_epoch=on_epoch,
        loss_fn=loss_fn,
        step_check=step_check,
        epoch_split=epoch_split,
    )
    if settings.score_only:
        held_out = {"val_accuracy": result.best_val_acc}
        return TrialOutcome(values={"accuracy": result.best_val_acc}, attrs=held_out)
    energy = _energy(model, data.val, settings)
    memory.check("measuring energy")
    test_acc = evaluate(model, data.test)
    latency = _latency_ms(model, data.val)
    rates = energy.firing_rates
    attrs: dict[str, Any] = {
        "dead_layers": [n for n, r in rates.items() if r < SILENT_RATE],
        "over_excited_layers": [n for n, r in rates.items() if r > RUNAWAY_RATE],
        "silent_output": bool(rates) and list(rates.values())[-1] == 0.0,
        "exploding_grad_steps": result.exploding_grad_steps,
        "vanishing_grad_steps": result.vanishing_grad_steps,
        "max_grad_norm": result.max_grad_norm,
        "test_accuracy": test_acc,
        "val_accuracy": result.best_val_acc,
        "best_epoch": result.best_epoch,
        "batch_size": cfg.batch_size,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
        "energy_uj": energy.energy_uj,
        "ann_energy_uj": energy.ann_energy_uj,
        "energy_ratio_to_ann": energy.ratio_to_ann,
        "sops": energy.total_sops,
        "macs": energy.total_macs,
        "firing_rates": energy.firing_rates,
        "spikes_per_inference": energy.spikes_per_inference,
        "neuron_types": neuron_kinds(model),
        "n_params": sum(p.numel() for p in model.parameters()),
        **neurobench_attrs(energy),
        "latency_ms": latency,
        "train_seconds": result.seconds,
        "wall_seconds": time.perf_counter() - t0,
        "memory_mb": round(max(memory.peak_used_mb, memory.used_mb()), 1),
        **extra,
    }
    blocks = attention_blocks(model)
    if blocks:
        attrs["attention_types"] = blocks
        by_block = {b: energy.energy_under(b) for b in blocks}
        attrs["attention_energy_by_block"] = by_block
        attrs["attention_energy_uj"] = sum(by_block.values())
    if selector.active:
        attrs["selector"] = selector.state()
    if fractions:  # the fraction of the training split its last epoch trained on
        attrs["data_fraction"] = fractions[min(len(result.history), len(fractions)) - 1]
    for kind, names in (
        ("dead (< 5% firing)", attrs["dead_layers"]),
        ("over-excited (> 95%)", attrs["over_excited_layers"]),
    ):
        if names:
            logger.info("warning: {} layers: {}", kind, ", ".join(names))
    values = {
        "accuracy": result.best_val_acc,
        "energy_uj": energy.energy_uj,
        "latency_ms": latency,
        "energy_ratio_to_ann": energy.ratio_to_ann,
        **{k: float(attrs[k]) for k in NEUROBENCH_OBJECTIVES},
    }
    if settings.folds and not result.stopped_early:
        from evolve.engine.selection import cross_validate

        attrs.update(cross_validate(arch, data, settings, evaluate_trial))
        values["accuracy"] = attrs["cv_accuracy_mean"]
        attrs["wall_seconds"] = time.perf_counter() - t0
    if settings.user_objectives:
        model.eval()
        for user in settings.user_objectives:
            values[user.name] = attrs[user.name] = user(model, data)
    checkpoint = {
        "model": model,
        "spec": net_dict,
        "input_shape": data.input_shape,
        "n_classes": data.n_classes,
        "dataset": data.name,
    }
    return TrialOutcome(
        values=values, attrs=attrs, stopped_early=result.stopped_early, checkpoint=checkpoint
    )


def _distiller(
    model: torch.nn.Module,
    spec: snn_models.NetSpec,
    over: Mapping[str, Any],
    data: Dataset,
    settings: TrialSettings,
) -> tuple[Distiller, dict[str, Any]]:
    """The KD loss of a candidate, with its teacher from the shared cache (trained once)."""
    family = str(over.get("kd_teacher", "same"))
    family = spec.kind if family == "same" else family
    width = over.get("kd_teacher_width")
    teacher = TeacherCache(Path(settings.teacher_dir)).get(
        data,
        family,
        int(width) if width is not None else None,
        seed=settings.teacher_seed,
        epochs=settings.teacher_epochs,
    )
    distiller = Distiller(
        teacher.model,
        alpha=float(over.get("kd_alpha", 0.5)),
        temperature=float(over.get("kd_temperature", 4.0)),
        per_step=bool(over.get("kd_per_step", False)),
    )
    distiller.attach(model)
    m = teacher.meta
    info = {
        "name": teacher.key.name,
        "cached": teacher.cached,
        "val_accuracy": m["val_accuracy"],
        "test_accuracy": m["test_accuracy"],
        "energy_uj": m["energy_uj"],
        # paid once per cache entry: 0 here when it came from the cache
        "train_seconds": 0.0 if teacher.cached else m["train_seconds"],
        "first_train_seconds": m["train_seconds"],
    }
    return distiller, info


def _warm_start(
    model: torch.nn.Module,
    net_dict: Mapping[str, Any],
    data: Dataset,
    cfg: TrainConfig,
    step_check: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """``init: convert``: train the candidate's ANN twin, convert it into the candidate."""
    t0 = time.perf_counter()
    twin = build_ann(net_dict, data.input_shape, data.n_classes)
    front = getattr(model, "preprocess", None)
    if isinstance(front, torch.nn.Module):  # the candidate's fitted front
        twin.preprocess.load_state_dict(front.state_dict())
    # the twin runs one step without spikes: training it well is cheap next to the SNN
    twin_cfg = dataclasses.replace(cfg, epochs=max(cfg.epochs, TWIN_MIN_EPOCHS), progress=False)
    twin_result = train(
        twin, data.train, data.val, twin_cfg, description="ANN twin", step_check=step_check
    )
    calibration = [x for x, _ in Split(data.train.x[:1024], data.train.y[:1024]).batches(256)]
    load_converted(model, twin, calibration)  # type: ignore[arg-type]
    return {
        "twin_val_accuracy": twin_result.best_val_acc,
        "twin_epochs": twin_cfg.epochs,
        "converted_val_accuracy": evaluate(model, data.val),
        "seconds": time.perf_counter() - t0,
    }
