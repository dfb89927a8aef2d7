"""The README's quick-start figures, rendered from ``benchmarks/results/quickstart.json`` and
``setup_time.json`` (no torch import; registered in :data:`tables.RENDERERS`)."""

from __future__ import annotations

import re
from typing import Any

#: The benchmark runs the search in a temporary folder; a user runs it in their clone ($PWD).
_TMP_FOLDER = re.compile(r"\S*/quickstart-[^/\s]+/")


def _duration(seconds: float) -> str:
    """``42 s`` or ``3 min 05 s``."""
    s = round(seconds)
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"


def quickstart(d: dict[str, Any], variant: str | None) -> str:
    """``output``: what ``make search`` printed, as a code block; ``time``: one sentence with
    its wall time and hypervolume."""
    if variant == "output":
        return f"```\n{_TMP_FOLDER.sub('$PWD/', d['printed'])}\n```"
    if variant == "time":
        return (
            f"On this project's 2-core CPU machines, with `.venv` already set up, "
            f"`{d['command']}` took {_duration(d['seconds'])} "
            f"({d['complete']} trials complete, {d['pruned']} pruned, hypervolume "
            f"{d['hypervolume']}) and printed (the default seed is fixed):"
        )
    raise KeyError(f"quickstart has no variant {variant!r} (output, time)")


def setup_time(d: dict[str, Any], variant: str | None) -> str:
    """One sentence: the set-up of ``make search`` and what ``make test`` adds."""
    if variant is not None:
        raise KeyError(f"setup_time has no variant {variant!r}")
    debs = (
        f"installs the Debian packages its tests use in {_duration(d['system_deps_seconds'])}"
        if d["system_deps_installed"]
        else "finds the Debian packages its tests use already installed"
    )
    return (
        f"Set-up on a clean clone in a new venv, pip's download cache {d['pip_cache']}: "
        f"`make search` installs the package and its dependencies in "
        f"{_duration(d['search_setup_seconds'])} ({d['search_venv_gb']:.1f} GB, torch "
        f"included); `make test` adds the dev tools in {_duration(d['test_dev_tools_seconds'])} "
        f"({d['test_venv_gb']:.1f} GB in all), {debs}, then runs the suite."
    )
