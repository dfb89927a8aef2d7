"""Opening a study: its folder, its recorded configuration, its space, its agent.

:func:`prepare_study` checks everything a run needs before anything is written (a bad setting
never leaves a half-made run folder); :func:`start_agent` then writes the run record (config
with the reference point, a frozen copy of the space) for a new study and opens the agent on the
study's storage. Both are shared by ``search`` and ``continual``.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from evolve.config import CONFIG_FILE, DEFAULT_EPOCHS, DEFAULT_TRIALS, StudyConfig
from evolve.errors import DataError, RunError, UserError
from evolve.store.runfolder import check_sqlite_storage, read_run_config
from evolve.store.runlog import echo_level, logger

if TYPE_CHECKING:
    from agents import Agent, Constraint, EarlyStopper, Objective
    from evolve.data.datasets import Dataset
    from evolve.engine.objectives import UserObjective
    from search_spaces import SearchSpace

C = TypeVar("C", bound=StudyConfig)

#: ``constraint`` name → the values each param may take (``SearchSpace.restrict``). ``nir``
#: mirrors what :func:`snn_models.nir_io.to_nir` exports: no attention, no max pooling (the
#: CNNs pool), direct input, IF/LIF neurons with hard reset, and no ``init: convert`` (its
#: converted neurons reset softly).
CONSTRAINTS: dict[str, dict[str, list[Any]]] = {
    "nir": {
        "kind": ["mlp"],
        "encoder": ["direct"],
        "neuron": ["if", "lif"],
        "soft_reset": [False],
        "init": ["random"],
    }
}


@dataclass
class StudySetup(Generic[C]):
    """A study checked and ready to open: where it lives, its settings, space and objectives."""

    study_name: str
    run_dir: Path
    resumed: bool
    cfg: C
    space: SearchSpace
    objectives: tuple[Objective, ...]
    join: bool = False


def prepare_study(
    cls: type[C],
    given: Mapping[str, Any],
    *,
    study: str | None,
    out: Path,
    resume: bool,
    join: bool,
    user_objectives: Sequence[UserObjective] = (),
) -> StudySetup[C]:
    """Resolve the study name and folder, merge ``given`` with the record on resume, load the
    space (a resumed study keeps the copy in its folder) and apply its budget. Writes nothing.

    Args:
        cls: The configuration type (:class:`~evolve.config.SearchConfig`, ...).
        given: The settings the caller gave (None values: not given).
        study: Study name = folder under ``out`` (default ``<space>-<date-time>``).
        out: Where run folders go.
        resume: Continue the existing study ``study``.
        join: Work on a study another process is running.
        user_objectives: The caller's objective functions (recorded by name).

    Raises:
        UserError: resume without a study name, a study that exists without resume (or is
            missing with it), a setting that differs from the record, a bad budget, objective,
            sampler or agent.
    """
    from agents import AGENTS, SAMPLER_NAMES, Objective, parse_objectives
    from search_spaces import load_space

    given = {k: v for k, v in given.items() if v is not None}
    if resume and not study:
        raise RunError("resume needs the study's name (the run folder under out to continue)")
    if join and (resume or not study):
        raise RunError("join needs the study's name (the study to share) and no resume")
    space_arg = str(given.get("space") or cls().space)
    study_name = study or f"{Path(space_arg).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    if study_name == "teachers":
        raise RunError("study 'teachers': that folder holds the teacher cache; choose another name")
    run_dir = (Path(out) / study_name).resolve()
    recorded: C | None = None
    if (run_dir / CONFIG_FILE).exists():
        if not (resume or join):
            raise RunError(
                f"study {study_name!r} already exists in {run_dir}; resume it or choose "
                "another study name"
            )
        recorded = cls.from_dict(read_run_config(run_dir))
    elif resume:
        raise RunError(f"nothing to resume: {run_dir} has no {CONFIG_FILE}; start it anew")
    names = tuple(u.spec for u in user_objectives)
    if names:
        given = {**given, "user_objectives": names}
    cfg = recorded.resumed_with(given) if recorded is not None else cls(**given)
    # a resumed study keeps sampling the space it started with, even if the library changed since
    space = load_space(str(run_dir / "space.yaml") if recorded else cfg.space)
    constraint = getattr(cfg, "constraint", None)
    if constraint:
        from search_spaces.errors import SchemaProblem

        try:
            space = space.restrict(CONSTRAINTS[constraint], f"constraint {constraint}")
        except SchemaProblem as e:
            raise UserError(f"space {space.name!r}: {e}") from None
    changes: dict[str, Any] = {}
    if getattr(cfg, "dataset", "") is None:
        changes["dataset"] = space.dataset or "digits"
    trials = cfg.trials if cfg.trials is not None else space.budget.get("trials", DEFAULT_TRIALS)
    epochs = cfg.epochs if cfg.epochs is not None else space.budget.get("epochs", DEFAULT_EPOCHS)
    if trials < 1 or epochs < 1:
        raise UserError("trials and epochs must be >= 1")
    if cfg.max_failures < 0:
        raise UserError(f"max_failures must be >= 0 (0: never stop), got {cfg.max_failures}")
    objectives = parse_objectives(cfg.objectives)
    recorded_user = tuple(cfg.user_objectives)
    if tuple(u.spec for u in user_objectives) != recorded_user:
        raise UserError(
            f"the study records user objectives {list(recorded_user)}; pass the same functions "
            f"(got {[u.spec for u in user_objectives]})"
        )
    objectives += tuple(Objective(u.name, u.direction, u.threshold) for u in user_objectives)
    if len({o.name for o in objectives}) != len(objectives):
        raise UserError(f"objective names repeat: {[o.name for o in objectives]}")
    if cfg.sampler not in SAMPLER_NAMES:
        raise UserError(
            f"unknown sampler {cfg.sampler!r}; choose one of {', '.join(SAMPLER_NAMES)}"
        )
    if cfg.agent == "ray":
        raise UserError(
            "agent 'ray': Ray runs trials, it does not propose them; use agent 'optuna' with "
            "backend 'ray'"
        )
    if cfg.agent not in AGENTS:
        raise UserError(f"unknown agent {cfg.agent!r}; choose one of {', '.join(AGENTS)}")
    storage = cfg.storage or f"sqlite:///{run_dir / 'study.db'}"
    # a missing file is fine even on resume: a search killed between writing its record and
    # creating its database resumes by creating it
    check_sqlite_storage(storage, must_exist=False)
    if join and storage.startswith("sqlite:"):
        raise UserError(
            "join: several processes on one SQLite file lock each other out; use a journal "
            "file (storage runs/shared.log) or PostgreSQL (storage postgresql://...)"
        )
    cfg = cfg.replace(trials=trials, epochs=epochs, storage=storage, **changes)
    return StudySetup(study_name, run_dir, recorded is not None, cfg, space, objectives, join)


def check_space_fits_data(space: SearchSpace, data: Dataset) -> None:
    """Build the space's default model for ``data`` once, so that a space that cannot take this
    data set (a series model on images, say) is refused before any trial is recorded."""
    from evolve.engine.arch import arch_to_specs
    from snn_models import ConfigError, build

    net, _ = arch_to_specs(space.default())
    try:
        build(net, data.input_shape, data.n_classes)
    except ConfigError as e:
        hint = f" (the space names {space.dataset})" if space.dataset else ""
        raise DataError(
            f"space {space.name!r} does not fit data set {data.name!r} of shape "
            f"{data.input_shape}: {e}; choose another data set{hint} or space"
        ) from None


def reference_point(
    default_arch: Mapping[str, Any],
    input_shape: tuple[int, ...],
    n_classes: int,
    probe: Any,
    objectives: Sequence[Objective],
    profile: str,
    user_reference: Callable[[str], float] | None = None,
    energy_model: str = "per-inference",
) -> dict[str, float]:
    """Hypervolume reference: an objective's threshold if it has one, else accuracy 0, energy =
    the equivalent ANN of the space's default model (measured on the ``probe`` batch), latency
    1 s, energy ratio 1; NeuroBench's synaptic operations (``effective_acs``,
    ``effective_macs``, ``synops``) twice the default model's ``Dense`` count (every synapse
    active at every step) and ``footprint_bytes`` twice its footprint; a user objective asks
    ``user_reference(name)``."""
    from evolve.engine.arch import arch_to_specs
    from snn_models import NetSpec, build, measure_energy

    default_report = None

    def measured() -> Any:
        nonlocal default_report
        if default_report is None:
            net, _ = arch_to_specs(default_arch)
            model = build(NetSpec.from_dict(net), input_shape, n_classes)
            default_report = measure_energy(
                model, [probe], profile=profile, energy_model=energy_model
            )
        return default_report

    ref: dict[str, float] = {}
    for o in objectives:
        if o.threshold is not None:
            ref[o.name] = o.threshold
        elif o.name == "accuracy":
            ref[o.name] = 0.0
        elif o.name == "energy_uj":
            ref[o.name] = measured().ann_energy_uj
        elif o.name in ("effective_acs", "effective_macs", "synops"):
            ref[o.name] = 2.0 * measured().neurobench.dense
        elif o.name == "footprint_bytes":
            ref[o.name] = 2.0 * measured().neurobench.footprint_bytes
        elif o.name == "latency_ms":
            ref[o.name] = 1000.0
        elif o.name == "energy_ratio_to_ann":
            ref[o.name] = 1.0  # parity with the ANN twin
        elif user_reference is not None:
            ref[o.name] = user_reference(o.name)
        else:
            raise UserError(f"objective {o.name!r} has no reference point; give it a threshold")
    return ref


def start_agent(
    setup: StudySetup[Any],
    *,
    reference: Callable[[], dict[str, float]],
    constraints: Sequence[Constraint] = (),
    early_stopper: EarlyStopper | None = None,
) -> tuple[Agent, StudySetup[Any]]:
    """Write the run record (config with the reference point, the space) for a new study and
    open the agent on the study's storage. The run folder must exist; a new study that fails
    to open leaves nothing of its record behind.

    Returns:
        The agent, and the setup whose configuration holds the reference point.
    """
    from agents import make_agent
    from evolve.store.runfolder import write_yaml

    run_dir, cfg, space = setup.run_dir, setup.cfg, setup.space
    if setup.resumed and not setup.join:
        remove_partial_writes(run_dir)
    if not setup.resumed:  # the run record first, so that a study never exists without it
        cfg = cfg.replace(reference_point=reference())
        assert space.source is not None, "load_space always records the file it read"
        (run_dir / "space.yaml").write_text(Path(space.source).read_text())
        write_yaml(run_dir / CONFIG_FILE, cfg.to_dict())
    try:
        agent = make_agent(
            cfg.agent,
            space=space,
            objectives=setup.objectives,
            storage=cfg.storage,
            study_name=setup.study_name,
            sampler=cfg.sampler,
            seed=cfg.seed,
            constraints=list(constraints),
            resume=setup.resumed and not setup.join,
            early_stopper=early_stopper,
            join=setup.join,
        )
    except BaseException:
        if not setup.resumed:
            for name in (CONFIG_FILE, "space.yaml"):
                (run_dir / name).unlink(missing_ok=True)
        raise
    if agent.recovered_on_resume:
        logger.warning(
            "marked trials {} (left running by an interrupted run) as FAIL",
            agent.recovered_on_resume,
        )
    return agent, StudySetup(
        setup.study_name, run_dir, setup.resumed, cfg, space, setup.objectives, setup.join
    )


@contextlib.contextmanager
def opened_study(
    setup: StudySetup[Any],
    *,
    reference: Callable[[], dict[str, float]],
    constraints: Sequence[Constraint] = (),
    early_stopper: EarlyStopper | None = None,
    progress: bool = False,
    verbose: bool = False,
) -> Iterator[tuple[Agent, StudySetup[Any]]]:
    """The study open for a run: its folder created, its log open (``log.txt``; the terminal
    too with ``progress``/``verbose``), its record written and its agent started
    (:func:`start_agent`). A new study that fails before its record is complete leaves no
    folder behind."""
    from evolve.store.runlog import run_log

    created = new_run_folder(setup.run_dir)
    echo = echo_level(progress, verbose)
    try:
        with run_log(setup.run_dir / "log.txt", echo=echo):
            opened = start_agent(
                setup, reference=reference, constraints=constraints, early_stopper=early_stopper
            )
            created = None  # recorded: kept whatever happens next
            try:
                yield opened
            finally:
                close = getattr(opened[0], "close", None)
                if callable(close):  # the database as a reader expects it (one file)
                    close()
    finally:
        discard_new_folder(created)


def new_run_folder(run_dir: Path) -> Path | None:
    """Create ``run_dir`` (and its parents); returns the outermost folder created, which the
    caller removes if nothing is recorded after all (None: it existed)."""
    created = next((p for p in reversed((run_dir, *run_dir.parents)) if not p.exists()), None)
    run_dir.mkdir(parents=True, exist_ok=True)
    return created


def discard_new_folder(created: Path | None) -> None:
    """Remove what :func:`new_run_folder` created (a new study that failed to start)."""
    if created is not None:
        shutil.rmtree(created, ignore_errors=True)


def remove_partial_writes(run_dir: Path) -> None:
    """Delete the temporary files an atomic write leaves when its process is killed mid-write
    (``.pareto.json.*.tmp``, ``checkpoints/.trial_3.pt.*.tmp``). Only on resume, when no other
    process writes into this folder."""
    for folder in (run_dir, run_dir / "checkpoints"):
        for tmp in folder.glob(".*.tmp") if folder.is_dir() else ():
            tmp.unlink(missing_ok=True)
            logger.info("removed {} (left by an interrupted write)", tmp.name)
