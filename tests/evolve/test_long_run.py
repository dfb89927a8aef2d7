"""A long search keeps its memory flat: 300 trials through the real search loop, in-process.

The loop is :func:`evolve.engine.loop.run_loop` with a real :class:`agents.OptunaAgent` (the
default NSGA-II sampler) on SQLite, results rewritten and checkpoints saved and pruned after every
trial. Only the evaluation is trivial: each trial builds its candidate with
``snn_models.build`` and measures its energy on one tiny batch (hooks attached and removed), so
that a model, neuron or hook kept alive by anything would pile up over 300 trials. The objective
values are made up: every trial is dominated by trial 0, which keeps the per-trial bookkeeping
(Pareto front and hypervolume history over all trials, rewritten each time) cheap enough for a
test; ``benchmarks/long_run.py`` measures the same run with a realistic front.

Two things keep the test's time down without changing what it measures. The run folder and its
SQLite study are on ``/dev/shm`` when there is one: each of Optuna's ~30 commits per trial waits
for the disk otherwise. And the objects alive before the loop (torch, pytest, ...) are frozen
(``gc.freeze``): the loop collects garbage after every trial, and a full collection over this
process's ~250k start-up objects costs 0.1-0.2 s on these machines, 300 times. Objects the loop
creates are collected as usual, so a leak still shows.
"""

from __future__ import annotations

import dataclasses
import gc
import shutil
import tempfile
import time
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
from torch import nn

from agents import OptunaAgent, Proposal, parse_objectives
from evolve.engine.arch import arch_to_specs
from evolve.engine.loop import run_loop
from evolve.engine.trial import ReportFn, TrialOutcome, resident_mb
from evolve.store import checkpoints
from search_spaces import load_space
from snn_models import NetSpec, build, measure_energy
from snn_models.neurons.base import BaseNeuron

TRIALS = 300
WARM_UP = 50  # RSS is compared from the end of this many trials to the end of the run
MAX_GROWTH_MB = 50.0
INPUT_SHAPE = (1, 8, 8)
N_CLASSES = 10
SPACE = """\
name: long_run
params:
  kind: {type: categorical, choices: [mlp], default: mlp}
  depth: {type: int, low: 1, high: 2, default: 1}
  timesteps: {type: int, low: 1, high: 4, default: 2}
layers:
  repeat: depth
  params:
    width: {type: int, low: 8, high: 64, default: 16}
    neuron: {type: categorical, choices: [if, lif, bif, adaptive], default: lif}
    threshold: {type: float, low: 0.75, high: 1.25, default: 1.0}
"""


def rss_mb() -> float:
    """This process's resident set size in MB (Linux only)."""
    mb = resident_mb()
    if mb is None:
        raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")
    return mb


def _hooks(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        for m in model.modules()
    )


class TrivialEvaluator:
    """Build the candidate, one energy measurement on a tiny batch, made-up objectives.

    Remembers (weakly) every model and neuron it built, the RSS along the run, and any hook a
    measurement left on a model: it cannot assert inside the loop, which tells a raising trial
    FAIL and goes on.
    """

    def __init__(self) -> None:
        self.models: weakref.WeakSet[nn.Module] = weakref.WeakSet()
        self.neurons: weakref.WeakSet[nn.Module] = weakref.WeakSet()
        self.rss: dict[int, float] = {}
        self.left_hooks: list[int] = []
        self.x = torch.rand(4, *INPUT_SHAPE)
        self.start = time.perf_counter()
        self.seconds: dict[int, float] = {}

    def __call__(self, proposal: Proposal, report: ReportFn) -> TrialOutcome:
        n = proposal.number
        if n % 25 == 0:  # the RSS once trials 0..n-1 are done (told and recorded)
            self.rss[n] = rss_mb()
            self.seconds[n] = time.perf_counter() - self.start
        net, _ = arch_to_specs(proposal.arch)
        model = build(NetSpec.from_dict(net), INPUT_SHAPE, N_CLASSES)
        self.models.add(model)
        self.neurons.update(m for m in model.modules() if isinstance(m, BaseNeuron))
        energy = measure_energy(model, [self.x])
        if _hooks(model):
            self.left_hooks.append(n)
        # trial 0 dominates every later trial: the front stays one point
        values = {"accuracy": 0.9 - 0.001 * n, "energy_uj": 0.01 + 1e-4 * n}
        report(0, {"val_accuracy": values["accuracy"], "energy_uj": energy.energy_uj})
        return TrialOutcome(
            values=values,
            attrs={"firing_rates": energy.firing_rates, "sops": energy.total_sops},
            checkpoint={
                "model": model,
                "spec": net,
                "input_shape": INPUT_SHAPE,
                "n_classes": N_CLASSES,
                "dataset": "digits",
            },
        )


def _live_neurons() -> int:
    return sum(1 for o in gc.get_objects() if issubclass(type(o), BaseNeuron))


def _global_hooks() -> dict[str, int]:
    from torch.nn.modules import module

    names = [n for n in vars(module) if n.startswith("_global_") and n.endswith("hooks")]
    return {n: len(getattr(module, n)) for n in names}


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder in memory (``/dev/shm``) when the machine has one, else ``tmp_path``."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and shm.stat().st_mode & 0o002):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="long_run", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_300_trial_search_keeps_its_memory_flat(
    tmp_path: Path, fast_dir: Path, one_thread: None
) -> None:
    (tmp_path / "long_run.yaml").write_text(SPACE)
    space = load_space(str(tmp_path / "long_run.yaml"))
    objectives = parse_objectives("accuracy,energy")
    run_dir = fast_dir / "run"
    run_dir.mkdir()
    gc.collect()
    neurons_before, hooks_before = _live_neurons(), _global_hooks()
    agent = OptunaAgent(
        space=space,
        objectives=objectives,
        storage=f"sqlite:///{run_dir / 'study.db'}",
        study_name="long",
        seed=0,
    )
    evaluator = TrivialEvaluator()
    settings: dict[str, Any] = {"trials": TRIALS, "timeout": None}
    gc.freeze()
    try:
        result = run_loop(
            agent,
            trials=settings["trials"],
            timeout=None,
            max_failures=10,
            objectives=objectives,
            reference={"accuracy": 0.0, "energy_uj": 1.0},
            run_dir=run_dir,
            run_trial=evaluator,
            desc="long run",
        )
        code = 130 if result.interrupted else 0
    finally:
        gc.unfreeze()
    gc.collect()
    after = rss_mb()
    table = _table(evaluator.rss, evaluator.seconds, after, time.perf_counter() - evaluator.start)
    print(table)

    assert code == 0
    trials = agent.study.get_trials(deepcopy=False)
    assert len(trials) == TRIALS, table
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials), [
        (t.number, t.user_attrs.get("error")) for t in trials if t.values is None
    ]
    assert checkpoints.saved_trials(run_dir) == [0]  # pruned to the front after every trial
    growth = after - evaluator.rss[WARM_UP]
    assert growth <= MAX_GROWTH_MB, f"RSS grew {growth:.1f} MB after trial {WARM_UP}\n{table}"

    # nothing of 300 candidates is kept alive: no model, no neuron, no hook
    assert not evaluator.left_hooks, (
        f"trials that left hooks on their model: {evaluator.left_hooks}"
    )
    assert len(evaluator.models) == 0, f"{len(evaluator.models)} of {TRIALS} models still alive"
    assert len(evaluator.neurons) == 0, f"{len(evaluator.neurons)} neurons still alive"
    assert _live_neurons() <= neurons_before
    assert _global_hooks() == hooks_before


def _table(rss: Mapping[int, float], seconds: Mapping[int, float], end: float, total: float) -> str:
    rows = [f"{n:>5}  {rss[n]:8.1f}  {seconds[n]:8.1f}" for n in sorted(rss)]
    rows.append(f"{TRIALS:>5}  {end:8.1f}  {total:8.1f}")
    return "\n".join(["trial    RSS MB   seconds", *rows])


TRAINED_SPACE = """\
name: long_run_trained
fixed: {kind: mlp, kd_teacher: mlp, kd_teacher_width: 32}
params:
  depth: {type: int, low: 1, high: 1, default: 1}
  timesteps: {type: int, low: 1, high: 2, default: 1}
  kd_enabled: {type: bool, default: false}
  kd_per_step: {type: bool, default: false, when: {kd_enabled: true}}
layers:
  repeat: depth
  params:
    width: {type: int, low: 8, high: 16, default: 8}
    neuron: {type: categorical, choices: [if, lif, bif, adaptive], default: lif}
"""


def test_trials_that_really_train_leave_no_model_alive(
    tmp_path: Path, fast_dir: Path, one_thread: None
) -> None:
    """The real evaluation (training, distillation hooks, the neuron selector, energy, latency):
    once a trial is told, nothing holds its model, its neurons or its teacher's hooks."""
    from evolve.data.datasets import load_dataset
    from evolve.engine.trial import TrialSettings, evaluate_trial

    (tmp_path / "trained.yaml").write_text(TRAINED_SPACE)
    space = load_space(str(tmp_path / "trained.yaml"))
    objectives = parse_objectives("accuracy,energy")
    data = load_dataset("digits", seed=0)
    run_dir = fast_dir / "trained"
    run_dir.mkdir()
    agent = OptunaAgent(
        space=space,
        objectives=objectives,
        storage=f"sqlite:///{run_dir / 'study.db'}",
        study_name="trained",
        sampler="random",  # kd on and off, every neuron kind, within 10 trials
        seed=3,
    )
    base = TrialSettings(epochs=1, teacher_dir=str(tmp_path / "teachers"), teacher_epochs=2)
    models: weakref.WeakSet[nn.Module] = weakref.WeakSet()
    neurons: weakref.WeakSet[nn.Module] = weakref.WeakSet()

    def run_trial(proposal: Proposal, report: ReportFn) -> TrialOutcome:
        settings = dataclasses.replace(base, seed=proposal.number)
        outcome = evaluate_trial(proposal.arch, data, settings, report=report)
        assert outcome.checkpoint is not None
        model = outcome.checkpoint["model"]
        models.add(model)
        neurons.update(m for m in model.modules() if isinstance(m, BaseNeuron))
        return outcome

    result = run_loop(
        agent,
        trials=10,
        timeout=None,
        max_failures=10,
        objectives=objectives,
        reference={"accuracy": 0.0, "energy_uj": 1.0},
        run_dir=run_dir,
        run_trial=run_trial,
        desc="long run",
    )
    code = 130 if result.interrupted else 0
    assert code == 0
    trials = agent.study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 10, [
        t.user_attrs.get("error") for t in trials
    ]
    assert {t.params["kd_enabled"] for t in trials} == {True, False}
    gc.collect()
    assert len(models) == 0, f"{len(models)} of 10 trained models still alive"
    assert len(neurons) == 0, f"{len(neurons)} neurons of trained models still alive"
