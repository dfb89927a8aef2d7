"""``evolve explain``: what one trained trial's spikes do on one sample, as pictures (see
:func:`evolve.report.explain.explain_trial`).

The default folder ``runs/<study>/explain/trial_N-sample_I/`` is regenerated each time; a
folder named with ``--out`` must not exist yet.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from evolve.cli._flags import add_run_argument, run_dir_of
from evolve.errors import UserError
from evolve.report.explain import DEFAULT_NEURONS, SPLITS, explain_trial

#: A library message about one of the keywords the flags set (``sample 7: ...``).
_FLAG = re.compile(r"^(trial|sample|neurons|split)(?= must| -?\d+:)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain",
        help="draw spike activation maps, membrane traces and firing rates of a trial",
        description=(
            "Explain one trained trial on one sample: spike activation maps over the input (one "
            "column per timestep), membrane traces of the most active neurons with threshold and "
            "spikes, and per-layer firing rates. Writes sam.png, membrane.png, rates.png and "
            "explain.json. The trial needs a checkpoint (the search keeps one for every "
            "Pareto-front trial)."
        ),
        epilog=(
            "examples:\n"
            "  evolve explain runs/mine                      # best-accuracy front trial, sample 0\n"
            "  evolve explain runs/mine --trial 0 --sample 7 --neurons 3\n"
            "  evolve explain --study mine --trial 0 --split val --out explained/\n"
            "\n"
            "default folder: runs/<study>/explain/trial_N-sample_I/ (regenerated each time)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_argument(p)
    p.add_argument(
        "--trial", default="best", help="best (the most accurate front trial) or a trial number"
    )
    p.add_argument("--sample", type=int, default=0, help="index into the split (default 0)")
    p.add_argument("--split", choices=SPLITS, default="test", help="which split (default test)")
    p.add_argument(
        "--neurons",
        type=int,
        default=DEFAULT_NEURONS,
        help=f"membrane traces per layer: the K most active neurons (default {DEFAULT_NEURONS})",
    )
    p.add_argument("--out", type=Path, help="output folder; must not exist")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    run_dir = run_dir_of(a, "explain")
    try:
        info = explain_trial(
            run_dir, a.trial, sample=a.sample, out=a.out, split=a.split, neurons=a.neurons
        )
    except UserError as e:  # the library names its keywords; the command line its flags
        raise type(e)(_FLAG.sub(r"--\1", str(e), count=1)) from e
    folder = Path(info["folder"])
    verdict = "correct" if info["correct"] else "wrong"
    print(
        f"explained trial {info['trial']} of {info['study']} on {info['split']} sample "
        f"{info['sample']}: label {info['label']}, predicted {info['prediction']} ({verdict})"
    )
    print(f"  folder        {folder}")
    drawn = ", ".join(f"{d['layer']} ({d['method']})" for d in info["sam"]["drawn"]) or "none"
    print(f"  sam.png       maps over the input of: {drawn}")
    for layer, why in info["sam"]["skipped"].items():
        print(f"                not drawn: {layer}: {why}")
    n_layers = len(info["membrane"]["neurons"])
    print(
        f"  membrane.png  {info['membrane']['value']} membrane of the {a.neurons} most active "
        f"neurons in each of {n_layers} layers"
    )
    rates = "  ".join(f"{k} {v:.3f}" for k, v in info["firing_rates"].items())
    print(f"  rates.png     firing rates: {rates}")
    return 0


__all__ = ["add_parser", "run"]
