"""One self-contained HTML page about a search, that opens offline (``evolve report``).

The page holds the study's header (name, data set, space, agent, dates, trial counts), the
accuracy–energy Pareto front (every finished trial, the front labelled by trial number, the
hypervolume reference energy and the ANN teachers of distilled trials), the hypervolume history,
cards for the best models (best accuracy, lowest energy, knee; see :func:`agents.pick`) with
their firing-rate and Spike Activation Map figures (from
:func:`evolve.report.explain.explain_trial`, for trials that kept a checkpoint), and a sortable
table of every trial.

Nothing on the page refers to the network: styles and the sorting script are inline, figures are
PNG ``data:`` URIs with their text chunks — where matplotlib writes its web address — stripped,
and a Content-Security-Policy forbids any fetch. The file is written to a temporary name beside
the target and moved into place.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from evolve.errors import UserError
from evolve.report.cards import card, card_figures, esc, img, num, per_layer, raw
from evolve.report.figures import Figures, front_figure, hypervolume_figure, model_figures
from evolve.report.source import (
    STATE_WORDS,
    Source,
    best_picks,
    counts_of,
    counts_text,
    open_source,
    teachers_of,
)
from evolve.store.runfolder import write_text
from evolve.training.baselines import comparable_accuracy, read_baselines

__all__ = ["CSP", "Report", "make_report", "render", "write_report"]

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;
background:#f6f6f4}
main{max-width:1100px;margin:0 auto;padding:1.2rem 1.5rem 3rem}
h1{font-size:1.5rem;margin:.2rem 0 .6rem}h2{font-size:1.2rem;margin:1.8rem 0 .6rem;
border-bottom:1px solid #ccc;padding-bottom:.2rem}h3{font-size:1.05rem;margin:.2rem 0 .5rem}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.4rem 0}
dl.meta dt{color:#666}dl.meta dd{margin:0}
#counts{font-size:1.05rem;font-weight:600}
.note{color:#7a4b00;background:#fff4dc;padding:.35rem .6rem;border-radius:4px}
img{max-width:100%;background:#fff;border:1px solid #ddd;border-radius:4px}
.cards{display:flex;flex-direction:column;gap:1rem}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8rem 1rem;display:grid;
grid-template-columns:minmax(260px,1fr) 2fr;gap:1rem}
@media (max-width:800px){.card{grid-template-columns:1fr}}
.card .why{color:#8a1c2b;font-size:.85rem;text-transform:uppercase;letter-spacing:.03em}
.card table{border-collapse:collapse;font-size:.9rem}.card td{padding:.1rem .6rem .1rem 0}
.card td:first-child{color:#666}
.bar{display:inline-block;height:.7rem;background:#30638e;vertical-align:middle}
.figs img{display:block;margin:.5rem 0}
table.trials{border-collapse:collapse;width:100%;background:#fff;font-size:.88rem}
table.trials th,table.trials td{border-bottom:1px solid #e3e3e3;padding:.25rem .5rem;
text-align:left}
table.trials th{cursor:pointer;background:#eceae4;position:sticky;top:0}
table.trials td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.front td:first-child{font-weight:700;color:#8a1c2b}
table.baselines{border-collapse:collapse;background:#fff;font-size:.9rem}
table.baselines th,table.baselines td{border-bottom:1px solid #e3e3e3;padding:.25rem .6rem;
text-align:left}table.baselines th{background:#eceae4}
tr.state-PRUNED,tr.state-FAIL{color:#888}
code{font-size:.88em}footer{margin-top:2rem;color:#777;font-size:.85rem}
"""

SCRIPT = """
document.querySelectorAll("table.trials th").forEach(function (th, i) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var asc = th.dataset.dir !== "asc";
    th.dataset.dir = asc ? "asc" : "desc";
    function key(row) {
      var c = row.cells[i], v = c.dataset.v !== undefined ? c.dataset.v : c.textContent;
      if (v === "") return -Infinity;
      var n = parseFloat(v);
      return isNaN(n) ? v : n;
    }
    Array.prototype.slice.call(body.rows).sort(function (a, b) {
      var x = key(a), y = key(b);
      if (typeof x !== typeof y) { x = String(x); y = String(y); }
      return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
    }).forEach(function (r) { body.appendChild(r); });
  });
});
"""

# Nothing may be fetched: images only from data: URIs, inline styles and script.
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)


def baselines_html(
    recorded: Mapping[str, Any], front: Sequence[Mapping[str, Any]], names: Sequence[str]
) -> list[str]:
    """The simple baselines (:mod:`evolve.training.baselines`) as a small table, with how the
    front's most accurate point compares on the test split."""
    from evolve.report.summary import baseline_verdict

    models = [m for m in recorded.get("models", []) if isinstance(m, Mapping)]
    cv = any("cv_accuracy_mean" in m for m in models)
    capped = " (a capped subset)" if recorded.get("capped") else ""
    how = (
        f"on the same {recorded.get('folds')} folds of train+validation as the trials"
        if cv
        else "on the same validation split"
    )
    out = [
        '<h3 id="baselines">Simple baselines</h3>',
        f"<p>Fitted on the search's training split ({esc(recorded.get('train_samples'))} "
        f"samples{capped}; {esc(recorded.get('kind'))} data) and scored {how} and on the "
        "test split; dotted lines on the plot.</p>",
        '<table class="baselines" id="baselines-table"><thead><tr><th>model</th>'
        + ("<th>cv accuracy (mean ± sd)</th>" if cv else "")
        + "<th>validation accuracy</th><th>test accuracy</th><th>fit (s)</th></tr></thead><tbody>",
    ]
    for m in models:
        cells = [esc(m.get("label", m.get("name")))]
        if cv:
            cells.append(f"{num(m.get('cv_accuracy_mean'))} ± {num(m.get('cv_accuracy_std'), 2)}")
        cells += [num(m.get(k)) for k in ("val_accuracy", "test_accuracy", "seconds")]
        out.append(
            f'<tr data-baseline="{esc(m.get("name"))}">'
            + "".join(f"<td>{c}</td>" for c in cells)
            + "</tr>"
        )
    out.append("</tbody></table>")
    verdict = baseline_verdict(models, front, names)
    if verdict:
        out.append(f'<p id="baseline-verdict">{esc(verdict[0].upper() + verdict[1:])}.</p>')
    return out


def _fmt_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def render(
    source: Source,
    figures: Mapping[int, Figures],
    picks: Sequence[tuple[int, list[str]]],
    summary: Mapping[str, Any],
) -> str:
    """The page as one HTML string."""
    from agents import describe_storage

    store, cfg, objectives = source.store, source.cfg, source.objectives
    trials = store.trials()
    by_number = {t.number: t for t in trials}
    names = [o.name for o in objectives]
    counts = counts_of(store)
    front_numbers = {int(f["trial"]) for f in summary["front"]}
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    space = cfg.get("space") or store.user_attrs.get("space", "")
    agent = ", ".join(
        str(x) for x in (cfg.get("agent"), cfg.get("sampler") and f"sampler {cfg['sampler']}") if x
    )
    if cfg.get("backend"):
        agent += f", backend {cfg['backend']}"
    ref_text = ", ".join(f"{k} {v:.4g}" for k, v in source.reference.items())
    meta = [
        ("data set", cfg.get("dataset", "")),
        ("space", Path(str(space)).stem if space else ""),
        ("agent", agent),
        ("objectives", ", ".join(f"{o.name} ({o.direction})" for o in objectives)),
        ("epochs per trial", cfg.get("epochs", "")),
        ("seed", cfg.get("seed", "")),
        ("storage", describe_storage(source.storage)),
        ("run folder", str(source.run_dir) if source.run_dir else "none (reported from storage)"),
        ("first trial started", _fmt_time(min(starts) if starts else None)),
        ("last trial finished", _fmt_time(max(ends) if ends else None)),
    ]
    title = f"evolve report: {store.study_name}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body><main>",
        f'<header><h1>study <code id="study-name">{esc(store.study_name)}</code></h1>',
        f'<p id="counts">{esc(counts_text(counts))}</p>',
        '<dl class="meta">',
        *(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in meta if v not in ("", None)),
        "</dl></header>",
    ]
    # --- the front
    known = read_baselines(source.run_dir) if source.run_dir is not None else None
    parts.append('<section id="front"><h2>Pareto front</h2>')
    if source.reference_note:
        parts.append(f'<p class="note">{esc(source.reference_note)}</p>')
    if not summary["front"]:
        running = counts.get("running", 0)
        parts.append(
            '<p class="note" id="no-front">No front yet: no trial has finished '
            f"({counts_text(counts)}){'; trials are still running' if running else ''}. Pruned "
            "and failed trials never count.</p>"
        )
    else:
        pts, frontpts = [], []
        from evolve.store.results import finished_points

        for t, vals in finished_points(store, objectives):
            pt = (t.number, float(vals[0]), float(vals[1]) if len(vals) > 1 else 0.0)
            pts.append(pt)
            if t.number in front_numbers:
                frontpts.append(pt)
        teachers = []
        if names[:2] == ["accuracy", "energy_uj"]:
            teachers = [
                (str(x["name"]), float(x["val_accuracy"]), float(x["energy_uj"]))
                for x in teachers_of(trials)
            ]
        ref = (
            float(source.reference.get(names[0], math.nan)),
            float(source.reference.get(names[1], math.nan)) if len(names) > 1 else math.nan,
        )
        cv = names[0] == "accuracy" and any(f.get("cv_folds") for f in summary["front"])
        axes = ("cv_accuracy" if cv else names[0], names[1] if len(names) > 1 else "")
        levels: list[tuple[str, float]] = []
        if known and names[0] == "accuracy":
            levels = [(str(m.get("label")), comparable_accuracy(m)) for m in known["models"]]
        png = front_figure(pts, frontpts, axes, ref, teachers, levels)
        parts.append(img(png, "Pareto front", "front-plot"))
        parts.append(
            f'<p id="hypervolume-value">{len(front_numbers)} trials on the front; hypervolume '
            f"<strong>{summary['hypervolume']:.6g}</strong> against the reference point "
            f"({esc(ref_text)}).</p>"
        )
        if len(names) > 2:
            parts.append(
                f'<p class="note">The plot shows {esc(names[0])} against {esc(names[1])}; the '
                f"front is non-dominated in all of {esc(', '.join(names))}.</p>"
            )
        if teachers:
            parts.append(
                "<p>Stars: the ANN teachers distilled trials learned from ("
                + "; ".join(f"{esc(n)}: accuracy {a:.4f} at {en:.4g} µJ" for n, a, en in teachers)
                + ").</p>"
            )
        if known:
            parts.extend(baselines_html(known, summary["front"], names))
        parts.append("<h2>Hypervolume history</h2>")
        hv = hypervolume_figure(summary["hypervolume_history"], ref_text)
        parts.append(img(hv, "hypervolume history", "hypervolume-plot"))
    parts.append("</section>")
    # --- the best models
    if picks:
        parts.append('<section id="best"><h2>Best models</h2><div class="cards">')
        for number, why in picks:
            t = by_number[number]
            lines = card(t, why, objectives)
            lines += card_figures(figures.get(number, Figures()))
            lines.append("</div>")
            parts.extend(lines)
        parts.append("</div></section>")
    # --- the trials table
    has_attention = any(per_layer(t.arch, "attention") for t in trials)
    has_cv = any(t.attrs.get("cv_folds") for t in trials)
    header = [
        "trial",
        "state",
        *names,
        *(["cv sd"] if has_cv else []),
        "test accuracy",
        "T",
        "neurons",
        *(["attentions"] if has_attention else []),
        "duration (s)",
        "note",
    ]
    parts.append('<section id="trials-section"><h2>Trials</h2>')
    parts.append(
        '<p>Click a column to sort. Bold numbers: on the Pareto front.</p><table class="trials" '
        'id="trials"><thead><tr>' + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr></thead>"
    )
    parts.append("<tbody>")
    for t in trials:
        arch = t.arch
        recorded = list((t.values or {}).values())
        values = recorded if len(recorded) == len(names) else []
        note = ""
        if t.state == "fail":
            note = str(t.attrs.get("fail_reason", ""))
        elif t.state == "pruned":
            stop = t.attrs.get("early_stop")
            note = "stopped early"
            if isinstance(stop, dict):
                note += f" at epoch {stop['epoch']}" if "epoch" in stop else ""
                note += f": {stop['reason']}" if stop.get("reason") else ""
        elif t.state == "complete" and t.number not in front_numbers and values:
            note = "" if all(math.isfinite(v) for v in values) else "non-finite values"
        dur = t.duration_s or None  # a zero duration shows blank
        cells = [
            (str(t.number), str(t.number), True),
            (STATE_WORDS.get(t.state, t.state), None, False),
            *((num(v), "" if v is None else repr(float(v)), True) for v in values),
            *(("", "", True) for _ in range(len(names) - len(values))),
            *(
                [
                    (
                        num(t.attrs.get("cv_accuracy_std"), 2),
                        raw(t.attrs.get("cv_accuracy_std")),
                        True,
                    )
                ]
                if has_cv
                else []
            ),
            (
                num(t.attrs.get("test_accuracy")),
                raw(t.attrs.get("test_accuracy")),
                True,
            ),
            (str(arch.get("timesteps", "")), raw(arch.get("timesteps")), True),
            (per_layer(arch, "neuron"), None, False),
            *([(per_layer(arch, "attention"), None, False)] if has_attention else []),
            ("" if dur is None else f"{dur:.1f}", raw(dur), True),
            (note[:160], None, False),
        ]
        cls = f"state-{t.state.upper()}" + (" front" if t.number in front_numbers else "")
        row = "".join(
            f"<td{' class=n' if numeric else ''}"
            + ("" if v is None else f' data-v="{esc(v)}"')
            + f">{esc(text)}</td>"
            for text, v, numeric in cells
        )
        parts.append(f'<tr class="{cls}" data-trial="{t.number}">{row}</tr>')
    parts.append("</tbody></table></section>")
    parts.append(
        f"<footer>written by <code>evolve report</code> on {time.strftime('%Y-%m-%d %H:%M:%S')}; "
        "energies are µJ per inference counted from the spikes the trained network fires on "
        "the validation set (45 nm, Horowitz ISSCC 2014).</footer>"
    )
    parts.append(f"</main><script>{SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"


@dataclass(frozen=True)
class Report:
    """What :func:`make_report` wrote.

    Attributes:
        path: The HTML file.
        study: The study's name.
        counts: Trials by state word (complete, pruned, failed, running, waiting).
        notes: Why a best model's card has no figures, by trial number (figures skipped on
            request say so too).
    """

    path: Path
    study: str
    counts: dict[str, int] = field(default_factory=dict)
    notes: dict[int, str] = field(default_factory=dict)


def _out_path(out: str | Path | None, source: Source) -> Path:
    if out is not None:
        path = Path(out)
    elif source.run_dir is not None:
        path = source.run_dir / "report.html"
    else:
        path = Path(f"{source.store.study_name}-report.html")
    if path.is_dir():
        raise UserError(f"out {path} is a folder; give a file name such as {path / 'report.html'}")
    if not path.parent.is_dir():
        raise UserError(f"out {path}: the folder {path.parent} does not exist; create it first")
    return path


def make_report(
    run_dir: str | Path | None = None,
    out: str | Path | None = None,
    *,
    study: str | None = None,
    runs: str | Path = "runs",
    storage: str | None = None,
    figures: bool = True,
    progress: bool = False,
) -> Report:
    """Write the offline HTML report of a search and say what it holds.

    Args:
        run_dir: A run folder (``runs/<study>``).
        out: The HTML file to write. Default: ``report.html`` in the run folder, or
            ``<study>-report.html`` in the working folder for a study without one.
        study: A study name instead of ``run_dir``: its run folder, if any, is
            ``runs/<study>``; with ``storage`` the study needs no run folder.
        runs: Where run folders are (with ``study``).
        storage: Read the study from this storage URL instead of the run folder's own.
        figures: Draw the best models' firing-rate, SAM and membrane figures (slower).
        progress: Show a progress bar on stderr while drawing them.

    Returns:
        The file written, the study's name and trial counts, and why any card lacks figures.

    Raises:
        UserError: neither or both of ``run_dir`` and ``study``, a folder that is not a run, a
            storage that cannot be opened or does not hold the study, an ``out`` that is a
            folder or in a folder that does not exist.
    """
    from evolve.store.results import pareto_summary

    source = open_source(run_dir, study=study, runs=runs, storage=storage)
    path = _out_path(out, source)
    summary = pareto_summary(source.store, source.objectives, source.reference)
    picks = best_picks(summary["front"], source.objectives)
    drawn: dict[int, Figures] = {}
    if figures and picks:
        from tqdm import tqdm

        with tempfile.TemporaryDirectory(prefix="evolve-report-") as work:
            bar = tqdm(
                picks,
                desc="report figures",
                unit="model",
                delay=1.0,
                leave=False,
                file=sys.stderr,
                disable=not progress,
            )
            for number, _ in bar:
                drawn[number] = model_figures(source.run_dir, number, Path(work))
    elif picks:
        drawn = {n: Figures(note="figures skipped (--no-figures)") for n, _ in picks}
    write_text(path, render(source, drawn, picks, summary))
    notes = {n: f.note for n, f in drawn.items() if f.note}
    return Report(path, source.store.study_name, counts_of(source.store), notes)


def write_report(
    run_dir: str | Path | None = None,
    out: str | Path | None = None,
    *,
    study: str | None = None,
    runs: str | Path = "runs",
    storage: str | None = None,
    figures: bool = True,
    progress: bool = False,
) -> Path:
    """Write the offline HTML report of a search; see :func:`make_report` for the arguments.

    Returns:
        The HTML file written.

    Raises:
        UserError: as :func:`make_report`.
    """
    return make_report(
        run_dir,
        out,
        study=study,
        runs=runs,
        storage=storage,
        figures=figures,
        progress=progress,
    ).path
