"""``evolve search``: a multi-objective architecture search over spiking networks.

The conductor only orchestrates: the space proposes (``search_spaces``), the agent decides
(``agents``), the trial evaluates (``evolve.trial``), the study storage records. Everything a run
needs to be resumed or inspected lives in ``runs/<study>/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import gc
import shutil
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from loguru import logger

from evolve.errors import UserError
from evolve.runfolder import check_sqlite_storage, read_run_config

if TYPE_CHECKING:
    from agents import Agent, Constraint, MultiObjectiveStopper, Objective, Proposal
    from agents.ray_backend import RayOptions
    from evolve.datasets import Dataset
    from evolve.trial import ReportFn, TrialOutcome, TrialSettings
    from search_spaces import SearchSpace

# optuna, torch and the packages below are imported inside the functions that need them, so that
# `evolve --help` does not pay for them.

DEFAULT_SPACE = "hybrid_attention"
#: ``--constraint`` name → the values each param may take (``SearchSpace.restrict``). ``nir``
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
DEFAULT_TRIALS = 80  # for a space without a budget: section
DEFAULT_EPOCHS = 12
#: ``--max-failures``: failed trials in a row that stop a run (0: never stop).
DEFAULT_MAX_FAILURES = 10
CONFIG_FILE = "config.yaml"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search",
        help="search spiking architectures for the accuracy-energy Pareto front",
        description=(
            "Run a multi-objective architecture search: an agent proposes candidates from a search "
            "space, each is trained with surrogate gradients, selected on validation accuracy, and "
            "measured for energy from its real spikes. The Optuna study, log, Pareto front "
            "(pareto.json) and a table of trials (trials.parquet) go to runs/<study>/."
        ),
        epilog=(
            "examples:\n"
            "  evolve search                                  # default space on digits, ~5 min\n"
            "  evolve search --space hybrid_neuron --trials 50 --study big\n"
            "  evolve search --dataset fashion-mnist --epochs 4  # needs dataset-fashion-mnist\n"
            "  evolve search --study big --resume             # continue after a crash or Ctrl-C\n"
            "  evolve search --space my_space.yaml --objectives accuracy,energy,latency\n"
            "  evolve search --backend ray --workers 2        # trials in parallel on Ray\n"
            "  evolve search --backend ray --ray-address HEAD:6379 --storage postgresql://...\n"
            "  evolve search --study s --storage runs/s.log --join   # a 2nd process, same study\n"
            "  evolve show runs/big                           # the front as a table\n"
            "  evolve dashboard runs/big                      # browse it in optuna-dashboard"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--space",
        default=None,
        help=f"library space name or YAML path (default {DEFAULT_SPACE}; see `evolve spaces`)",
    )
    p.add_argument(
        "--study", help="study name = run folder name under --out (default: <space>-<date-time>)"
    )
    p.add_argument(
        "--dataset",
        help=(
            "digits (the default unless the space names one; embedded), fashion-mnist, a UCR "
            "series set shipped in aeon (gunpoint, italy_power_demand, arrow_head, "
            "basic_motions), an .npz file with arrays x and y, or a .csv/.parquet of series "
            "(a label column, one column per time point)"
        ),
    )
    p.add_argument("--data-dir", type=Path, help="folder holding the data set's files")
    p.add_argument(
        "--objectives",
        help="comma-separated: accuracy, energy, energy_ratio (to the ANN twin), latency "
        "(default accuracy,energy)",
    )
    p.add_argument(
        "--energy-budget-uj",
        type=float,
        help="constraint: candidates above this energy are infeasible",
    )
    p.add_argument(
        "--epochs",
        type=int,
        help=f"training epochs per trial (default: the space's budget, else {DEFAULT_EPOCHS})",
    )
    p.add_argument(
        "--backend",
        choices=("local", "ray"),
        help="local (default): trials one after another in this process; ray: on a Ray "
        "cluster through Ray Tune, --workers at once",
    )
    p.add_argument("--workers", type=int, help="ray: trials running at once (default 2)")
    p.add_argument("--cpus-per-trial", type=float, help="ray: CPUs reserved per trial (default 1)")
    p.add_argument("--gpus-per-trial", type=float, help="ray: GPUs reserved per trial (default 0)")
    p.add_argument(
        "--ray-address",
        help="ray: auto (the cluster this machine is in) or HOST:PORT of a head node; "
        "without it a local Ray instance is started for this search",
    )
    p.add_argument(
        "--join",
        action="store_true",
        help="work on a study another process is running (same --study and --storage): "
        "trials are shared, nothing of the other process is marked failed",
    )
    p.add_argument(
        "--constraint",
        choices=tuple(CONSTRAINTS),
        help="nir: propose only candidates NIR can express (MLP, direct input, IF/LIF with "
        "hard reset, no converted start), so that `evolve export --format nir` works",
    )
    p.add_argument("--no-early-stop", action="store_true", help="never stop dominated trials early")
    p.add_argument(
        "--trial-memory-mb",
        type=float,
        help="fail a trial that grows its process's resident memory by more than this many MB "
        "(checked after the model is built and after every training step; Linux; default: no "
        "cap; the first trial of a process also pays ~100 MB of torch start-up)",
    )
    add_study_flags(p)
    p.set_defaults(func=run)


def add_study_flags(p: argparse.ArgumentParser) -> None:
    """The flags every study-running command shares (`search`, `continual`): run length,
    agent, seed, storage, resume, run folder and output."""
    p.add_argument(
        "--trials",
        type=int,
        help=(
            "finished trials to reach, pruned ones included (default: the space's budget, "
            f"else {DEFAULT_TRIALS})"
        ),
    )
    p.add_argument("--timeout", type=float, help="stop starting new trials after this many seconds")
    p.add_argument(
        "--max-failures",
        type=int,
        help="stop the run (exit status 2) when this many trials in a row have failed, a sign "
        f"of a systematic problem (default {DEFAULT_MAX_FAILURES}; 0: never stop)",
    )
    p.add_argument(
        "--sampler",
        help="auto (nsga2 for several objectives, tpe for one), nsga2, tpe, random, qmc",
    )
    p.add_argument("--agent", help="search agent (default optuna)")
    p.add_argument(
        "--seed", type=int, help="seed of the sampler, data split and training (default 0)"
    )
    p.add_argument(
        "--storage",
        help="Optuna storage: sqlite:///path.db (one machine, the default "
        "sqlite:///runs/<study>/study.db), a journal file path ending in .log (several "
        "processes on one machine or a shared disk), or postgresql://user@host:port/db (clusters)",
    )
    p.add_argument(
        "--resume", action="store_true", help="continue an existing study (needs --study)"
    )
    p.add_argument(
        "--out", type=Path, default=Path("runs"), help="where run folders go (default runs/)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log INFO messages to stderr too")


# ----------------------------------------------------------------------------- configuration
#: The settings of the flags :func:`add_study_flags` adds, and of ``--epochs``/``--data-dir``.
STUDY_DEFAULTS: dict[str, Any] = {
    "trials": None,  # None: the space's budget, else DEFAULT_TRIALS
    "timeout": None,
    "max_failures": DEFAULT_MAX_FAILURES,
    "sampler": "auto",
    "agent": "optuna",
    "data_dir": None,
    "epochs": None,  # None: the space's budget, else DEFAULT_EPOCHS
    "seed": 0,
    "storage": None,
}
SETTINGS_DEFAULTS: dict[str, Any] = {
    "space": DEFAULT_SPACE,
    **STUDY_DEFAULTS,
    "dataset": None,  # None: the space's dataset, else digits
    "objectives": "accuracy,energy",
    "energy_budget_uj": None,
    "no_early_stop": False,
    "trial_memory_mb": None,
    "constraint": None,
    "backend": "local",
    "workers": None,
    "cpus_per_trial": None,
    "gpus_per_trial": None,
    "ray_address": None,
}
# may change on --resume; everything else must match
RESUMABLE = (
    "trials",
    "timeout",
    "max_failures",
    "trial_memory_mb",
    "backend",
    "workers",
    "cpus_per_trial",
    "gpus_per_trial",
    "ray_address",
)


def _settings(
    a: argparse.Namespace, stored: dict[str, Any] | None, defaults: dict[str, Any]
) -> dict[str, Any]:
    # a flag counts as given unless it is absent (None) or an unset switch (False); 0 is given
    given = {k: v for k in defaults if (v := getattr(a, k, None)) is not None and v is not False}
    if "data_dir" in given:
        given["data_dir"] = str(given["data_dir"])
    if stored is None:
        return {**defaults, **given}
    for k, v in given.items():
        if k not in RESUMABLE and stored.get(k) != v:
            raise UserError(
                f"--{k.replace('_', '-')} {v} differs from the study's {stored.get(k)!r}; "
                "drop the flag when resuming (only --trials, --timeout, --max-failures, "
                "--trial-memory-mb and the Ray flags may change)"
            )
    return {**defaults, **stored, **{k: v for k, v in given.items() if k in RESUMABLE}}


def check_space_fits_data(space: Any, data: Dataset) -> None:
    """Build the space's default model for ``data`` once, so that a space that cannot take this
    data set (a series model on images, say) is refused before any trial is recorded."""
    from evolve.arch import arch_to_specs
    from snn_models import ConfigError, build

    net, _ = arch_to_specs(space.default())
    try:
        build(net, data.input_shape, data.n_classes)
    except ConfigError as e:
        hint = f" (the space names {space.dataset})" if space.dataset else ""
        raise UserError(
            f"space {space.name!r} does not fit data set {data.name!r} of shape "
            f"{data.input_shape}: {e}; choose another --dataset{hint} or --space"
        ) from None


def reference_point(
    default_arch: Mapping[str, Any],
    input_shape: tuple[int, ...],
    n_classes: int,
    probe: Any,
    objectives: Sequence[Objective],
    profile: str,
) -> dict[str, float]:
    """Hypervolume reference: an objective's threshold if it has one, else accuracy 0, energy =
    the equivalent ANN of the space's default model (measured on the ``probe`` batch)."""
    from evolve.arch import arch_to_specs
    from snn_models import NetSpec, build, measure_energy

    ref: dict[str, float] = {}
    for o in objectives:
        if o.threshold is not None:
            ref[o.name] = o.threshold
        elif o.name == "accuracy":
            ref[o.name] = 0.0
        elif o.name == "energy_uj":
            net, _ = arch_to_specs(default_arch)
            model = build(NetSpec.from_dict(net), input_shape, n_classes)
            report = measure_energy(model, [probe], profile=profile)
            ref[o.name] = report.ann_energy_uj
        elif o.name == "latency_ms":
            ref[o.name] = 1000.0
        elif o.name == "energy_ratio_to_ann":
            ref[o.name] = 1.0  # parity with the ANN twin
        else:
            raise UserError(f"objective {o.name!r} has no reference point; give it a threshold")
    return ref


@dataclass
class RunSetup:
    """A run folder opened for a new or resumed study, with its merged settings."""

    study_name: str
    run_dir: Path
    stored: dict[str, Any] | None
    s: dict[str, Any]
    space: SearchSpace
    objectives: tuple[Objective, ...]
    join: bool = False


def open_run(a: argparse.Namespace, defaults: dict[str, Any], *, default_space: str) -> RunSetup:
    """Resolve the study name and run folder, merge flags with a stored config on --resume,
    load the space (a resumed study keeps the copy in its folder) and apply its budget.

    Raises:
        UserError: --resume without --study, a study that exists without --resume (or is
            missing with it), a flag that differs from the stored run, a bad budget, objective,
            sampler or agent.
    """
    from agents import AGENTS, SAMPLER_NAMES, parse_objectives
    from search_spaces import load_space

    join = bool(getattr(a, "join", False))
    if a.resume and not a.study:
        raise UserError("--resume needs --study NAME (the run folder under --out to continue)")
    if join and (a.resume or not a.study):
        raise UserError("--join needs --study NAME (the study to share) and no --resume")
    space_arg = a.space or default_space
    study_name = a.study or f"{Path(space_arg).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    if study_name == "teachers":
        raise UserError(
            "--study teachers: that folder holds the teacher cache; choose another name"
        )
    run_dir = (a.out / study_name).resolve()
    stored = None
    if (run_dir / CONFIG_FILE).exists():
        if not (a.resume or join):
            raise UserError(
                f"study {study_name!r} already exists in {run_dir}; pass --resume to continue it or choose another --study"
            )
        stored = read_run_config(run_dir)
    elif a.resume:
        raise UserError(
            f"nothing to resume: {run_dir} has no {CONFIG_FILE}; start it without --resume"
        )
    s = _settings(a, stored, defaults)
    # a resumed study keeps sampling the space it started with, even if the library changed since
    space = load_space(str(run_dir / "space.yaml") if stored else s["space"])
    if s.get("constraint"):
        from search_spaces.errors import SchemaProblem

        try:
            space = space.restrict(CONSTRAINTS[s["constraint"]], f"--constraint {s['constraint']}")
        except SchemaProblem as e:
            raise UserError(f"space {space.name!r}: {e}") from None
    if "dataset" in s and s["dataset"] is None:
        s["dataset"] = space.dataset or "digits"
    if s["trials"] is None:
        s["trials"] = space.budget.get("trials", DEFAULT_TRIALS)
    if s["epochs"] is None:
        s["epochs"] = space.budget.get("epochs", DEFAULT_EPOCHS)
    if s["trials"] < 1 or s["epochs"] < 1:
        raise UserError("--trials and --epochs must be >= 1")
    if s["max_failures"] < 0:
        raise UserError(f"--max-failures must be >= 0 (0: never stop), got {s['max_failures']}")
    objectives = parse_objectives(s["objectives"])
    if s["sampler"] not in SAMPLER_NAMES:
        raise UserError(
            f"--sampler: unknown sampler {s['sampler']!r}; choose one of {', '.join(SAMPLER_NAMES)}"
        )
    if s["agent"] == "ray":
        raise UserError(
            "--agent ray: Ray runs trials, it does not propose them; use --agent optuna "
            "--backend ray"
        )
    if s["agent"] not in AGENTS:
        raise UserError(f"--agent: unknown agent {s['agent']!r}; choose one of {', '.join(AGENTS)}")
    s["storage"] = s["storage"] or f"sqlite:///{run_dir / 'study.db'}"
    # a missing file is fine even on --resume: a search killed between writing its record and
    # creating its database resumes by creating it
    check_sqlite_storage(s["storage"], must_exist=False)
    if join and s["storage"].startswith("sqlite:"):
        raise UserError(
            "--join: several processes on one SQLite file lock each other out; use a journal "
            "file (--storage runs/shared.log) or PostgreSQL (--storage postgresql://...)"
        )
    return RunSetup(study_name, run_dir, stored, s, space, objectives, join)


def start_agent(
    setup: RunSetup,
    a: argparse.Namespace,
    *,
    reference: Callable[[], dict[str, float]],
    constraints: Sequence[Constraint] = (),
    early_stopper: MultiObjectiveStopper | None = None,
) -> Agent:
    """Create the run folder, write its record (config with the reference point, the space)
    for a new study, set up logging, and open the agent on the study's storage."""
    import optuna

    from agents import make_agent
    from evolve.runfolder import configure_logging, write_yaml

    run_dir, s, space = setup.run_dir, setup.s, setup.space
    # the outermost folder this call creates (runs/ itself may be new): removed if nothing is
    # recorded after all
    created = next((p for p in reversed((run_dir, *run_dir.parents)) if not p.exists()), None)
    run_dir.mkdir(parents=True, exist_ok=True)
    sink = configure_logging(run_dir, verbose=a.verbose)
    if setup.stored is not None and not setup.join:
        _remove_partial_writes(run_dir)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if setup.stored is None:  # the run record first, so that a study never exists without it
        s["reference_point"] = reference()
        assert space.source is not None, "load_space always records the file it read"
        (run_dir / "space.yaml").write_text(Path(space.source).read_text())
        write_yaml(run_dir / CONFIG_FILE, s)
    try:
        agent = make_agent(
            s["agent"],
            space=space,
            objectives=setup.objectives,
            storage=s["storage"],
            study_name=setup.study_name,
            sampler=s["sampler"],
            seed=s["seed"],
            constraints=list(constraints),
            resume=a.resume,
            early_stopper=early_stopper,
            join=setup.join,
        )
    except BaseException:
        if setup.stored is None:  # nothing was recorded: leave no half-made run behind
            logger.remove(sink)
            if created is not None:
                shutil.rmtree(created, ignore_errors=True)
            else:
                for name in (CONFIG_FILE, "space.yaml"):
                    (run_dir / name).unlink(missing_ok=True)
        raise
    if agent.recovered_on_resume:
        logger.warning(
            "marked trials {} (left running by an interrupted run) as FAIL",
            agent.recovered_on_resume,
        )
    return agent


def _remove_partial_writes(run_dir: Path) -> None:
    """Delete the temporary files an atomic write leaves when its process is killed mid-write
    (``.pareto.json.*.tmp``, ``checkpoints/.trial_3.pt.*.tmp``). Only on resume, when no other
    process writes into this folder."""
    for folder in (run_dir, run_dir / "checkpoints"):
        for tmp in folder.glob(".*.tmp") if folder.is_dir() else ():
            tmp.unlink(missing_ok=True)
            logger.info("removed {} (left by an interrupted write)", tmp.name)


# ----------------------------------------------------------------------------- the run
def run(a: argparse.Namespace) -> int:
    from agents import Constraint, MultiObjectiveStopper
    from evolve.datasets import load_dataset
    from evolve.trial import TrialSettings, evaluate_trial

    setup = open_run(a, SETTINGS_DEFAULTS, default_space=DEFAULT_SPACE)
    s, space, objectives = setup.s, setup.space, setup.objectives
    if any(k.startswith("cl_") for k in space.dimensions):
        raise UserError(
            f"space {space.name!r} has continual-learning settings (cl_*); "
            f"search it with `evolve continual --space {s['space']}`"
        )
    constraints = (
        [Constraint("energy_uj", float(s["energy_budget_uj"]))] if s["energy_budget_uj"] else []
    )
    data = load_dataset(
        s["dataset"], seed=s["seed"], data_dir=Path(s["data_dir"]) if s["data_dir"] else None
    )
    check_space_fits_data(space, data)
    teacher_dir = (a.out / "teachers").resolve()  # shared by every study under --out
    ray_keys = ("workers", "cpus_per_trial", "gpus_per_trial", "ray_address")
    if s["backend"] != "ray":
        given = [k for k in ray_keys if getattr(a, k, None) is not None]
        if given:
            raise UserError(
                f"--{given[0].replace('_', '-')} applies to Ray runs; add --backend ray"
            )
        for k in ray_keys:  # a Ray run resumed locally: its Ray settings do not apply
            s[k] = None
    if s["trial_memory_mb"] is not None:
        from evolve.trial import memory_cap_supported

        if not s["trial_memory_mb"] > 0:
            raise UserError(f"--trial-memory-mb must be > 0, got {s['trial_memory_mb']}")
        if not memory_cap_supported():
            raise UserError("--trial-memory-mb needs Linux (it reads /proc/self/status)")
    ray_options = _ray_options(s, setup.run_dir) if s["backend"] == "ray" else None
    agent = start_agent(
        setup,
        a,
        reference=lambda: reference_point(
            space.default(),
            data.input_shape,
            data.n_classes,
            data.val.x[:32],
            objectives,
            "45nm_fp32",
        ),
        constraints=constraints,
        early_stopper=None if s["no_early_stop"] else MultiObjectiveStopper(),
    )
    logger.info(
        "study {} in {}; space {}; data {}; objectives {}",
        setup.study_name,
        s["storage"],
        space.name,
        data.name,
        [o.name for o in objectives],
    )

    base = TrialSettings(
        epochs=s["epochs"],
        seed=s["seed"],
        teacher_dir=str(teacher_dir),
        memory_mb=s["trial_memory_mb"],
    )
    if ray_options is not None:
        return run_ray(agent, space, s, objectives, setup.run_dir, data, base, a, ray_options)

    def run_trial(proposal: Proposal, report: ReportFn) -> TrialOutcome:
        settings = dataclasses.replace(
            base, seed=s["seed"] + proposal.number, teacher_seed=s["seed"]
        )
        return evaluate_trial(proposal.arch, data, settings, report=report)

    return run_loop(
        agent,
        space,
        s,
        objectives,
        s["reference_point"],
        setup.run_dir,
        run_trial,
        progress=not a.no_progress,
        join=setup.join,
    )


def _ray_options(s: dict[str, Any], run_dir: Path) -> RayOptions:
    """The Ray settings of a run, checked before anything is recorded."""
    from agents.ray_backend import RayOptions

    def given(key: str, default: float) -> Any:
        return default if s[key] is None else s[key]

    options = RayOptions(
        workers=given("workers", 2),
        cpus_per_trial=given("cpus_per_trial", 1.0),
        gpus_per_trial=given("gpus_per_trial", 0.0),
        address=s["ray_address"],
        storage_path=run_dir / "ray",
    )
    options.validate()
    return options


def run_ray(
    agent: Agent,
    space: SearchSpace,
    s: dict[str, Any],
    objectives: Sequence[Objective],
    run_dir: Path,
    data: Dataset,
    base: TrialSettings,
    a: argparse.Namespace,
    options: RayOptions,
) -> int:
    """``--backend ray``: the same trials through Ray Tune, ``--workers`` at once."""
    import math

    from tqdm import tqdm

    from agents.ray_backend import TrialEnd, run_with_ray
    from evolve.ray_trial import ray_trainable

    reference = s["reference_point"]
    bar = tqdm(
        total=s["trials"],
        initial=agent.n_done(),
        desc=f"search {space.name} (ray x{options.workers})",
        unit="trial",
        disable=a.no_progress,
    )

    failures = FailureStreak(s.get("max_failures", DEFAULT_MAX_FAILURES))

    def on_end(end: TrialEnd) -> bool:
        if end.state == "fail":
            kind = end.attrs.get("error_type")
            logger.warning(
                "trial {} failed: {}{}", end.proposal.number, f"{kind}: " if kind else "", end.error
            )
            if end.traceback:
                logger.debug(
                    "trial {} traceback (Ray worker):\n{}", end.proposal.number, end.traceback
                )
            failures.failed(str(end.error))
        else:
            logger.info("trial {} {}: {}", end.proposal.number, end.state, end.values)
            failures.finished()
        _record(run_dir, agent, objectives, reference, bar)
        return failures.stop

    logger.info("ray backend: {}", options)
    interrupted = False
    try:
        run_with_ray(
            agent,
            ray_trainable,
            n_trials=s["trials"],
            options=options,
            on_end=on_end,
            timeout=s["timeout"],
            parameters={
                "data": data,
                "settings": dataclasses.replace(base, teacher_seed=s["seed"]),
                "run_dir": str(run_dir),
                "threads": max(1, math.ceil(options.cpus_per_trial)),
            },
        )
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    code = _finish(run_dir, agent, objectives, reference, interrupted, "search", "--backend ray")
    failures.raise_if_stopped(run_dir)
    return code


def run_loop(
    agent: Agent,
    space: SearchSpace,
    s: dict[str, Any],
    objectives: Sequence[Objective],
    reference: dict[str, float],
    run_dir: Path,
    run_trial: Callable[[Proposal, ReportFn], TrialOutcome],
    *,
    progress: bool,
    command: str = "search",
    join: bool = False,
) -> int:
    """Ask, evaluate with ``run_trial``, tell, until ``s["trials"]`` trials are done.

    After every trial the results are rewritten and the checkpoints pruned to the Pareto front.
    A trial whose evaluation raises anything but ``KeyboardInterrupt``/``SystemExit`` (a model
    that cannot be built, training that diverges, a memory cap, a bug) is told FAIL with the
    reason (attributes ``error``, ``error_type``, ``arch``; the traceback goes to log.txt) and
    the search goes on, unless ``s["max_failures"]`` trials in a row have failed: then the
    results are written and :class:`UserError` ends the run (exit status 2). Ctrl-C marks the
    running trial FAIL and prints how to resume (``evolve <command> --study ... --resume``).
    """
    from tqdm import tqdm

    from agents.errors import AgentError
    from evolve import checkpoints
    from evolve.results import write_results
    from evolve.trial import failure_attrs, one_line

    start = time.monotonic()
    bar = tqdm(
        total=s["trials"],
        initial=agent.n_done(),
        desc=f"search {space.name}",
        unit="trial",
        disable=not progress,
    )
    write_results(run_dir, agent.study, objectives, reference)
    # Everything imported so far (torch, optuna, ...) lives for the whole run: move it out of the
    # collector's view, so the per-trial gc.collect() below walks only what trials create.
    gc.collect()
    gc.freeze()
    interrupted = False
    failures = FailureStreak(s.get("max_failures", DEFAULT_MAX_FAILURES))
    try:
        while agent.n_done() + (_running_elsewhere(agent) if join else 0) < s["trials"]:
            if s["timeout"] is not None and time.monotonic() - start > s["timeout"]:
                logger.info("timeout reached after {:.0f} s", time.monotonic() - start)
                break
            proposal = agent.ask()
            logger.info("trial {} arch {}", proposal.number, dict(proposal.arch))
            outcome: TrialOutcome | None = None
            try:
                outcome = run_trial(proposal, functools.partial(agent.report, proposal))
                values = _objective_values(outcome, objectives)
                state: Literal["pruned", "complete"] = (
                    "pruned" if outcome.stopped_early else "complete"
                )
                if state == "complete" and outcome.checkpoint is not None:
                    checkpoints.save(run_dir, proposal.number, **outcome.checkpoint)
            except KeyboardInterrupt:
                attrs = failure_attrs(KeyboardInterrupt("interrupted"), proposal.arch)
                agent.tell(proposal, None, state="fail", attrs=attrs)
                raise
            except Exception as e:
                failures.failed(tell_failure(agent, proposal, e))
            else:
                attrs = {**outcome.attrs, "arch": dict(proposal.arch)}
                try:
                    agent.tell(proposal, values, state=state, attrs=attrs)
                except AgentError as e:  # a malformed outcome: the agent told it FAIL itself
                    logger.warning("trial {} failed: {}", proposal.number, e)
                    failures.failed(one_line(e))
                else:
                    failures.finished()
                    logger.info(
                        "trial {} {}: {}",
                        proposal.number,
                        state,
                        {k: round(v, 5) for k, v in outcome.values.items()},
                    )
            # the next trial starts clean: the model, optimiser and any traceback are released
            outcome = None
            gc.collect()
            _record(run_dir, agent, objectives, reference, bar)
            if failures.stop:
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        gc.unfreeze()
        bar.close()
    code = _finish(run_dir, agent, objectives, reference, interrupted, command)
    failures.raise_if_stopped(run_dir)
    return code


class FailureStreak:
    """``--max-failures``: counts failed trials in a row (a finished one resets the count)."""

    def __init__(self, limit: int) -> None:
        self.limit = int(limit)
        self.in_a_row = 0
        self.last = ""

    @property
    def stop(self) -> bool:
        return self.limit > 0 and self.in_a_row >= self.limit

    def failed(self, reason: str) -> bool:
        """Count a failed trial; True when the run must stop."""
        self.in_a_row += 1
        self.last = reason
        return self.stop

    def finished(self) -> None:
        self.in_a_row = 0

    def raise_if_stopped(self, run_dir: Path) -> None:
        if self.stop:
            raise UserError(
                f"stopped: {self.in_a_row} trials failed in a row (last: {self.last}); fix the "
                f"space or data, then --resume or start a new --study (tracebacks in "
                f"{run_dir / 'log.txt'}; --max-failures 0 never stops)"
            )


def tell_failure(agent: Agent, proposal: Proposal, e: BaseException) -> str:
    """Tell ``proposal`` FAIL because of ``e``: one line on the terminal, the traceback in the
    log file only; returns the reason."""
    from evolve.trial import failure_attrs

    attrs = failure_attrs(e, proposal.arch)
    logger.warning("trial {} failed: {}: {}", proposal.number, attrs["error_type"], attrs["error"])
    trace = "".join(traceback.format_exception(e))
    logger.debug("trial {} traceback:\n{}", proposal.number, trace)
    agent.tell(proposal, None, state="fail", attrs=attrs)
    return str(attrs["error"])


def _objective_values(outcome: TrialOutcome, objectives: Sequence[Objective]) -> dict[str, float]:
    """The objectives' values of an outcome; a missing or non-finite one fails the trial."""
    import math

    values = {}
    for o in objectives:
        value = outcome.values.get(o.name)
        if value is None or not math.isfinite(value):
            raise FloatingPointError(f"objective {o.name} is {value} (not a finite number)")
        values[o.name] = float(value)
    return values


def _record(
    run_dir: Path,
    agent: Agent,
    objectives: Sequence[Objective],
    reference: dict[str, float],
    bar: Any,
) -> dict[str, Any]:
    """After a trial: rewrite the results, prune checkpoints to the front, update the bar."""
    from evolve.results import write_results

    summary = write_results(run_dir, agent.study, objectives, reference)
    _prune_checkpoints(run_dir, agent, summary)
    bar.n = agent.n_done()
    first = objectives[0]
    pick = max if first.direction == "maximize" else min
    best = pick((f["values"][first.name] for f in summary["front"]), default=float("nan"))
    bar.set_postfix({f"best_{first.name}": f"{best:.3f}", "front": len(summary["front"])})
    bar.refresh()
    return summary


def _finish(
    run_dir: Path,
    agent: Agent,
    objectives: Sequence[Objective],
    reference: dict[str, float],
    interrupted: bool,
    command: str,
    resume_flags: str = "",
) -> int:
    """The last results, the summary, and on Ctrl-C how to resume (exit status 130)."""
    from evolve.results import write_results

    summary = write_results(run_dir, agent.study, objectives, reference)
    _prune_checkpoints(run_dir, agent, summary)
    _print_summary(summary, run_dir)
    if interrupted:
        print(
            f"interrupted; continue with: evolve {command} --study {agent.study.study_name} "
            f"--out {run_dir.parent} --resume" + (f" {resume_flags}" if resume_flags else "")
        )
        return 130
    return 0


def _prune_checkpoints(run_dir: Path, agent: Agent, summary: dict[str, Any]) -> None:
    """Keep the front's checkpoints, and those of trials still running: a Ray worker saves its
    weights just before the trial is told, while other trials' results are being written."""
    import optuna

    from evolve import checkpoints

    running = agent.study.get_trials(
        deepcopy=False,
        states=(optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING),
    )
    keep = {f["trial"] for f in summary["front"]} | {t.number for t in running}
    checkpoints.prune(run_dir, keep=keep)


def _running_elsewhere(agent: Agent) -> int:
    """Trials other processes are running on a shared study (they will count when done)."""
    import optuna

    return len(agent.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)))


def _print_summary(summary: dict[str, Any], run_dir: Path) -> None:
    from evolve.show_cmd import format_summary

    print(format_summary(summary))
    print(f"run folder: {run_dir}")


__all__ = ["add_parser", "run", "run_loop"]
