"""The docs' benchmark tables are generated from ``benchmarks/results/*.json``, never copied.

Fast and torch-free: ``benchmarks/render_tables.py`` and ``benchmarks/tables.py`` import no torch.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

import render_tables  # noqa: E402
from meta import TARGETS  # noqa: E402
from tables import RENDERERS  # noqa: E402

#: Benchmarks whose JSON has not been measured on the current code yet: their blocks say
#: "Not yet measured". Remove a name once its ``make bench-*`` has written its JSON (the test
#: below fails while a listed name has a JSON, and when a marker without JSON is not listed).
NOT_YET_MEASURED: set[str] = set()


def all_blocks() -> list[render_tables.Block]:
    return [b for p in render_tables.doc_files() if p.exists() for b in render_tables.blocks(p)]


def test_every_docs_table_is_what_its_json_renders() -> None:
    problems = render_tables.check([p for p in render_tables.doc_files() if p.exists()])
    assert problems == [], "\n".join(problems)


def test_every_marker_has_a_renderer_and_a_json_unless_listed_as_not_yet_measured() -> None:
    blocks = all_blocks()
    assert blocks, "no <!-- bench:NAME --> markers found in docs/*.md or README.md"
    for b in blocks:
        assert b.name in RENDERERS, f"{b.path.name}: bench:{b.key} has no renderer in tables.py"
        has_json = (BENCH / "results" / f"{b.name}.json").exists()
        if b.name in NOT_YET_MEASURED:
            assert not has_json, f"{b.name}.json exists now: remove it from NOT_YET_MEASURED"
            assert "Not yet measured on the current code" in b.body
        else:
            assert has_json, f"{b.path.name}: bench:{b.key} has no benchmarks/results/{b.name}.json"


def test_every_renderer_and_make_target_has_a_marker() -> None:
    marked = {b.name for b in all_blocks()}
    assert set(TARGETS) - marked == set(), "benchmarks whose table is in no doc"
    assert set(TARGETS) <= set(RENDERERS)


@pytest.mark.parametrize("path", sorted((BENCH / "results").glob("*.json")), ids=lambda p: p.stem)
def test_each_result_carries_its_meta_block(path: Path) -> None:
    meta = json.loads(path.read_text())["meta"]
    assert meta["benchmark"] == path.stem
    assert re.fullmatch(r"[0-9a-f]{7,}(\+dirty)?", meta["commit"]), meta["commit"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", meta["date"]), meta["date"]
    assert meta["command"]["script"].startswith(f"python benchmarks/{path.stem}.py")
    if path.stem in TARGETS:  # committed results come from the Makefile's own command line
        assert meta["command"]["make"] == f"make {TARGETS[path.stem]}", meta["command"]
    for key in ("python", "torch", "cpus"):
        assert meta[key], key


def _make_targets() -> dict[str, list[str]]:
    """Each Makefile target's recipe lines."""
    targets: dict[str, list[str]] = {}
    current = None
    for line in (ROOT / "Makefile").read_text().splitlines():
        m = re.match(r"^([a-z][a-z-]*):", line)
        if m:
            current = m.group(1)
            targets[current] = []
        elif line.startswith("\t") and current:
            targets[current].append(line.strip())
    return targets


def test_every_make_bench_target_writes_its_json_to_benchmarks_results() -> None:
    targets = {t: r for t, r in _make_targets().items() if t == "bench" or t.startswith("bench-")}
    scripts = {}
    for target, recipe in targets.items():
        if target in ("bench-all", "bench-tables"):
            continue
        line = " ".join(recipe)
        m = re.search(r"benchmarks/(\w+)\.py", line)
        assert m, f"make {target} runs no benchmarks/*.py script"
        name = m.group(1)
        assert f"--out benchmarks/results/{name}.json" in line, (target, line)
        scripts[name] = target
    assert scripts == TARGETS, "benchmarks/meta.py TARGETS and the Makefile's bench targets differ"
    bench_all = " ".join(targets["bench-all"])
    all_list = re.search(r"BENCH_ALL := ((?:.|\\\n)*?)\n\n", (ROOT / "Makefile").read_text())
    assert all_list, "the Makefile has no BENCH_ALL list"
    listed = set(all_list.group(1).replace("\\", " ").split())
    assert listed <= set(TARGETS.values()), listed - set(TARGETS.values())
    assert "bench-tables" in bench_all


def test_the_scripts_default_to_benchmarks_results() -> None:
    for name in TARGETS:
        src = (BENCH / f"{name}.py").read_text()
        assert f'default_out("{name}")' in src or f"benchmarks/results/{name}.json" in src, (
            f"{name}.py's --out does not default to benchmarks/results/{name}.json"
        )


def test_check_finds_a_stale_table_and_a_missing_json(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    doc = tmp_path / "doc.md"
    doc.write_text("# t\n\n<!-- bench:ecg -->\nold, hand-copied numbers\n<!-- /bench:ecg -->\n")
    assert render_tables.check([doc], results) != []
    doc.write_text(render_tables.rewrite(doc.read_text(), results))
    assert "Not yet measured on the current code: run `make bench-ecg`" in doc.read_text()
    assert render_tables.check([doc], results) == []
    assert len(render_tables.check([doc], results, strict=True)) == 1

    ecg = BENCH / "results" / "ecg.json"
    if ecg.exists():  # a real JSON: the rendered block names its commit and command
        (results / "ecg.json").write_text(ecg.read_text())
        assert render_tables.check([doc], results) != []
        doc.write_text(render_tables.rewrite(doc.read_text(), results))
        text = doc.read_text()
        assert json.loads(ecg.read_text())["meta"]["commit"] in text
        assert "`make bench-ecg`" in text
        assert render_tables.check([doc], results, strict=True) == []
        doc.write_text(text.replace("spiking autoencoder", "spiking auto-encoder"))
        assert render_tables.check([doc], results) != []


def test_unknown_names_and_unbalanced_markers_are_errors(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("<!-- bench:no_such_bench -->\nx\n<!-- /bench:no_such_bench -->\n")
    with pytest.raises(render_tables.TableError, match="no renderer"):
        render_tables.check([doc], tmp_path)
    doc.write_text("<!-- bench:ecg -->\nx\n")
    with pytest.raises(render_tables.TableError, match="unbalanced"):
        render_tables.blocks(doc)


def test_a_json_without_meta_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ecg.json").write_text("{}")
    with pytest.raises(render_tables.TableError, match="no meta block"):
        render_tables.render("ecg", None, tmp_path)


def test_the_renderer_imports_no_torch() -> None:
    code = "import sys, render_tables; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], cwd=BENCH, check=True)
    out = subprocess.run(
        [sys.executable, "benchmarks/render_tables.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_search_efficiency_shows_each_methods_retrained_best_when_measured() -> None:
    d = json.loads((BENCH / "results" / "search_efficiency.json").read_text())
    d.pop("retrained", None)
    assert "retrained" not in RENDERERS["search_efficiency"](d, None)
    space = d["settings"]["spaces"][0]
    d["retrained"] = [{"space": space, "method": "default", "test_accuracy": 0.9512}]
    d["settings"]["retrain_epochs"] = 30
    text = RENDERERS["search_efficiency"](d, None)
    assert "best found, retrained: test acc %" in text
    first = text.split("\n\n**")[0]  # the first space's table: default's row has it
    row = next(line for line in first.splitlines() if line.startswith("| `default`"))
    assert "| 95.12 |" in row
    assert "retrained from scratch for 30 epochs" in text
