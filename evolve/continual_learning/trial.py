"""One candidate of a continual search: choose its strategy, let it learn the stream, score it.

A candidate is a flat search-space sample (see :mod:`evolve.engine.arch`): the model's keys,
training keys, and the continual keys ``cl_*`` that choose the strategy (:func:`strategy_for`).
Distillation (``kd_*``) and warm starts (``init``) are not part of a continual search: a space
that has them (``hybrid_neuron``) is searched without them (:func:`ignored_keys`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from evolve.continual_learning.strategies import STRATEGIES, make_strategy, strategy_options
from evolve.errors import UserError
from evolve.store.runlog import logger

if TYPE_CHECKING:
    from torch import nn

    from evolve.continual_learning.strategies.base import Strategy
    from evolve.continual_learning.streams import Stream
    from evolve.engine.trial import TrialOutcome
    from search_spaces import SearchSpace
    from snn_models.energy import EnergyReport

__all__ = [
    "BATCH_SIZE",
    "DEFAULT_LR",
    "DEFAULT_STRATEGY",
    "STRATEGY_OPTIONS",
    "check_strategies",
    "evaluate_continual",
    "ignored_keys",
    "measure",
    "strategy_for",
]

DEFAULT_STRATEGY = "replay"
DEFAULT_LR = 2e-3
BATCH_SIZE = 32
#: Strategy options, each a keyword (``buffer_size``), a space key (``cl_buffer_size``) and the
#: strategy's constructor argument; ``balanced`` (replay's class-balanced loss) is a space key
#: only.
STRATEGY_OPTIONS = (
    "buffer_size",
    "stdp_lr",
    "stdp_epochs",
    "readout_lr",
    "feature_rate",
    "balanced",
)


def ignored_keys(keys: Iterable[str]) -> list[str]:
    """The keys among ``keys`` a continual search ignores: distillation (``kd_*``) and warm
    starts (``init``)."""
    return sorted(k for k in keys if k.startswith("kd_") or k == "init")


def strategy_for(
    cl: Mapping[str, Any], flags: Mapping[str, Any], *, seed: int = 0
) -> tuple[str, dict[str, Any], Strategy]:
    """The strategy a candidate's ``cl_*`` settings choose, flags filling what they leave open.

    Args:
        cl: the candidate's ``cl_*`` values (``cl_strategy``, ``cl_buffer_size``, ...).
        flags: ``strategy`` and the options (``buffer_size``, ``stdp_lr``, ...) the caller
            gave; ``None`` values are ignored. A candidate's own setting wins over a flag.
        seed: seed of the replay buffer.

    Returns:
        ``(name, settings, strategy)``.

    Raises:
        UserError: an unknown strategy, or an option it does not take.
    """
    name = cl.get("cl_strategy") or flags.get("strategy") or DEFAULT_STRATEGY
    takes = set(strategy_options(name))
    settings: dict[str, Any] = {}
    for option in STRATEGY_OPTIONS:
        value = cl.get(f"cl_{option}")
        if value is None:
            value = flags.get(option)
        if value is None:
            continue
        if option not in takes:
            if f"cl_{option}" in cl:
                continue  # a space may hold options for several strategies: take what applies
            users = [s for s in STRATEGIES if option in strategy_options(s)]
            raise UserError(
                f"{option} applies to strategy {', '.join(users)} only, not to {name!r} (it "
                f"takes: {', '.join(sorted(takes - {'seed'})) or 'no options'})"
            )
        settings[option] = value
    if "seed" in takes:
        settings["seed"] = seed
    return name, settings, make_strategy(name, **settings)


def check_strategies(space: SearchSpace, flags: Mapping[str, Any]) -> None:
    """Refuse, before any trial, a strategy or option that no candidate could use.

    Raises:
        UserError: ``strategy`` given for a space that chooses it (``cl_strategy``), an unknown
            strategy, or an option the strategy does not take.
    """
    from search_spaces.dimensions import CategoricalDimension

    dim = space.dimensions.get("cl_strategy")
    if dim is None:  # the flags decide for every candidate
        strategy_for({}, flags)
        return
    if flags.get("strategy") is not None:
        raise UserError(
            f"strategy applies only to a space without cl_strategy: space {space.name!r} "
            "chooses the strategy itself; leave it out, or use another space"
        )
    choices = dim.choices if isinstance(dim, CategoricalDimension) else (dim.default,)
    for name in choices:
        strategy_for({"cl_strategy": name}, {})


def measure(model: nn.Module, stream: Stream, profile: str = "45nm_fp32") -> EnergyReport:
    """Energy per inference of the final model over every task's validation inputs."""
    import torch

    from evolve.data.datasets import Split
    from snn_models.energy import measure_energy

    union = Split(
        torch.cat([t.val.x for t in stream.tasks]), torch.cat([t.val.y for t in stream.tasks])
    )
    return measure_energy(model, (x for x, _ in union.batches(256)), profile=profile)


def evaluate_continual(
    arch: Mapping[str, Any],
    stream: Stream,
    s: Mapping[str, Any],
    *,
    seed: int,
) -> TrialOutcome:
    """Build a candidate, let it learn ``stream`` with its strategy, and score it.

    Args:
        arch: the candidate (a flat search-space sample); ``kd_*`` and ``init`` keys are
            ignored.
        stream: the tasks.
        s: ``epochs`` (per task) and ``lr`` when the candidate has none; ``strategy`` and the
            options (``buffer_size``, ...) when its ``cl_*`` keys leave them open.
        seed: seed of the model, the training and the replay buffer.

    Returns:
        Values ``cl_acc`` and ``forgetting`` (GEM, validation splits), ``energy_uj`` (per
        inference on all tasks' validation inputs after the last task). Attributes hold R and
        the metrics on the test splits too, the strategy and its settings, per-stage times and
        the firing rates; the checkpoint holds the final model.
    """
    import torch

    import snn_models
    from evolve.continual_learning.runner import run_stream
    from evolve.engine.arch import CL_KEYS, arch_to_specs
    from evolve.engine.trial import NEUROBENCH_OBJECTIVES, TrialOutcome, neurobench_attrs
    from evolve.training.trainer import TrainConfig

    t0 = time.perf_counter()
    ignored = ignored_keys(arch)
    if ignored:
        logger.debug("ignored {} (not part of a continual search)", ", ".join(ignored))
    net_dict, train_over = arch_to_specs({k: v for k, v in arch.items() if k not in ignored})
    cl = {k: train_over.pop(k) for k in CL_KEYS if k in train_over}
    name, _, strategy = strategy_for(cl, s, seed=seed)
    torch.manual_seed(seed)
    model = snn_models.build(
        snn_models.NetSpec.from_dict(net_dict), stream.input_shape, stream.n_classes
    )
    cfg = TrainConfig(
        epochs=int(train_over.get("epochs", s["epochs"])),
        batch_size=int(train_over.get("batch_size", BATCH_SIZE)),
        lr=float(train_over.get("lr", s.get("lr") or DEFAULT_LR)),
        weight_decay=float(train_over.get("weight_decay", 0.0)),
        seed=seed,
        progress=False,
    )
    result = run_stream(model, stream, strategy, cfg)
    energy = measure(model, stream)
    val = result.metrics_val
    assert val is not None, "run_stream always measures the validation splits"
    attrs = {
        "strategy": name,
        "strategy_settings": result.settings,
        "stream": stream.to_dict(),
        "R": [list(r) for r in result.r],
        "R_val": [list(r) for r in result.r_val],
        "test_acc": result.metrics.acc,
        "test_bwt": result.metrics.bwt,
        "test_forgetting": result.metrics.forgetting,
        "val_acc": val.acc,
        "val_bwt": val.bwt,
        "test_accuracy": result.metrics.acc,  # the front table's test column
        "energy_uj": energy.energy_uj,
        "ann_energy_uj": energy.ann_energy_uj,
        "energy_ratio_to_ann": energy.ratio_to_ann,
        "firing_rates": energy.firing_rates,
        "stage_seconds": [st.train_seconds for st in result.stages],
        "n_params": sum(p.numel() for p in model.parameters()),
        **neurobench_attrs(energy),  # NeuroBench's metrics of the same forwards
        "wall_seconds": time.perf_counter() - t0,
    }
    values = {"cl_acc": val.acc, "forgetting": val.forgetting, "energy_uj": energy.energy_uj}
    values.update({k: float(attrs[k]) for k in NEUROBENCH_OBJECTIVES})
    checkpoint = {
        "model": model,
        "spec": net_dict,
        "input_shape": stream.input_shape,
        "n_classes": stream.n_classes,
        "dataset": stream.name,
    }
    return TrialOutcome(values=values, attrs=attrs, checkpoint=checkpoint)
