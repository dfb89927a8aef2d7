"""``evolve export``: parse the flags, call :func:`evolve.export.trial.export_trial`, print what
it checked."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evolve.cli._flags import add_run_argument, run_dir_of
from evolve.errors import UserError

PICKS = ("accuracy", "energy", "knee")
#: The library's words → this command's flags, in the messages it passes on.
_FLAGS = (
    ("formats: unknown", "--format: unknown"),
    ("at or below max_energy", "at or below --max-energy"),
    ("choose a trial by its number", "pass --trial N"),
    ("trial must be 'best' or a trial number", "--trial must be best or a trial number"),
    ("; leave trial out", "; leave --trial out"),
    ("trial: ", "--trial: "),
    (
        "restrict the search space to NIR-expressible candidates (constraint 'nir')",
        "search with --constraint nir to get candidates that export",
    ),
    ("or export formats ", "or pass --format "),
    ("nir_for: unknown", "--nir-for: unknown"),
    ("(nir_for 'nir')", "(--nir-for nir)"),
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    from evolve.export.exporters import FORMATS

    p = sub.add_parser(
        "export",
        help="export a Pareto-front model to TorchScript / ONNX / NIR with a model card",
        description=(
            "Export a trained model: a trial of a search run, or the model of an `evolve train` "
            "folder (RUN is then that folder). --trial best picks among the "
            "Pareto-front trials by --pick (accuracy, energy, or knee: the front point farthest "
            "from the line through its two extremes), within --max-energy if given. Each "
            "format is reloaded and checked against the in-memory model on the test split. "
            "--format all (the default) skips, and names, a format that cannot express the "
            "model (NIR and a transformer); one named explicitly is refused."
        ),
        epilog=(
            "examples:\n"
            "  evolve export runs/mine                        # best accuracy, all formats\n"
            "  evolve export runs/mine --pick knee --format onnx --out knee/\n"
            "  evolve export runs/mine --pick accuracy --max-energy 0.05 --out exported/\n"
            "  evolve export --study mine --storage sqlite:///runs/mine/study.db --trial 0 --out t0/\n"
            "  evolve predict --model runs/mine/exports/trial_0 --input samples.csv\n"
            "  (a model from evolve train: see evolve train --help)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_argument(p)
    p.add_argument(
        "--storage", help="read the study from this storage instead of the one the run recorded"
    )
    p.add_argument("--trial", default="best", help="best (default) or a trial number")
    p.add_argument("--pick", choices=PICKS, default="accuracy", help="how best is chosen")
    p.add_argument("--max-energy", type=float, help="only front trials at or below this µJ")
    p.add_argument(
        "--format",
        default="all",
        help=f"{', '.join(FORMATS)} or all (default: those that can express the model); "
        "comma-separated for several",
    )
    p.add_argument("--out", type=Path, help="output folder (default runs/<study>/exports/trial_N)")
    p.add_argument(
        "--nir-for",
        default="nir",
        metavar="READER",
        help="write the NIR file the way READER reads it: nir (textbook, default), snntorch, "
        "norse (docs/export.md lists which readers give identical spikes)",
    )
    p.set_defaults(func=run)


def _in_flags(e: UserError) -> UserError:
    """``e`` in this command's words (the library names keywords, the user typed flags)."""
    message = str(e)
    for library, flag in _FLAGS:
        message = message.replace(library, flag)
    return e if message == str(e) else type(e)(message)


def run(a: argparse.Namespace) -> int:
    from evolve.export.exporters import EXPORTERS, parse_formats
    from evolve.export.trial import export_trial

    try:
        parse_formats(a.format)  # a bad --format is named before a missing run folder
        run_dir = run_dir_of(a, "export")
        result = export_trial(
            run_dir,
            a.trial,
            formats=a.format,
            out=a.out,
            pick=a.pick,
            max_energy=a.max_energy,
            storage=a.storage,
            command="evolve " + " ".join(sys.argv[1:]),
            nir_for=a.nir_for,
        )
    except UserError as e:
        said = _in_flags(e)
        if said is e:
            raise
        raise said from e
    print(f"exported trial {result.number} of {result.study} to {result.out}")
    energy = result.energy if result.energy is not None else float("nan")
    print(
        f"  test accuracy {result.test_accuracy * 100:.2f} % (n={result.n_test}), energy "
        f"{energy:.4g} µJ/inference"
    )
    for name, check in result.checks.items():
        what = EXPORTERS[name].describe(check)
        print(f"  {name:<12} {check['file']}  ({what} on {check['checked_samples']} test samples)")
    for name, why in result.skipped.items():
        print(f"  {name:<12} skipped: {_in_flags(UserError(why))}")
    return 0


__all__ = ["add_parser", "run"]
