"""The typed run configuration: what a study records in ``runs/<study>/config.yaml``.

A :class:`SearchConfig` (``evolve search``) or :class:`ContinualConfig` (``evolve continual``) is
frozen; ``None`` means "not given" (the space's budget or a default fills it when the run
starts, and the filled-in value is what ``config.yaml`` records). The YAML round trip and the
resume rules (which settings a resumed study may change) live here and nowhere else.

Example:
    >>> cfg = SearchConfig(space="hybrid_neuron", trials=3, epochs=1)
    >>> SearchConfig.from_dict(cfg.to_dict()) == cfg
    True
    >>> resumed = cfg.resumed_with({"trials": 6})
    >>> resumed.trials, resumed.space
    (6, 'hybrid_neuron')
    >>> cfg.resumed_with({"space": "temporal"})
    Traceback (most recent call last):
    ...
    evolve.errors.RunError: setting space='temporal' differs from the study's 'hybrid_neuron'; \
a resumed study keeps it (only trials, timeout, max_failures, trial_memory_mb, backend, workers, \
cpus_per_trial, gpus_per_trial, ray_address, retrain_top may change)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from evolve.errors import RunError

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_EPOCHS",
    "DEFAULT_MAX_FAILURES",
    "DEFAULT_SPACE",
    "DEFAULT_TRIALS",
    "ContinualConfig",
    "SearchConfig",
    "StudyConfig",
]

CONFIG_FILE = "config.yaml"
DEFAULT_SPACE = "hybrid_attention"
DEFAULT_TRIALS = 80  # for a space without a budget: section
DEFAULT_EPOCHS = 12
#: failed trials in a row that stop a run (0: never stop)
DEFAULT_MAX_FAILURES = 10

C = TypeVar("C", bound="StudyConfig")


@dataclass(frozen=True)
class StudyConfig:
    """What every study-running command records (``search`` and ``continual``).

    Attributes:
        space: A library space name or a YAML path.
        trials: Finished trials (pruned ones included) to reach; None: the space's budget.
        timeout: Stop starting new trials after this many seconds.
        max_failures: Stop when this many trials in a row failed (0: never).
        sampler: ``auto``, ``nsga2``, ``tpe``, ``random`` or ``qmc``.
        agent: A key of ``agents.AGENTS``.
        data_dir: Folder holding the data set's files.
        epochs: Training epochs per trial (per task for continual); None: the space's budget.
        seed: Seed of the sampler, the data split and training.
        storage: Optuna storage URL or journal-file path; None: ``sqlite:///<run>/study.db``.
        objectives: Comma-separated objective names.
        user_objectives: Names of the caller's objective functions (``name`` or, from the
            command line, ``file.py:function``), each ``[+|-]``-prefixed for maximise/minimise.
        reference_point: The hypervolume reference, recorded when the study starts.
    """

    #: Settings a resumed study may change; every other one must match the record.
    RESUMABLE: ClassVar[tuple[str, ...]] = ("trials", "timeout", "max_failures")
    #: Settings left out of ``config.yaml`` while they have their default value.
    OMITTED_AT_DEFAULT: ClassVar[tuple[str, ...]] = (
        "limits",
        "selection",
        "folds",
        "data_kind",
        "class_names",
        "feature_names",
        "energy_model",
        "proxy_filter",
        "proxy_pool",
        "proxy_prior",
        "fidelity",
        "reduction_factor",
        "min_epochs",
        "fidelity_resource",
        "retrain_top",
    )

    space: str = DEFAULT_SPACE
    trials: int | None = None
    timeout: float | None = None
    max_failures: int = DEFAULT_MAX_FAILURES
    sampler: str = "auto"
    agent: str = "optuna"
    data_dir: str | None = None
    epochs: int | None = None
    seed: int = 0
    storage: str | None = None
    objectives: str = "accuracy,energy"
    user_objectives: tuple[str, ...] = ()
    reference_point: dict[str, float] | None = field(default=None, compare=False)

    # ------------------------------------------------------------------ YAML round trip
    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``config.yaml`` (an empty ``user_objectives`` is left out, so runs
        without one read exactly as before)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "user_objectives":
                if value:
                    out[f.name] = list(value)
                continue
            if f.name == "reference_point" and value is None:
                continue
            if f.name in self.OMITTED_AT_DEFAULT and value == f.default:
                continue  # a setting newer than the run records reads as before
            out[f.name] = dict(value) if isinstance(value, Mapping) else value
        return out

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        """The configuration recorded in ``data`` (a parsed ``config.yaml``).

        Raises:
            RunError: a key this kind of run does not record.
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise RunError(
                f"config.yaml: unknown setting {unknown[0]!r}; the run folder is damaged or "
                "from another kind of run"
            )
        values = dict(data)
        if "user_objectives" in values:
            values["user_objectives"] = tuple(values["user_objectives"] or ())
        return cls(**values)

    def given(self) -> dict[str, Any]:
        """The settings that differ from the defaults (what a caller or a flag gave)."""
        default = type(self)()
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "reference_point" and getattr(self, f.name) != getattr(default, f.name)
        }

    # ------------------------------------------------------------------ resume rules
    def resumed_with(self: C, given: Mapping[str, Any]) -> C:
        """This (recorded) configuration with the settings a resume gives.

        Args:
            given: Settings given for the resume (None values are ignored).

        Raises:
            RunError: a setting that a resumed study cannot change differs from the record.
        """
        changes = {}
        for key, value in given.items():
            if value is None:
                continue
            if key not in self.RESUMABLE:
                if getattr(self, key) != value:
                    raise RunError(
                        f"setting {key}={value!r} differs from the study's "
                        f"{getattr(self, key)!r}; a resumed study keeps it (only "
                        f"{', '.join(self.RESUMABLE)} may change)"
                    )
                continue
            changes[key] = value
        return dataclasses.replace(self, **changes)

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class SearchConfig(StudyConfig):
    """``evolve search``: a study of architectures on one data set.

    Attributes:
        dataset: A data set name or file; None: the space's data set, else ``digits``. A data
            set passed as an object is recorded by its name.
        energy_budget_uj: Candidates above this energy (µJ per inference) are infeasible.
        limits: Metric name → upper bound: candidates above any are infeasible.
        no_early_stop: Never stop dominated trials early (the same as ``fidelity="none"``).
        fidelity: How running trials are stopped early, a key of :data:`agents.FIDELITIES`:
            ``stopper`` (the default: dominated at the same epoch by two finished trials),
            ``asha`` (multi-objective asynchronous successive halving over epochs),
            ``hyperband`` (ASHA in several brackets) or ``none``. Fixed for a run (a record
            without it is ``stopper``).
        reduction_factor: ``asha``/``hyperband``: the top 1/η of a rung continues (default 3).
            Fixed for a run.
        min_epochs: ``asha``/``hyperband``: epochs at the first rung (default 1). Fixed for a
            run.
        fidelity_resource: ``epochs`` (default) or ``data`` (``asha``/``hyperband`` only: the
            epochs before each rung also train on a growing, nested fraction of the training
            split; :mod:`evolve.training.subsets`). Fixed for a run.
        trial_memory_mb: Fail a trial that grows resident memory by more than this (MB).
        constraint: A key of ``evolve.engine.setup.CONSTRAINTS`` (``nir``).
        energy_model: ``per-inference`` (the default: the encoding layer that runs once on the
            static input counts once) or ``per-step`` (it counts at every time step, as a chip
            fed the input at every step runs it); see :data:`snn_models.energy.ENERGY_MODELS`.
            Fixed for a run: a resume keeps the recorded one (a record without it is
            ``per-inference``).
        backend: ``local`` or ``ray``.
        workers: Ray: trials at once (default 2).
        cpus_per_trial: Ray: CPUs per trial (default 1).
        gpus_per_trial: Ray: GPUs per trial (default 0).
        ray_address: Ray: ``auto`` or ``HOST:PORT``; None starts a local Ray.
        selection: How a trial's accuracy is scored: ``holdout`` (the validation split),
            ``kfold`` (mean over ``folds`` folds of train + validation) or ``auto`` (kfold when
            the validation split has fewer than 100 samples; a new run records what it chose,
            and a record without the key predates it and keeps the holdout); see
            :mod:`evolve.engine.selection`. Fixed for a run.
        folds: K for kfold (None: 5). Fixed for a run.
        data_kind: ``image``, ``tabular`` or ``series`` (:mod:`evolve.data.kinds`); None:
            recognised from the data (the run records what was recognised).
        class_names: The data's class names in index order (recorded when the study starts).
        feature_names: A table's feature column names in order (recorded when the study
            starts; None: the data is not a table of features).
        proxy_filter: ``sahd`` or ``grad``: train only the best-scoring of ``proxy_pool``
            proposals by that zero-cost proxy (:mod:`evolve.engine.proxy_filter`); None: every
            proposal is trained. Fixed for a run.
        proxy_pool: Proposals scored per trained trial (default 8 with a proxy filter; the
            resolved value is recorded). Fixed for a run.
        proxy_prior: ``sahd`` or ``grad``: a new study's first trials are the best-scoring of
            ``proxy_pool`` times as many random candidates (:mod:`evolve.engine.proxy_prior`);
            None: the sampler draws them. Fixed for a run.
        retrain_top: Agent ``oneshot``: retrain at most this many architectures of the
            inherited front (None: :data:`evolve.engine.oneshot.RETRAIN_TOP`); a resume may
            change it.
    """

    RESUMABLE: ClassVar[tuple[str, ...]] = (
        "trials",
        "timeout",
        "max_failures",
        "trial_memory_mb",
        "backend",
        "workers",
        "cpus_per_trial",
        "gpus_per_trial",
        "ray_address",
        "retrain_top",
    )
    RAY_KEYS: ClassVar[tuple[str, ...]] = (
        "workers",
        "cpus_per_trial",
        "gpus_per_trial",
        "ray_address",
    )

    dataset: str | None = None
    energy_budget_uj: float | None = None
    limits: dict[str, float] | None = None
    no_early_stop: bool = False
    fidelity: str = "stopper"
    reduction_factor: int = 3
    min_epochs: int = 1
    fidelity_resource: str = "epochs"
    trial_memory_mb: float | None = None
    constraint: str | None = None
    energy_model: str = "per-inference"
    backend: str = "local"
    workers: int | None = None
    cpus_per_trial: float | None = None
    gpus_per_trial: float | None = None
    ray_address: str | None = None
    selection: str = "auto"
    folds: int | None = None
    data_kind: str | None = None
    class_names: list[str] | None = field(default=None, compare=False)
    feature_names: list[str] | None = field(default=None, compare=False)
    proxy_filter: str | None = None
    proxy_pool: int | None = None
    proxy_prior: str | None = None
    retrain_top: int | None = None


@dataclass(frozen=True)
class ContinualConfig(StudyConfig):
    """``evolve continual`` (search mode): candidates learn a stream of tasks.

    Attributes:
        scenario: The task stream (``split-digits``, ``permuted-digits``, ...).
        n_tasks: Number of tasks (default 5).
        limit: At most this many samples per split of each task.
        strategy: The strategy when the space has no ``cl_strategy`` key.
        buffer_size, stdp_lr, stdp_epochs, readout_lr, feature_rate: strategy options.
        lr: Learning rate when the space has none.
    """

    space: str = "continual"
    objectives: str = "acc,forgetting,energy"
    scenario: str = "split-digits"
    n_tasks: int | None = None
    limit: int | None = None
    strategy: str | None = None
    buffer_size: int | None = None
    stdp_lr: float | None = None
    stdp_epochs: int | None = None
    readout_lr: float | None = None
    feature_rate: float | None = None
    lr: float | None = None
