"""``evolve teacher train|list``: the cached ANN teachers used for distillation."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from evolve.cli._flags import in_flag_words
from evolve.errors import UserError

DEFAULT_CACHE = Path(
    "runs/teachers"
)  # evolve.training.teachers.DEFAULT_CACHE, without importing torch


#: Keywords of :func:`evolve.training.teachers.train_teacher` that start its messages → the flag.
def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "teacher",
        help="train or list the cached ANN teachers used for knowledge distillation",
        description=(
            "A teacher is the ANN twin (ReLU/GELU, softmax attention) of a fixed architecture of "
            "one family, trained once per (data set, family, width, seed) and cached, so every "
            "trial and study that distils from it reuses it. A stale or corrupt cache entry is "
            "retrained, never used."
        ),
        epilog=(
            "examples:\n"
            "  evolve teacher train                           # MLP teacher on digits\n"
            "  evolve teacher train --family transformer --width 64\n"
            "  evolve teacher train --dataset fashion-mnist --family cnn --epochs 10\n"
            "  evolve teacher list"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    t = tsub.add_parser("train", help="train a teacher (or confirm the cached one)")
    t.add_argument("--dataset", default="digits", help="digits (default), fashion-mnist, or .npz")
    t.add_argument("--data-dir", type=Path, help="folder holding the data set's files")
    t.add_argument("--family", default="mlp", help="mlp (default), cnn or transformer")
    t.add_argument("--width", type=int, help="units/channels/dim (default 256 mlp, 64 otherwise)")
    t.add_argument("--seed", type=int, default=0, help="seed of the split and training (default 0)")
    t.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    t.add_argument("--force", action="store_true", help="retrain even if a valid entry exists")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("-v", "--verbose", action="store_true", help="log INFO messages to stderr")
    t.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help="cache folder (default runs/teachers)"
    )
    t.set_defaults(func=run_train)
    ls = tsub.add_parser("list", help="list the cached teachers and whether each is usable")
    ls.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help="cache folder (default runs/teachers)"
    )
    ls.set_defaults(func=run_list)


def _flags(e: UserError) -> UserError:
    """``e`` in the command line's words (``family: ...`` → ``--family: ...``)."""
    if re.match(r"^(family:|width must|cache )", str(e)) is None:
        return e
    return in_flag_words(e, ("family", "width", "cache"))


def run_train(a: argparse.Namespace) -> int:
    from evolve.training.teachers import train_teacher

    try:
        teacher = train_teacher(
            a.dataset,
            a.family,
            width=a.width,
            seed=a.seed,
            epochs=a.epochs,
            force=a.force,
            data_dir=a.data_dir,
            cache=a.cache,
            progress=not a.no_progress,
            verbose=a.verbose,
        )
    except UserError as e:
        raise _flags(e) from e.__cause__
    m = teacher.meta
    how = "reused from the cache" if teacher.cached else f"trained in {m['train_seconds']:.1f} s"
    print(f"teacher {teacher.key.name}: {how}")
    print(
        f"  val {100 * m['val_accuracy']:.2f} %  test {100 * m['test_accuracy']:.2f} %  "
        f"energy {m['energy_uj']:.4f} uJ/inference  {m['n_params']:,} parameters"
    )
    print(f"  cache {a.cache / (teacher.key.name + '.pt')}")
    return 0


def run_list(a: argparse.Namespace) -> int:
    from evolve.training.teachers import list_teachers

    try:
        entries = list_teachers(a.cache)
    except UserError as err:
        raise _flags(err) from err.__cause__
    if not entries:
        print(f"no teachers cached in {a.cache} (evolve teacher train makes one)")
        return 0
    rows = [("name", "val %", "test %", "energy uJ", "train s", "status")]
    for e in entries:
        m = e.meta
        rows.append(
            (
                e.name,
                f"{100 * m['val_accuracy']:.2f}" if e.ok else "",
                f"{100 * m['test_accuracy']:.2f}" if e.ok else "",
                f"{m['energy_uj']:.4f}" if e.ok else "",
                f"{m['train_seconds']:.1f}" if e.ok else "",
                "ok" if e.ok else f"will be retrained: {e.problem}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0
