"""``evolve search``: a multi-objective architecture search over spiking networks.

The conductor only orchestrates: the space proposes (``search_spaces``), the agent decides
(``agents``), the trial evaluates (``evolve.trial``), the study storage records. Everything a run
needs to be resumed or inspected lives in ``runs/<study>/``.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from loguru import logger

from evolve.errors import UserError

if TYPE_CHECKING:
    from agents import Agent, Objective
    from evolve.datasets import Dataset
    from search_spaces import SearchSpace

# optuna, torch and the packages below are imported inside the functions that need them, so that
# `evolve --help` does not pay for them.

DEFAULT_SPACE = "hybrid_attention"
DEFAULT_TRIALS = 80  # for a space without a budget: section
DEFAULT_EPOCHS = 12
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
            "  evolve show runs/big                           # the front as a table"
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
        "--trials",
        type=int,
        help=(
            "finished trials to reach, pruned ones included (default: the space's budget, "
            f"else {DEFAULT_TRIALS})"
        ),
    )
    p.add_argument("--timeout", type=float, help="stop starting new trials after this many seconds")
    p.add_argument(
        "--sampler",
        help="auto (nsga2 for several objectives, tpe for one), nsga2, tpe, random, qmc",
    )
    p.add_argument("--agent", help="search agent (default optuna)")
    p.add_argument(
        "--dataset",
        help="digits (default, embedded), fashion-mnist, or an .npz file with arrays x and y",
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
        "--seed", type=int, help="seed of the sampler, data split and training (default 0)"
    )
    p.add_argument("--storage", help="Optuna storage URL (default sqlite:///runs/<study>/study.db)")
    p.add_argument("--no-early-stop", action="store_true", help="never stop dominated trials early")
    p.add_argument(
        "--resume", action="store_true", help="continue an existing study (needs --study)"
    )
    p.add_argument(
        "--out", type=Path, default=Path("runs"), help="where run folders go (default runs/)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log INFO messages to stderr too")
    p.set_defaults(func=run)


# ----------------------------------------------------------------------------- configuration
SETTINGS_DEFAULTS: dict[str, Any] = {
    "space": DEFAULT_SPACE,
    "trials": None,  # None: the space's budget, else DEFAULT_TRIALS
    "timeout": None,
    "sampler": "auto",
    "agent": "optuna",
    "dataset": "digits",
    "data_dir": None,
    "objectives": "accuracy,energy",
    "energy_budget_uj": None,
    "epochs": None,  # None: the space's budget, else DEFAULT_EPOCHS
    "seed": 0,
    "storage": None,
    "no_early_stop": False,
}
RESUMABLE = ("trials", "timeout")  # may change on --resume; everything else must match


def _settings(a: argparse.Namespace, stored: dict[str, Any] | None) -> dict[str, Any]:
    given = {k: getattr(a, k) for k in SETTINGS_DEFAULTS if getattr(a, k) not in (None, False)}
    if "data_dir" in given:
        given["data_dir"] = str(given["data_dir"])
    if stored is None:
        return {**SETTINGS_DEFAULTS, **given}
    for k, v in given.items():
        if k not in RESUMABLE and stored.get(k) != v:
            raise UserError(
                f"--{k.replace('_', '-')} {v} differs from the study's {stored.get(k)!r}; "
                f"drop the flag when resuming (only --trials and --timeout may change)"
            )
    return {**SETTINGS_DEFAULTS, **stored, **{k: v for k, v in given.items() if k in RESUMABLE}}


def _reference_point(
    space: SearchSpace, data: Dataset, objectives: Sequence[Objective], profile: str
) -> dict[str, float]:
    """Hypervolume reference: accuracy 0, energy = the equivalent ANN of the space's default model."""
    from evolve.arch import arch_to_specs
    from snn_models import NetSpec, build, measure_energy

    ref: dict[str, float] = {}
    for o in objectives:
        if o.threshold is not None:
            ref[o.name] = o.threshold
        elif o.name == "accuracy":
            ref[o.name] = 0.0
        elif o.name == "energy_uj":
            net, _ = arch_to_specs(space.default())
            model = build(NetSpec.from_dict(net), data.input_shape, data.n_classes)
            report = measure_energy(model, [data.val.x[:32]], profile=profile)
            ref[o.name] = report.ann_energy_uj
        elif o.name == "latency_ms":
            ref[o.name] = 1000.0
        elif o.name == "energy_ratio_to_ann":
            ref[o.name] = 1.0  # parity with the ANN twin
        else:
            raise UserError(f"objective {o.name!r} has no reference point; give it a threshold")
    return ref


# ----------------------------------------------------------------------------- the run
def run(a: argparse.Namespace) -> int:
    import optuna

    from agents import (
        AGENTS,
        SAMPLER_NAMES,
        Constraint,
        MultiObjectiveStopper,
        make_agent,
        parse_objectives,
    )
    from evolve.datasets import load_dataset
    from evolve.runfolder import configure_logging, write_yaml
    from search_spaces import load_space

    if a.resume and not a.study:
        raise UserError("--resume needs --study NAME (the run folder under --out to continue)")
    space_arg = a.space or DEFAULT_SPACE
    study_name = a.study or f"{Path(space_arg).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    if study_name == "teachers":
        raise UserError(
            "--study teachers: that folder holds the teacher cache; choose another name"
        )
    run_dir = (a.out / study_name).resolve()
    stored = None
    if (run_dir / CONFIG_FILE).exists():
        if not a.resume:
            raise UserError(
                f"study {study_name!r} already exists in {run_dir}; pass --resume to continue it or choose another --study"
            )
        stored = yaml.safe_load((run_dir / CONFIG_FILE).read_text())
    elif a.resume:
        raise UserError(
            f"nothing to resume: {run_dir} has no {CONFIG_FILE}; start it without --resume"
        )
    s = _settings(a, stored)
    # a resumed study keeps sampling the space it started with, even if the library changed since
    space = load_space(str(run_dir / "space.yaml") if stored else s["space"])
    if s["trials"] is None:
        s["trials"] = space.budget.get("trials", DEFAULT_TRIALS)
    if s["epochs"] is None:
        s["epochs"] = space.budget.get("epochs", DEFAULT_EPOCHS)
    if s["trials"] < 1 or s["epochs"] < 1:
        raise UserError("--trials and --epochs must be >= 1")
    objectives = parse_objectives(s["objectives"])
    if s["sampler"] not in SAMPLER_NAMES:
        raise UserError(
            f"--sampler: unknown sampler {s['sampler']!r}; choose one of {', '.join(SAMPLER_NAMES)}"
        )
    if s["agent"] not in AGENTS:
        raise UserError(f"--agent: unknown agent {s['agent']!r}; choose one of {', '.join(AGENTS)}")
    constraints = (
        [Constraint("energy_uj", float(s["energy_budget_uj"]))] if s["energy_budget_uj"] else []
    )
    data = load_dataset(
        s["dataset"], seed=s["seed"], data_dir=Path(s["data_dir"]) if s["data_dir"] else None
    )
    storage_url = s["storage"] or f"sqlite:///{run_dir / 'study.db'}"
    s["storage"] = storage_url

    run_dir.mkdir(parents=True, exist_ok=True)
    teacher_dir = (a.out / "teachers").resolve()  # shared by every study under --out
    configure_logging(run_dir, verbose=a.verbose)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if stored is None:  # the run record first, so that a study never exists without it
        s["reference_point"] = _reference_point(space, data, objectives, "45nm_fp32")
        assert space.source is not None, "load_space always records the file it read"
        (run_dir / "space.yaml").write_text(Path(space.source).read_text())
        write_yaml(run_dir / CONFIG_FILE, s)
    stopper = None if s["no_early_stop"] else MultiObjectiveStopper()
    try:
        agent = make_agent(
            s["agent"],
            space=space,
            objectives=objectives,
            storage=storage_url,
            study_name=study_name,
            sampler=s["sampler"],
            seed=s["seed"],
            constraints=constraints,
            resume=a.resume,
            early_stopper=stopper,
        )
    except BaseException:
        if stored is None:  # nothing was recorded: leave no half-made run behind
            (run_dir / CONFIG_FILE).unlink(missing_ok=True)
        raise
    if agent.recovered_on_resume:
        logger.warning(
            "marked trials {} (left running by an interrupted run) as FAIL",
            agent.recovered_on_resume,
        )
    reference = s["reference_point"]
    logger.info(
        "study {} in {}; space {}; data {}; objectives {}",
        study_name,
        storage_url,
        space.name,
        data.name,
        [o.name for o in objectives],
    )
    return _loop(
        agent,
        space,
        data,
        s,
        objectives,
        reference,
        run_dir,
        progress=not a.no_progress,
        teacher_dir=teacher_dir,
    )


def _loop(
    agent: Agent,
    space: SearchSpace,
    data: Dataset,
    s: dict[str, Any],
    objectives: Sequence[Objective],
    reference: dict[str, float],
    run_dir: Path,
    *,
    progress: bool,
    teacher_dir: Path,
) -> int:
    from tqdm import tqdm

    from evolve.results import write_results
    from evolve.trial import TrialSettings, evaluate_trial
    from snn_models import ConfigError

    start = time.monotonic()
    bar = tqdm(
        total=s["trials"],
        initial=agent.n_done(),
        desc=f"search {space.name}",
        unit="trial",
        disable=not progress,
    )
    summary: dict[str, Any] = write_results(run_dir, agent.study, objectives, reference)
    interrupted = False
    try:
        while agent.n_done() < s["trials"]:
            if s["timeout"] is not None and time.monotonic() - start > s["timeout"]:
                logger.info("timeout reached after {:.0f} s", time.monotonic() - start)
                break
            proposal = agent.ask()
            settings = TrialSettings(
                epochs=s["epochs"],
                seed=s["seed"] + proposal.number,
                teacher_dir=str(teacher_dir),
                teacher_seed=s["seed"],
            )
            logger.info("trial {} arch {}", proposal.number, dict(proposal.arch))
            try:
                outcome = evaluate_trial(
                    proposal.arch,
                    data,
                    settings,
                    report=functools.partial(agent.report, proposal),
                )
            except KeyboardInterrupt:
                agent.tell(proposal, None, state="fail", attrs={"error": "interrupted"})
                raise
            except (ConfigError, UserError, FloatingPointError, RuntimeError) as e:
                logger.warning("trial {} failed: {}", proposal.number, e)
                agent.tell(
                    proposal,
                    None,
                    state="fail",
                    attrs={"error": str(e), "arch": dict(proposal.arch)},
                )
            else:
                attrs = {**outcome.attrs, "arch": dict(proposal.arch)}
                state: Literal["pruned", "complete"] = (
                    "pruned" if outcome.stopped_early else "complete"
                )
                agent.tell(
                    proposal,
                    {o.name: outcome.values[o.name] for o in objectives},
                    state=state,
                    attrs=attrs,
                )
                logger.info(
                    "trial {} {}: {}",
                    proposal.number,
                    state,
                    {k: round(v, 5) for k, v in outcome.values.items()},
                )
            summary = write_results(run_dir, agent.study, objectives, reference)
            bar.n = agent.n_done()
            best = max((f["values"].get("accuracy", 0.0) for f in summary["front"]), default=0.0)
            bar.set_postfix(best_acc=f"{best:.3f}", front=len(summary["front"]))
            bar.refresh()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    summary = write_results(run_dir, agent.study, objectives, reference)
    _print_summary(summary, run_dir)
    if interrupted:
        print(
            f"interrupted; continue with: evolve search --study {agent.study.study_name} --out {run_dir.parent} --resume"
        )
        return 130
    return 0


def _print_summary(summary: dict[str, Any], run_dir: Path) -> None:
    from evolve.show_cmd import format_summary

    print(format_summary(summary))
    print(f"run folder: {run_dir}")


__all__ = ["add_parser", "run"]
