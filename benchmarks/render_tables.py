"""Render the benchmark tables of the docs from ``benchmarks/results/*.json`` (no torch needed).

A table lives between two marker comments in ``docs/*.md`` or ``README.md``::

    <!-- bench:NAME[:VARIANT] -->
    ...generated: never edit by hand...
    <!-- /bench:NAME[:VARIANT] -->

and is replaced by what the renderer registered for NAME in ``benchmarks/tables.py`` makes of
``benchmarks/results/NAME.json``, followed by the commit, date and command it was measured with.
A block whose JSON does not exist yet says so and names the ``make`` target that measures it.

    python benchmarks/render_tables.py            # rewrite the docs (make bench-tables)
    python benchmarks/render_tables.py --check    # exit 1 listing each table that differs
    python benchmarks/render_tables.py --check --strict   # ... or whose JSON is missing
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from meta import ROOT, how_to_run
from tables import RENDERERS, missing, provenance

RESULTS = ROOT / "benchmarks" / "results"
# markers stand at the start of a line (a marker quoted inside a sentence is not one)
MARKER = re.compile(
    r"^<!-- bench:(?P<key>[a-z_]+(?::[a-z_]+)?) -->\n(?P<body>.*?)^<!-- /bench:(?P=key) -->",
    re.DOTALL | re.MULTILINE,
)
OPENING = re.compile(r"^<!-- bench:(\S*) -->", re.MULTILINE)
CLOSING = re.compile(r"^<!-- /bench:(\S*) -->", re.MULTILINE)


class TableError(Exception):
    """A marker that cannot be rendered: no renderer, no meta block, unbalanced markers."""


@dataclass(frozen=True)
class Block:
    path: Path
    key: str
    body: str

    @property
    def name(self) -> str:
        return self.key.split(":")[0]

    @property
    def variant(self) -> str | None:
        parts = self.key.split(":", 1)
        return parts[1] if len(parts) == 2 else None


def doc_files(root: Path = ROOT) -> list[Path]:
    """The files that may hold tables: ``docs/*.md`` and ``README.md``."""
    return [*sorted((root / "docs").glob("*.md")), root / "README.md"]


def blocks(path: Path) -> list[Block]:
    """The marked blocks of one file; unbalanced markers raise :class:`TableError`."""
    text = path.read_text()
    found = [Block(path, m["key"], m["body"]) for m in MARKER.finditer(text)]
    opened, closed = OPENING.findall(text), CLOSING.findall(text)
    if len(opened) != len(found) or len(closed) != len(found):
        raise TableError(
            f"{path.name}: unbalanced bench markers (opening {opened}, closing {closed}); "
            "each <!-- bench:NAME --> needs its <!-- /bench:NAME --> on a later line"
        )
    return found


def load(name: str, results: Path = RESULTS) -> dict | None:
    """``results/NAME.json``, or None when it does not exist."""
    path = results / f"{name}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if "meta" not in data:
        raise TableError(f"{path}: no meta block; rerun `{how_to_run(name)}`")
    return data


def render(name: str, variant: str | None, results: Path = RESULTS) -> str:
    """The generated body of block ``NAME[:VARIANT]`` (blank lines around it included)."""
    if name not in RENDERERS:
        raise TableError(f"no renderer for bench:{name}: add one to benchmarks/tables.py RENDERERS")
    data = load(name, results)
    if data is None:
        return f"\n{missing(how_to_run(name))}\n\n"
    try:
        table = RENDERERS[name](data, variant)
    except KeyError as e:
        raise TableError(f"bench:{name}{':' + variant if variant else ''}: {e}") from e
    return f"\n{table}\n\n{provenance(data['meta'])}\n\n"


def rewrite(text: str, results: Path = RESULTS) -> str:
    """``text`` with every marked block regenerated."""

    def sub(m: re.Match[str]) -> str:
        name, _, variant = m["key"].partition(":")
        body = render(name, variant or None, results)
        return f"<!-- bench:{m['key']} -->\n{body}<!-- /bench:{m['key']} -->"

    return MARKER.sub(sub, text)


def check(files: list[Path], results: Path = RESULTS, strict: bool = False) -> list[str]:
    """One line per stale table (and, with ``strict``, per table whose JSON is missing)."""
    problems = []
    for path in files:
        for b in blocks(path):
            where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
            if b.body != render(b.name, b.variant, results):
                problems.append(
                    f"{where}: bench:{b.key} differs from benchmarks/results/{b.name}.json "
                    "(run `make bench-tables`)"
                )
            elif strict and not (results / f"{b.name}.json").exists():
                problems.append(
                    f"{where}: bench:{b.key} has no benchmarks/results/{b.name}.json "
                    f"(run `{how_to_run(b.name)}`)"
                )
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    ap.add_argument("--strict", action="store_true", help="with --check: missing JSON fails too")
    args = ap.parse_args(argv)
    files = [p for p in doc_files() if p.exists()]
    try:
        if args.check:
            problems = check(files, strict=args.strict)
            for line in problems:
                print(line)
            return 1 if problems else 0
        for path in files:
            text = path.read_text()
            new = rewrite(text)
            if new != text:
                path.write_text(new)
                print(f"rendered {path.relative_to(ROOT)}")
    except TableError as e:
        print(f"render_tables: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
