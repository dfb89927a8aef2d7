"""`evolve report`: one HTML file that a real browser renders offline, with nothing fetched."""

from __future__ import annotations

import argparse
import base64
import io
import re
import struct
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import numpy as np
import optuna
import pytest
import yaml
from evolve_cli import tiny_search
from matplotlib.figure import Figure
from matplotlib.text import Text

from evolve.cli import report as report_cmd
from evolve.errors import UserError
from evolve.report import figures

CHROMIUM = "/usr/bin/chromium"
# MLPs only, every candidate distilled from a small cached MLP teacher (the plot's star)
TINY = (
    "name: tiny\n"
    "params:\n"
    "  kind: {type: categorical, choices: [mlp], default: mlp}\n"
    "  depth: {type: int, low: 1, high: 2, default: 1}\n"
    "  timesteps: {type: int, low: 2, high: 3, default: 2}\n"
    "  kd_enabled: {type: categorical, choices: [true], default: true}\n"
    "  kd_teacher_width: {type: categorical, choices: [32], default: 32}\n"
    "layers:\n"
    "  repeat: depth\n"
    "  params:\n"
    "    width: {type: int, low: 16, high: 64, step: 16, default: 32}\n"
    "    neuron: {type: categorical, choices: [if, lif, bif], default: lif}\n"
    "    v_reset: {type: float, low: 0.55, high: 0.7, default: 0.6, when: {neuron: bif}}\n"
)


def report(*argv: str, capsys: pytest.CaptureFixture[str] | None = None) -> int:
    """`evolve report ARGV` as the CLI runs it: bad input is one line on stderr and exit 2."""
    parser = argparse.ArgumentParser(prog="evolve")
    report_cmd.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", *argv, "--no-progress"])
    try:
        return int(args.func(args))
    except UserError as e:
        print(f"evolve: error: {e}", file=sys.stderr)
        return 2


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    return tiny_search(folder, TINY, "--trials", "3", "--epochs", "1")


class Refs(HTMLParser):
    """Every tag name and every attribute that can point at a resource."""

    URL_ATTRS: ClassVar[set[str]] = {
        "src",
        "href",
        "srcset",
        "action",
        "poster",
        "data",
        "formaction",
        "background",
    }

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in self.URL_ATTRS:
                self.urls.append((tag, name, value or ""))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos, out = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]))
        pos += 12 + n
    return out


def assert_offline(page: str) -> None:
    """Only data: URIs, nothing that names or could load a network resource."""
    assert not re.search(r"https?://", page, re.IGNORECASE)
    assert "@import" not in page and "url(" not in page
    refs = Refs()
    refs.feed(page)
    assert not {"link", "iframe", "object", "embed", "base", "audio", "video"} & set(refs.tags)
    assert refs.urls, "the figures are images"
    for tag, name, value in refs.urls:
        assert value.startswith("data:"), (tag, name, value[:80])
        assert not value.startswith("//")
    for _, _, value in refs.urls:  # and no address hides in a figure's metadata
        png = base64.b64decode(value.split(",", 1)[1])
        for kind, body in png_chunks(png):
            assert kind not in (b"tEXt", b"iTXt", b"zTXt", b"eXIf"), kind
            if kind != b"IDAT":
                assert b"http" not in body.lower()


def distinct_colours(png: bytes) -> int:
    import matplotlib.image

    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
    return len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0))


def test_report_renders_offline_in_a_real_browser(
    searched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: apt-get install chromium (.ci/run does)"
    assert report(str(searched)) == 0
    out = searched / "report.html"
    assert f"written to {out}" in capsys.readouterr().out
    page = out.read_text()
    assert_offline(page)

    cfg = yaml.safe_load((searched / "config.yaml").read_text())
    study = optuna.load_study(study_name="x", storage=cfg["storage"])
    numbers = [str(t.number) for t in study.trials]
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(numbers) == 3
    counts = f"{len(done)} complete, 0 pruned, 0 failed, 0 running"

    from playwright.sync_api import Request, Route, sync_playwright

    asked: list[str] = []  # every request that is not the file itself or a data: URI

    def guard(route: Route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            asked.append(url)
            route.abort()

    def seen(request: Request) -> None:
        if not request.url.startswith(("file:", "data:")):
            asked.append(request.url)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            ctx = browser.new_context(viewport={"width": 1200, "height": 900})
            ctx.route("**/*", guard)
            pg = ctx.new_page()
            pg.on("request", seen)
            console: list[str] = []
            pg.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            pg.goto(out.as_uri(), wait_until="load", timeout=60_000)

            assert pg.inner_text("#counts") == counts
            assert pg.inner_text("#study-name") == "x"
            # the front plot and the hypervolume history are decoded and drawn
            for sel in ("#front-plot", "#hypervolume-plot"):
                width = pg.eval_on_selector(sel, "img => img.complete && img.naturalWidth")
                assert width and width > 300, sel
            shot = pg.locator("#front-plot").screenshot()
            assert distinct_colours(shot) > 50, "the front plot is blank"
            # the table: one row per trial, in trial order, numbers in the first column
            rows = pg.eval_on_selector_all(
                "#trials tbody tr", "rows => rows.map(r => [r.dataset.trial, r.cells[0].innerText])"
            )
            assert rows == [[n, n] for n in numbers]
            # sorting by a header click: accuracy ascending
            pg.locator("#trials th", has_text="accuracy").first.click()
            order = pg.eval_on_selector_all(
                "#trials tbody tr", "rs => rs.map(r => r.dataset.trial)"
            )
            by_acc = sorted(done, key=lambda t: t.values[0])
            assert order == [str(t.number) for t in by_acc]
            # a card per best model (best accuracy, lowest energy, knee; one per trial)
            cards = pg.eval_on_selector_all("#best .card", "cs => cs.map(c => c.dataset.trial)")
            assert cards and len(cards) == len(set(cards)) <= 3
            # with its firing-rate, SAM and membrane figures (every front trial kept weights)
            widths = pg.eval_on_selector_all(
                "#best .card .figs img", "is => is.map(i => i.complete && i.naturalWidth)"
            )
            assert len(widths) == 3 * len(cards) and all(w > 100 for w in widths), widths
            # every figure shows at 1:1 (not scaled down), so its ≥ 9 px text stays ≥ 9 px
            shown = pg.eval_on_selector_all(
                "#front-plot, #hypervolume-plot, #best .card .figs img",
                "is => is.map(i => [i.naturalWidth, i.getBoundingClientRect().width])",
            )
            assert len(shown) == 2 + len(widths)
            assert all(rect >= natural for natural, rect in shown), shown
            text = pg.inner_text("body")
            full = pg.screenshot(full_page=True)
        finally:
            browser.close()
    assert asked == [], f"the report tried the network: {asked}"
    assert console == [], console  # a blocked load (Content-Security-Policy) logs an error
    assert "ANN teacher" in text and "digits-mlp-w32-s0" in text  # every trial was distilled
    assert "best accuracy" in text.lower() and "hypervolume" in text
    assert "Spike Activation Map" in text and "figures unavailable" not in text
    assert distinct_colours(full) > 100


def smallest_text_px(fig: Figure, dpi: float) -> float:
    """The smallest visible text of ``fig`` (tick labels and legend included) in pixels."""
    fig.canvas.draw()
    sizes = [
        float(t.get_fontsize())
        for t in fig.findobj(Text)
        if isinstance(t, Text) and t.get_visible() and t.get_text().strip()
    ]
    return min(sizes) * dpi / 72


def test_the_front_and_hypervolume_plots_have_units_and_readable_text() -> None:
    points = [(0, 0.3, 0.0095), (1, 0.86, 0.021), (2, 0.1, 0.0036), (3, 0.86, 0.038)]
    front = figures.front_plot(
        points,
        points,
        ("accuracy", "energy_uj"),
        (0.0, 0.12),
        [("digits-mlp-w256-s0", 0.98, 0.39)],
    )
    history = [{"trial": n, "hypervolume": 0.03 + 0.01 * n} for n, *_ in points]
    hv = figures.hypervolume_plot(history, "accuracy 0, energy_uj 0.12")
    for fig in (front, hv):
        assert smallest_text_px(fig, figures.DPI) >= 9
        (ax,) = fig.axes
        assert "(" in ax.get_xlabel() and "(" in ax.get_ylabel()  # a unit on each axis
    assert front.axes[0].get_xlabel() == "energy per inference (µJ)"
    assert "fraction" in front.axes[0].get_ylabel()
    assert "accuracy × µJ" in hv.axes[0].get_ylabel()
    legend = front.axes[0].get_legend()
    renderer = front.canvas.get_renderer()
    assert legend.get_window_extent(renderer).x0 >= front.axes[0].get_window_extent(renderer).x1


def test_a_study_with_no_finished_trial_says_there_is_no_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "runs" / "empty"
    run_dir.mkdir(parents=True)
    storage = f"sqlite:///{run_dir / 'study.db'}"
    (run_dir / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "storage": storage,
                "dataset": "digits",
                "space": "hybrid_neuron",
                "agent": "optuna",
                "objectives": "accuracy,energy",
                "reference_point": {"accuracy": 0.0, "energy_uj": 0.1},
            }
        )
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="empty", storage=storage, directions=["maximize", "minimize"]
    )
    failed = study.ask()
    failed.set_user_attr("fail_reason", "trial 0: diverged")
    study.tell(failed, state=optuna.trial.TrialState.FAIL)
    study.tell(study.ask(), state=optuna.trial.TrialState.PRUNED)

    assert report(str(run_dir)) == 0
    page = (run_dir / "report.html").read_text()
    assert 'id="no-front"' in page and "No front yet" in page
    assert 'id="front-plot"' not in page and 'id="best"' not in page
    assert '<p id="counts">0 complete, 1 pruned, 1 failed, 0 running</p>' in page
    assert page.count('<tr class="state-') == 2 and "diverged" in page
    assert not re.search(r"https?://", page)

    # --study NAME --storage URL with no run folder: the report says so, in the cwd
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert report("--study", "empty", "--storage", storage) == 0
    assert "none (reported from storage)" in Path("empty-report.html").read_text()
    capsys.readouterr()


def test_bad_input_is_one_line(
    searched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report() == 2
    assert "give a run folder" in one_line_error(capsys)
    assert report(str(tmp_path / "nowhere")) == 2
    assert "no such run folder" in one_line_error(capsys)
    assert report(str(tmp_path)) == 2
    assert "not a search run folder" in one_line_error(capsys)
    assert report(str(searched), "--out", str(tmp_path / "missing" / "r.html")) == 2
    assert "does not exist" in one_line_error(capsys)
    assert not (tmp_path / "missing").exists()
    assert report(str(searched), "--out", str(tmp_path)) == 2
    assert "is a folder" in one_line_error(capsys)
    storage = yaml.safe_load((searched / "config.yaml").read_text())["storage"]
    assert report("--study", "nope", "--storage", storage) == 2
    assert "holds no study 'nope'; it holds: x" in one_line_error(capsys)
    assert report("--study", "x", "--storage", f"sqlite:///{tmp_path / 'none.db'}") == 2
    assert "no such database file" in one_line_error(capsys)
    assert not (tmp_path / "none.db").exists()
