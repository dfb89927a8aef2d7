"""Phases 1 and 2 of the one-shot search (:mod:`evolve.engine.oneshot`): the run's supernets,
trained with uniform path sampling, and candidates scored on their inherited weights.

Example:
    >>> from evolve.data.datasets import load_dataset
    >>> from search_spaces import load_space
    >>> space = load_space("hybrid_neuron")
    >>> nets = SuperNets(space, load_dataset("digits"), seed=0)
    >>> supernet, model = nets.path(space.default())
    >>> supernet.key, [layer.width for layer in supernet.spec.layers]
    ('mlp/d2/bn0/in1x8x8/k3p1,k3p1', [256, 256])

    A transformer space's supernet is as wide as its widest ``dim`` (and MLP), and holds every
    attention type the space proposes:

    >>> space = load_space("hybrid_attention")
    >>> supernet, model = SuperNets(space, load_dataset("digits"), seed=0).path(space.default())
    >>> supernet.key, supernet.spec.dim, supernet.attention_types
    ('transformer/d2/bn1/in1x8x8/p2', 64, ('standard', 'ssa', 'sdsa', 'adaptive'))
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

import snn_models
from evolve.engine.arch import arch_to_specs
from evolve.errors import RunError
from snn_models.supernet import SuperNet, structure_key, widest_spec
from snn_models.transformer import DEFAULT_ATTENTION

if TYPE_CHECKING:
    from evolve.data.datasets import Dataset
    from evolve.engine.trial import TrialOutcome, TrialSettings
    from search_spaces import SearchSpace

__all__ = [
    "BN_CALIBRATION_BATCHES",
    "INHERITED_EVAL_SAMPLES",
    "MIN_SUPERNET_STEPS",
    "SUPERNET_BATCH",
    "SUPERNET_FILE",
    "SUPERNET_META",
    "SuperNets",
    "evaluate_inherited",
    "train_supernets",
]

SUPERNET_FILE = "supernet.pt"
SUPERNET_META = "supernet.json"
INHERITED_EVAL_SAMPLES = 2048  # validation samples an inherited candidate is scored on
BN_CALIBRATION_BATCHES = 4  # training batches that re-estimate a path's BatchNorm statistics
SUPERNET_BATCH = 64  # the mini-batch of supernet training (one path each)
MIN_SUPERNET_STEPS = 100  # mini-batches of supernet training at least, whatever the data size


class SuperNets:
    """The supernets of a run by :func:`~snn_models.supernet.structure_key`, each built from
    the widest spec of its structure when first needed, with the fitted input fronts shared by
    every path (fitted once per preprocessing method on the training split)."""

    def __init__(self, space: SearchSpace, data: Dataset, seed: int) -> None:
        self.space, self.data, self.seed = space, data, seed
        self.nets: dict[str, SuperNet] = {}
        self._fronts: dict[str, torch.nn.Module] = {}
        self.steps = 0
        self.seconds = 0.0

    def _highest(self, arch: Mapping[str, Any], key: str) -> Any:
        """The largest value the space proposes for ``key`` (``arch``'s where the space fixes
        it; None where neither sets it)."""
        try:
            dim: Any = self.space.dimension_for(key)
        except KeyError:  # fixed by the space, or not set at all
            return arch.get(key)
        high = getattr(dim, "high", None)
        return high if high is not None else max(dim.choices)

    def _widest(self, arch: Mapping[str, Any], spec: snn_models.NetSpec) -> snn_models.NetSpec:
        """The widest spec of ``spec``'s structure the space can propose."""
        if spec.kind != "transformer":
            widths = []
            for i in range(len(spec.layers)):
                key = next(k for k in (f"layer.{i}.width", f"layer.{i}.channels") if k in arch)
                widths.append(int(self._highest(arch, key)))
            return widest_spec(spec, widths)
        own_dim, _, own_ratio = spec.transformer_dims()
        dim = int(self._highest(arch, "dim") or own_dim)
        ratio = float(self._highest(arch, "mlp_ratio") or own_ratio)
        hidden = []
        for i in range(len(spec.layers)):
            width = self._highest(arch, f"layer.{i}.width")  # a block's explicit MLP width
            hidden.append(max(int(width or 1), round(ratio * dim)))
        return widest_spec(spec, hidden, dim=dim)

    def attention_types(self, arch: Mapping[str, Any], n_blocks: int) -> list[str]:
        """Every attention type the space can give a block of an ``n_blocks``-block
        transformer: its choices, or where it samples none ``arch``'s (or the default)."""
        types = set()
        for i in range(n_blocks):
            key = f"layer.{i}.attention"
            try:
                types |= {str(c) for c in getattr(self.space.dimension_for(key), "choices", ())}
            except KeyError:
                types.add(str(arch.get(key) or DEFAULT_ATTENTION))
        return sorted(types)

    def path(self, arch: Mapping[str, Any]) -> tuple[SuperNet, snn_models.SpikingNet]:
        """The supernet of ``arch``'s structure and ``arch`` built as its path (own weights
        not yet loaded; its input front fitted).

        Raises:
            snn_models.ConfigError / UserError: the candidate does not build.
        """
        from snn_models.preprocess import data_kind_of, default_preprocess, prepare_inputs

        data = self.data
        net_dict, _ = arch_to_specs(arch)
        kind = data_kind_of(data.input_shape, getattr(data, "kind", None))
        net_dict.setdefault(
            "preprocess", default_preprocess(kind, net_dict.get("encoder", "direct"))
        )
        spec = snn_models.NetSpec.from_dict(net_dict)
        key = structure_key(spec, data.input_shape)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            if key not in self.nets:
                types = (
                    self.attention_types(arch, len(spec.layers))
                    if spec.kind == "transformer"
                    else ()
                )
                self.nets[key] = SuperNet(
                    self._widest(arch, spec), data.input_shape, data.n_classes, attention=types
                )
            model = snn_models.build(spec, data.input_shape, data.n_classes)
        if spec.preprocess not in self._fronts:
            prepare_inputs(model, data.train.x, kind)
            self._fronts[spec.preprocess] = model.preprocess
        model.preprocess = self._fronts[spec.preprocess]
        return self.nets[key], model

    def save(self, run_dir: Path) -> None:
        """``supernet.pt`` (state dicts by structure) and then ``supernet.json`` (widest specs,
        a transformer's attention types, steps, seconds), each written atomically: a run
        killed meanwhile trains anew."""
        from evolve.store.runfolder import atomic_file, write_json

        states = {k: n.state_dict() for k, n in self.nets.items()}
        atomic_file(run_dir / SUPERNET_FILE, lambda tmp: torch.save(states, tmp))
        meta = {
            "steps": self.steps,
            "seconds": self.seconds,
            "nets": {k: n.spec.to_dict() for k, n in self.nets.items()},
            "attention": {k: list(n.attention_types) for k, n in self.nets.items()},
        }
        write_json(run_dir / SUPERNET_META, meta)

    @classmethod
    def load(cls, run_dir: Path, space: SearchSpace, data: Dataset, seed: int) -> SuperNets:
        """The supernets :meth:`save` wrote (``weights_only`` loading)."""
        nets = cls(space, data, seed)
        meta = json.loads((run_dir / SUPERNET_META).read_text())
        states = torch.load(run_dir / SUPERNET_FILE, weights_only=True)
        types = meta.get("attention", {})
        for key, spec in meta["nets"].items():
            net = SuperNet(spec, data.input_shape, data.n_classes, attention=types.get(key, ()))
            net.load_state_dict(states[key])
            nets.nets[key] = net
        nets.steps, nets.seconds = int(meta["steps"]), float(meta.get("seconds", 0.0))
        return nets


def train_supernets(
    space: SearchSpace, data: Dataset, *, epochs: int, seed: int, lr: float
) -> SuperNets:
    """Phase 1: train with uniform path sampling (one random candidate per mini-batch) for
    ``epochs`` passes over the training split, and at least :data:`MIN_SUPERNET_STEPS`
    mini-batches (small data: every structure gets trained; see the module docstring)."""
    from search_spaces.suggesters import RandomSuggester

    t0 = time.perf_counter()
    nets = SuperNets(space, data, seed)
    suggester = RandomSuggester(seed=seed)
    optimisers: dict[str, torch.optim.Optimizer] = {}
    torch.manual_seed(seed)
    per_epoch = math.ceil(len(data.train) / SUPERNET_BATCH)
    total, drawn, epoch = max(epochs * per_epoch, MIN_SUPERNET_STEPS), 0, 0
    while drawn < total:
        batches = data.train.batches(SUPERNET_BATCH, shuffle=True, seed=seed * 100_003 + epoch)
        epoch += 1
        for x, y in itertools.islice(batches, total - drawn):
            drawn += 1
            supernet, model = nets.path(space.sample(suggester))
            if supernet.key not in optimisers:
                optimisers[supernet.key] = torch.optim.Adam(supernet.parameters(), lr=lr)
            opt = optimisers[supernet.key]
            supernet.train()
            model.train()
            opt.zero_grad()
            loss = F.cross_entropy(supernet.forward_path(model, x), y)
            if not torch.isfinite(loss):  # a path that diverges teaches the others nothing
                continue
            loss.backward()
            torch.nn.utils.clip_grad_norm_(supernet.parameters(), 100.0)
            opt.step()
            nets.steps += 1
    nets.seconds = time.perf_counter() - t0
    return nets


@torch.no_grad()
def _calibrate_batchnorm(model: torch.nn.Module, data: Dataset, seed: int) -> None:
    """Re-estimate the BatchNorm statistics of an inherited path on a few training batches
    (the supernet's are averages over many paths)."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the calibration batches
    model.train()
    for i, (x, _) in enumerate(data.train.batches(SUPERNET_BATCH, shuffle=True, seed=seed)):
        if i >= BN_CALIBRATION_BATCHES:
            break
        model(x)
    model.eval()


def evaluate_inherited(
    arch: Mapping[str, Any], nets: SuperNets, settings: TrialSettings
) -> TrialOutcome:
    """Phase 2: score ``arch`` on inherited weights (no training): validation accuracy and the
    energy measured from its spikes, the values a trained trial records.

    Raises:
        RunError: no supernet was trained for the candidate's structure.
        snn_models.ConfigError / UserError: the candidate does not build.
    """
    from evolve.data.datasets import Split
    from evolve.engine.trial import (
        NEUROBENCH_OBJECTIVES,
        TrialOutcome,
        _energy,
        _latency_ms,
        neurobench_attrs,
    )
    from evolve.training.trainer import evaluate

    t0 = time.perf_counter()
    known = set(nets.nets)
    supernet, model = nets.path(arch)
    if supernet.key not in known:
        del nets.nets[supernet.key]
        raise RunError(f"no supernet was trained for structure {supernet.key}; train longer")
    supernet.load_into(model)
    _calibrate_batchnorm(model, nets.data, settings.seed)
    model.eval()
    n = min(INHERITED_EVAL_SAMPLES, len(nets.data.val))
    val = Split(nets.data.val.x[:n], nets.data.val.y[:n])
    accuracy = evaluate(model, val)
    energy = _energy(model, val, settings)
    attrs: dict[str, Any] = {
        "phase": "inherited",
        "supernet": supernet.key,
        "val_accuracy": accuracy,
        "energy_uj": energy.energy_uj,
        "ann_energy_uj": energy.ann_energy_uj,
        "energy_ratio_to_ann": energy.ratio_to_ann,
        "firing_rates": energy.firing_rates,
        **neurobench_attrs(energy),
    }
    values = {
        "accuracy": accuracy,
        "energy_uj": energy.energy_uj,
        "latency_ms": _latency_ms(model, val),
        "energy_ratio_to_ann": energy.ratio_to_ann,
        **{k: float(attrs[k]) for k in NEUROBENCH_OBJECTIVES},
    }
    for user in settings.user_objectives:
        values[user.name] = attrs[user.name] = user(model, nets.data)
    attrs["wall_seconds"] = time.perf_counter() - t0
    return TrialOutcome(values=values, attrs=attrs)
