"""What the commands share: the study flags, the run-folder argument, and the translation of
the library's words for settings into the flags that set them (the library says
``resume=True``; the command line says ``--resume``)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from evolve.config import DEFAULT_MAX_FAILURES, DEFAULT_TRIALS
from evolve.errors import UserError

#: Library phrase → the command line's, applied in order to a bad-input message.
_PHRASES: tuple[tuple[str, str], ...] = (
    (
        "resume needs the study's name (the run folder under out to continue)",
        "--resume needs --study NAME (the run folder under --out to continue)",
    ),
    (
        "join needs the study's name (the study to share) and no resume",
        "--join needs --study NAME (the study to share) and no --resume",
    ),
    (
        "; resume it or choose another study name",
        "; pass --resume to continue it or choose another --study",
    ),
    ("continue it with resume=True", "pass --resume to continue it"),
    (
        "applies with proxy_filter or proxy_prior",
        "applies with --proxy-filter or --proxy-prior",
    ),
    ("leave out backend 'ray'", "leave out --backend ray"),
    ("limits: ", "--limit: "),
    ("work on it too with join=True", "pass --join to work on it too"),
    ("start it anew", "start it without --resume"),
    ("trials and epochs must be >= 1", "--trials and --epochs must be >= 1"),
    ("then resume or start a new study", "then --resume or start a new --study"),
    ("max_failures 0 never stops", "--max-failures 0 never stops"),
    ("(storage runs/shared.log)", "(--storage runs/shared.log)"),
    ("(storage postgresql://...)", "(--storage postgresql://...)"),
    ("use agent 'optuna' with backend 'ray'", "use --agent optuna --backend ray"),
    ("agent oneshot ", "--agent oneshot "),
    ("use agent optuna for", "use --agent optuna for"),
    ("leave out join", "leave out --join"),
    ("leave out proxy_filter", "leave out --proxy-filter"),
    ("leave out proxy_prior", "leave out --proxy-prior"),
    ("leave out fidelity_resource 'data'", "leave out --fidelity-resource data"),
    (
        "use agent 'optuna' and run its trials on Ray (agents.ray_backend.run_with_ray)",
        "use --agent optuna --backend ray",
    ),
    ("; use backend 'ray'", "; add --backend ray"),
    ("choose another data set", "choose another --dataset"),
    ("resume with the same objectives", "resume with the same --objectives"),
    ("resume with the same space", "resume with the same --space"),
    ("choose another study name", "choose another --study"),
    ("Ray address '", "--ray-address '"),
    ("or check the address", "or check --ray-address"),
    ("choose a trial by its number", "pass --trial N"),
    ("give layers=[256, 256]", "pass --layers 256,256"),
    ("(constraint nir)", "(--constraint nir)"),
    (
        "restrict the search space to NIR-expressible candidates (constraint 'nir')",
        "search with --constraint nir to get candidates that export",
    ),
    ("at or below max_energy ", "at or below --max-energy "),
    ("another data_kind", "another --data-kind"),
    ("drop data_kind", "drop --data-kind"),
    ("declare data_kind", "declare --data-kind"),
    ("with no_early_stop", "with --no-early-stop"),
    ("epochs with fidelity ", "epochs with --fidelity "),
    ("for data give fidelity asha", "for data give --fidelity asha"),
)
_RESUME = re.compile(
    r"setting (\w+)=(.+?) differs from the study's (.+?); a resumed study keeps it \(only "
    r"(.+?) may change\)"
)
#: A message that starts with a setting's name ("trials must be >= 1") names its flag.
_LEADING_SETTING = re.compile(r"^([a-z][a-z_]*)( must| applies| needs|:)")
_SETTINGS = {
    "trials",
    "epochs",
    "timeout",
    "max_failures",
    "sampler",
    "agent",
    "seed",
    "storage",
    "objectives",
    "space",
    "dataset",
    "data_dir",
    "data_kind",
    "energy_budget_uj",
    "fidelity",
    "reduction_factor",
    "min_epochs",
    "fidelity_resource",
    "trial_memory_mb",
    "constraint",
    "energy_model",
    "backend",
    "workers",
    "cpus_per_trial",
    "gpus_per_trial",
    "ray_address",
    "scenario",
    "strategy",
    "n_tasks",
    "limit",
    "lr",
    "buffer_size",
    "stdp_lr",
    "stdp_epochs",
    "readout_lr",
    "feature_rate",
    "trial",
    "pick",
    "max_energy",
    "format",
    "out",
    "arch",
    "ann",
    "layers",
    "neuron",
    "threshold",
    "decay",
    "percentile",
    "timesteps",
    "quantile",
    "excerpt",
    "family",
    "width",
    "cache",
    "join",
    "resume",
    "selection",
    "folds",
    "proxy_filter",
    "proxy_pool",
    "proxy_prior",
    "retrain_top",
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def flags_for(message: str) -> str:
    """A library message in the command line's words (``trials must be >= 1`` →
    ``--trials must be >= 1``; ``setting seed=3 differs ...`` → ``--seed 3 differs ...``)."""
    for library, cli in _PHRASES:
        message = message.replace(library, cli)

    def resumed(m: re.Match[str]) -> str:
        allowed = ", ".join(_flag(n.strip()) for n in m.group(4).split(","))
        value = m.group(2).strip("'")
        return (
            f"{_flag(m.group(1))} {value} differs from the study's {m.group(3)}; drop the flag "
            f"when resuming (only {allowed} may change)"
        )

    message = _RESUME.sub(resumed, message)
    lead = _LEADING_SETTING.match(message)
    if lead and lead.group(1) in _SETTINGS:
        message = _flag(lead.group(1)) + message[len(lead.group(1)) :]
    return message


class _Alias(argparse.Action):
    """A hidden old spelling of a flag: stores into the flag's ``dest`` and records the
    spelling typed, so that a message can name the flag as the user wrote it."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        spelled = dict(getattr(namespace, "_spelled", {}))
        spelled[self.dest] = option_string
        namespace._spelled = spelled


def add_flag(
    p: argparse.ArgumentParser, *names: str, aliases: tuple[str, ...] = (), **kwargs: Any
) -> argparse.Action:
    """``p.add_argument(*names, **kwargs)`` plus ``aliases``: old spellings that still work but
    are not shown by ``--help`` (one name per concept: ``--dataset``, ``--runs``, ``--out``)."""
    action = p.add_argument(*names, **kwargs)
    if aliases:
        same = {k: getattr(action, k) for k in ("type", "choices", "metavar")}
        p.add_argument(
            *aliases,
            action=_Alias,
            dest=action.dest,
            default=argparse.SUPPRESS,
            help=argparse.SUPPRESS,
            **{k: v for k, v in same.items() if v is not None},
        )
    return action


def spelled(a: argparse.Namespace, dest: str, flag: str) -> str:
    """The spelling of the flag setting ``dest`` that the user typed (``flag`` unless an old
    spelling was used)."""
    return str(getattr(a, "_spelled", {}).get(dest, flag))


def in_flag_words(e: UserError, words: tuple[str, ...]) -> UserError:
    """``e`` with a leading word of ``words`` (a command's own setting names, which
    :func:`flags_for` does not know to be flags in any position) written as its flag: ``quantile
    must ...`` → ``--quantile must ...``; ``e`` itself when none leads."""
    text = re.sub(rf"^({'|'.join(map(re.escape, words))})\b", lambda m: "--" + m.group(0), str(e))
    return e if text == str(e) else type(e)(text)


def add_study_flags(p: argparse.ArgumentParser) -> None:
    """The flags every study-running command shares (``search``, ``continual``): run length,
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
    p.add_argument(
        "--agent",
        help="search agent: optuna (default), random or oneshot (weight-sharing supernet, "
        "then its front retrained)",
    )
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


#: The Ray flags' keywords (``--backend``, ``--workers``, ...).
RAY_FLAGS = ("backend", "workers", "cpus_per_trial", "gpus_per_trial", "ray_address")


def add_ray_flags(p: argparse.ArgumentParser) -> None:
    """``--backend`` and the settings of a Ray run."""
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


#: The proxy filter's and prior's keywords (``--proxy-filter``, ``--proxy-pool``,
#: ``--proxy-prior``).
PROXY_FLAGS = ("proxy_filter", "proxy_pool", "proxy_prior")


def add_limit_flags(p: argparse.ArgumentParser) -> None:
    """``--energy-budget-uj`` and ``--limit METRIC=MAX``: upper bounds that make a candidate
    infeasible (``limits=`` of :func:`evolve.search`)."""
    p.add_argument(
        "--energy-budget-uj",
        type=float,
        help="constraint: candidates above this energy are infeasible",
    )
    p.add_argument(
        "--limit",
        action="append",
        metavar="METRIC=MAX",
        help="constraint on a minimised metric every trial records, e.g. effective_acs=2e5, "
        "synops=3e5, footprint=40000 (bytes), latency=1 (ms): candidates above it are "
        "infeasible; repeatable; fixed for a run",
    )


def limits_of(given: Sequence[str] | None) -> dict[str, float] | None:
    """``--limit`` values (``METRIC=MAX``, repeated) as the ``limits`` mapping.

    Raises:
        UserError: a value that is not ``METRIC=MAX`` with a number.
    """
    if not given:
        return None
    out: dict[str, float] = {}
    for text in given:
        name, sep, value = text.partition("=")
        try:
            bound = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise UserError(f"--limit {text!r}: give METRIC=MAX, e.g. --limit effective_acs=2e5")
        out[name.strip()] = bound
    return out


def add_proxy_flags(p: argparse.ArgumentParser) -> None:
    """``--proxy-filter``, ``--proxy-pool`` (:mod:`evolve.engine.proxy_filter`) and
    ``--proxy-prior`` (:mod:`evolve.engine.proxy_prior`)."""
    p.add_argument(
        "--proxy-filter",
        metavar="PROXY",
        help="sahd (spike-pattern Hamming distance, SNASNet) or grad (gradient saliency): score "
        "--proxy-pool proposals untrained, train only the best, record the others as pruned "
        "(proxy_rejected); local backend; fixed for a run. Off by default (make bench-proxies "
        "measures how well each ranks trained accuracy)",
    )
    p.add_argument(
        "--proxy-pool",
        type=int,
        metavar="N",
        help="proposals scored per trained trial with --proxy-filter, candidates drawn per "
        "first-generation trial with --proxy-prior (default 8)",
    )
    p.add_argument(
        "--proxy-prior",
        metavar="PROXY",
        help="sahd or grad: a new study's first min(--trials, 8) trials (the NSGA-II population) "
        "are the best-scoring, by that proxy untrained, of --proxy-pool times as many random "
        "candidates; then the agent samples as usual; local backend; fixed for a run. Off by "
        "default",
    )


#: How a trial's accuracy is scored (``--selection``, ``--folds``).
SELECTION_FLAGS = ("selection", "folds")


def add_selection_flags(p: argparse.ArgumentParser) -> None:
    """How a trial's accuracy is scored: ``--selection`` and ``--folds``."""
    p.add_argument(
        "--selection",
        choices=("auto", "holdout", "kfold"),
        help="score a trial's accuracy on the validation split (holdout) or as the mean over "
        "--folds folds of train+validation (kfold; its spread is shown); auto (default): kfold "
        "when the validation split has fewer than 100 samples. Fixed for a run",
    )
    p.add_argument("--folds", type=int, help="K for --selection kfold/auto (default 5)")


#: The multi-fidelity scheduler's keywords (``--fidelity``, ``--reduction-factor``, ...).
FIDELITY_FLAGS = ("fidelity", "reduction_factor", "min_epochs", "fidelity_resource")


def add_fidelity_flags(p: argparse.ArgumentParser) -> None:
    """``--fidelity``, ``--reduction-factor``, ``--min-epochs`` (:mod:`agents.fidelity`),
    ``--fidelity-resource`` (:mod:`evolve.training.subsets`)."""
    p.add_argument(
        "--fidelity",
        metavar="NAME",
        help="how running trials stop early: stopper (default: two finished trials dominate it "
        "at the same epoch), asha (multi-objective successive halving: at rungs of "
        "--min-epochs x --reduction-factor^k epochs only the top 1/eta on the accuracy-energy "
        "front go on), hyperband (asha in brackets) or none; fixed for a run",
    )
    p.add_argument(
        "--reduction-factor",
        type=int,
        metavar="ETA",
        help="asha/hyperband: the top 1/ETA of a rung continues (default 3)",
    )
    p.add_argument(
        "--min-epochs",
        type=int,
        metavar="R",
        help="asha/hyperband: epochs at the first rung (default 1)",
    )
    p.add_argument(
        "--fidelity-resource",
        metavar="RESOURCE",
        help="asha/hyperband: epochs (default) or data: the epochs before a bracket's k-th of "
        "K rungs also train on only eta^(k-K) of the training split (nested, stratified); "
        "fixed for a run",
    )


def study_kwargs(a: argparse.Namespace) -> dict[str, object]:
    """The keywords of the study flags, for :func:`evolve.search` / :func:`evolve.continual_learning`."""
    return {
        "trials": a.trials,
        "timeout": a.timeout,
        "max_failures": a.max_failures,
        "sampler": a.sampler,
        "agent": a.agent,
        "seed": a.seed,
        "storage": a.storage,
        "study": a.study,
        "out": a.out,
        "resume": a.resume,
        "progress": not a.no_progress,
        "verbose": a.verbose,
    }


def add_run_argument(p: argparse.ArgumentParser, aliases: tuple[str, ...] = ()) -> None:
    """``RUN`` (a run folder) or ``--study NAME`` with ``--runs DIR`` (``aliases``: hidden old
    spellings of ``--runs``)."""
    p.add_argument("run", nargs="?", type=Path, help="a run folder (runs/<study>)")
    p.add_argument("--study", help="the study name (its run folder is --runs/<study>)")
    add_flag(
        p,
        "--runs",
        aliases=aliases,
        type=Path,
        default=Path("runs"),
        help="where run folders are (default runs/)",
    )


def run_dir_of(a: argparse.Namespace, command: str) -> Path:
    """The run folder of a command that takes ``RUN`` or ``--study NAME [--runs DIR]``."""
    if (a.run is None) == (a.study is None):
        raise UserError(f"give a run folder (evolve {command} runs/<study>) or --study NAME")
    return Path(a.run if a.run is not None else a.runs / a.study).resolve()


def run_study(
    command: str, start: Callable[..., Any], kwargs: dict[str, Any], resume_flags: str = ""
) -> int:
    """Run a study-running API function (``evolve.search``, ``evolve.continual``) as a command:
    the process-wide tuning a long run wants (``gc.freeze`` after start-up), then the front on
    standard output; on Ctrl-C the front so far and how to resume (exit status 130)."""
    import gc

    # everything imported so far lives for the whole run: out of the collector's view, so the
    # per-trial collection walks only what trials create
    import optuna  # noqa: F401
    import torch  # noqa: F401

    from evolve.api.run import open_run
    from evolve.errors import FailuresStopped, Interrupted
    from evolve.report.summary import format_summary

    gc.collect()
    gc.freeze()
    try:
        run = start(**kwargs)
    except FailuresStopped as stop:  # the results are written: show them, then the reason
        folder = Path(str(stop.run_dir))
        print(format_summary(open_run(folder).summary()))
        print(f"run folder: {folder}")
        raise
    except Interrupted as stop:
        folder = Path(str(stop.run_dir))
        print(format_summary(open_run(folder).summary()))
        print(f"run folder: {folder}")
        print(
            f"interrupted; continue with: evolve {command} --study {stop.study} --out "
            f"{folder.parent} --resume" + resume_flags
        )
        return 130
    finally:
        gc.unfreeze()
    print(format_summary(run.summary()))
    print(f"run folder: {run.path}")
    return 0
