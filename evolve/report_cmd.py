"""``evolve report``: one self-contained HTML page about a search, that opens offline.

The page holds the study's header (name, data set, space, agent, dates, trial counts), the
accuracy–energy Pareto front (every finished trial, the front labelled by trial number, the
hypervolume reference energy and the ANN teachers of distilled trials), the hypervolume history,
cards for the best models (best accuracy, lowest energy, knee; see :func:`evolve.export_cmd.
choose_trial`) with their firing-rate and Spike Activation Map figures (from
``evolve.explain_cmd.explain_trial``, for trials that kept a checkpoint), and a sortable table of
every trial.

Nothing on the page refers to the network: styles and the sorting script are inline, figures are
PNG ``data:`` URIs (matplotlib, Agg) with their text chunks — where matplotlib writes its web
address — stripped, and a Content-Security-Policy forbids any fetch. The file is written to a
temporary name beside the target and moved into place.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import math
import struct
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolve.errors import UserError
from evolve.runfolder import write_text

if TYPE_CHECKING:
    import optuna

    from agents import Objective

#: Axis labels of the objectives a search may have.
LABELS = {
    "accuracy": "validation accuracy",
    "energy_uj": "energy per inference (µJ)",
    "latency_ms": "latency (ms)",
    "energy_ratio_to_ann": "energy / ANN twin's energy",
    "cl_acc": "continual ACC",
    "forgetting": "forgetting",
}
#: The best models the page shows a card for, in order: --pick name → its title.
PICKS = {"accuracy": "best accuracy", "energy": "lowest energy", "knee": "knee of the front"}
#: State names as the page counts them (Optuna's FAIL reads "failed").
STATE_WORDS = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running"}
#: PNG chunks kept when embedding a figure: no text, time or EXIF metadata rides along.
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"pHYs"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write one self-contained HTML report of a search (front, history, best models)",
        description=(
            "Write one HTML file that opens offline, with nothing fetched from the network: the "
            "study's trial counts, the accuracy-energy Pareto front (with the hypervolume "
            "reference energy and the ANN teachers of distilled trials), the hypervolume "
            "history, cards of the best models (best accuracy, lowest energy, knee) with their "
            "firing-rate and Spike Activation Map figures, and a sortable table of every trial."
        ),
        epilog=(
            "examples:\n"
            "  evolve report runs/mine                       # writes runs/mine/report.html\n"
            "  evolve report --study mine --out mine.html\n"
            "  evolve report --study mine --storage postgresql://evolve@db:5432/studies\n"
            "  evolve report runs/mine --no-figures          # skip the per-model figures"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", nargs="?", type=Path, help="a run folder (runs/<study>)")
    p.add_argument("--study", help="the study name (its run folder is --runs/<study>)")
    p.add_argument(
        "--runs", type=Path, default=Path("runs"), help="where run folders are (default runs/)"
    )
    p.add_argument(
        "--storage",
        help="an Optuna storage URL or journal file holding the study (default: the run's own)",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="the HTML file to write (default runs/<study>/report.html, or <study>-report.html "
        "when the study has no run folder)",
    )
    p.add_argument(
        "--no-figures",
        action="store_true",
        help="skip the best models' firing-rate and SAM figures (faster)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


# ----------------------------------------------------------------------------- the study
@dataclass
class Source:
    """The study a report is about, and what its run folder records (when it has one)."""

    study: optuna.Study
    cfg: dict[str, Any]
    run_dir: Path | None
    objectives: tuple[Objective, ...]
    reference: dict[str, float]
    reference_note: str
    storage: str


def _objectives(study: optuna.Study, cfg: Mapping[str, Any]) -> tuple[Objective, ...]:
    from agents import AgentError, Objective, parse_objectives

    try:
        if cfg.get("objectives"):
            return parse_objectives(cfg["objectives"])
        recorded = study.user_attrs.get("objectives")
        if recorded:
            return tuple(
                Objective(str(o["name"]), o["direction"], o.get("threshold")) for o in recorded
            )
    except (AgentError, KeyError, TypeError) as e:
        raise UserError(f"study {study.study_name!r} records unreadable objectives: {e}") from None
    directions = [d.name.lower() for d in study.directions]
    if directions == ["maximize", "minimize"]:
        return parse_objectives("accuracy,energy")
    raise UserError(
        f"study {study.study_name!r} records no objectives; report it from its run folder"
    )


def _reference(
    study: optuna.Study, objectives: Sequence[Objective], cfg: Mapping[str, Any]
) -> tuple[dict[str, float], str]:
    """The hypervolume reference point the run recorded, or the best stand-in and a note."""
    recorded = cfg.get("reference_point") or {}
    if all(o.name in recorded for o in objectives):
        note = ""
        if "energy_uj" in recorded:
            note = (
                f"energy_uj {float(recorded['energy_uj']):.4g} µJ is the energy of the "
                "equivalent ANN of the space's default model"
            )
        return {o.name: float(recorded[o.name]) for o in objectives}, note
    from evolve.results import finished_points

    pts = [p for _, p in finished_points(study, objectives)]
    ref: dict[str, float] = {}
    guessed = []
    for i, o in enumerate(objectives):
        if o.name in recorded:
            ref[o.name] = float(recorded[o.name])
        elif o.threshold is not None:
            ref[o.name] = float(o.threshold)
        else:  # the worst value seen stands in
            vals = [p[i] for p in pts]
            worst = (max if o.direction == "minimize" else min)(vals, default=1.0)
            ref[o.name] = float(worst)
            guessed.append(o.name)
    note = ""
    if guessed:
        note = (
            f"the storage records no reference point for {', '.join(guessed)} (the run folder's "
            "config.yaml does): the worst value seen stands in"
        )
    return ref, note


def open_source(a: argparse.Namespace) -> Source:
    """The study named by a run folder or ``--study`` (with ``--storage`` if given).

    Raises:
        UserError: neither or both of a run folder and --study, a folder that is not a run, a
            storage that cannot be opened or does not hold the study.
    """
    from evolve.runfolder import read_run_config
    from evolve.show_cmd import load_run, open_study

    if (a.run is None) == (a.study is None):
        raise UserError("give a run folder (evolve report runs/<study>) or --study NAME")
    run_dir: Path | None = (a.run if a.run is not None else a.runs / a.study).resolve()
    assert run_dir is not None
    name = run_dir.name if a.run is not None else str(a.study)
    has_config = (run_dir / "config.yaml").is_file()
    if a.storage is None:
        if not run_dir.exists():
            raise UserError(
                f"{run_dir}: no such run folder; list runs with `ls {run_dir.parent}` or give "
                "--storage URL"
            )
        study, cfg = load_run(run_dir)
        storage = str(cfg.get("storage", ""))
    else:
        if a.run is not None and not has_config:
            raise UserError(
                f"{run_dir} is not a search run folder (no config.yaml); use --study NAME "
                "--storage URL for a study without one"
            )
        cfg = read_run_config(run_dir) if has_config else {}
        study = open_study(name, a.storage)
        storage = a.storage
        if not has_config:
            run_dir = None
    objectives = _objectives(study, cfg)
    reference, note = _reference(study, objectives, cfg)
    return Source(study, cfg, run_dir, objectives, reference, note, storage)


# ----------------------------------------------------------------------------- figures
def clean_png(data: bytes) -> bytes:
    """``data`` with only the chunks that draw the image (no text, time or EXIF chunks).

    Raises:
        ValueError: ``data`` is not a PNG.
    """
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    out, pos = [_PNG_SIGNATURE], len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if kind in _PNG_KEEP:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    return b"".join(out)


def _png(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes without metadata; the figure is closed."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return clean_png(buf.getvalue())


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(name: str) -> str:
    return LABELS.get(name, name)


def front_figure(
    points: Sequence[tuple[int, float, float]],
    front: Sequence[tuple[int, float, float]],
    names: tuple[str, str],
    reference: tuple[float, float],
    teachers: Sequence[tuple[str, float, float]],
) -> bytes:
    """The front: (trial, y, x) of every finished trial in grey, the front highlighted and
    labelled, the reference x as a dashed line and the teachers as stars. x is logarithmic when
    the values span more than a decade."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    xs = [p[2] for p in points] + [t[2] for t in teachers] + [reference[1]]
    finite = [x for x in xs if math.isfinite(x)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > 10:
        ax.set_xscale("log")
    ax.scatter(
        [p[2] for p in points],
        [p[1] for p in points],
        s=22,
        color="#9a9a9a",
        label="finished trials",
        zorder=2,
    )
    ordered = sorted(front, key=lambda p: p[2])
    ax.step(
        [p[2] for p in ordered],
        [p[1] for p in ordered],
        where="post",
        color="#d1495b",
        linewidth=1.2,
        zorder=3,
    )
    ax.scatter(
        [p[2] for p in ordered],
        [p[1] for p in ordered],
        s=46,
        color="#d1495b",
        edgecolor="black",
        linewidth=0.6,
        label="Pareto front",
        zorder=4,
    )
    for number, y, x in ordered:
        ax.annotate(
            str(number),
            (x, y),
            textcoords="offset points",
            xytext=(5, 5),
            fontsize=8,
            color="#8a1c2b",
        )
    if math.isfinite(reference[1]):
        ax.axvline(
            reference[1],
            color="#2e4057",
            linestyle="--",
            linewidth=1.0,
            label=f"reference {names[1]} {reference[1]:.4g}",
        )
    for i, (name, y, x) in enumerate(teachers):
        ax.scatter(
            [x],
            [y],
            marker="*",
            s=160,
            color="#edae49",
            edgecolor="black",
            linewidth=0.6,
            label=f"ANN teacher {name}" if i < 4 else None,
            zorder=5,
        )
    ax.set_xlabel(_label(names[1]))
    ax.set_ylabel(_label(names[0]))
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return _png(fig)


def hypervolume_figure(history: Sequence[Mapping[str, Any]], reference_text: str) -> bytes:
    """Hypervolume of the front of the first k finished trials, against k."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    ks = list(range(1, len(history) + 1))
    ax.step(ks, [h["hypervolume"] for h in history], where="post", color="#00798c")
    ax.plot(ks, [h["hypervolume"] for h in history], "o", color="#00798c", markersize=3)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("finished trials")
    ax.set_ylabel("hypervolume")
    ax.set_title(f"reference point: {reference_text}", fontsize=9)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return _png(fig)


@dataclass
class Figures:
    """A best model's figures (PNG bytes by title), or why there are none."""

    images: dict[str, bytes] = field(default_factory=dict)
    note: str = ""


def model_figures(run_dir: Path | None, number: int, workdir: Path) -> Figures:
    """The firing-rate, SAM and membrane figures of trial ``number`` from ``explain_trial``."""
    from evolve import checkpoints

    if run_dir is None:
        return Figures(
            note="figures unavailable: the study has no run folder here (reported from --storage "
            "only), so no checkpoint to explain"
        )
    if not checkpoints.path_of(run_dir, number).is_file():
        return Figures(
            note=f"figures unavailable: trial {number} kept no checkpoint "
            f"({checkpoints.FOLDER}/trial_{number}.pt)"
        )
    try:
        from evolve.explain_cmd import explain_trial
    except Exception as e:  # a missing or broken module: the rest of the report still stands
        return Figures(note=f"figures unavailable: evolve explain cannot load ({e})")
    out = workdir / f"trial_{number}"
    try:
        result = explain_trial(run_dir, number, sample=0, out=out, split="test")
        files = result["files"]
        titles = {
            "rates": "firing rate per layer",
            "sam": "Spike Activation Map",
            "membrane": "membrane potential",
        }
        images = {
            titles.get(k, k): clean_png(Path(files[k]).read_bytes())
            for k in ("rates", "sam", "membrane")
            if k in files
        }
    except UserError as e:
        return Figures(note=f"figures unavailable: {e}")
    except Exception as e:
        return Figures(note=f"figures unavailable: {type(e).__name__}: {e}")
    return Figures(images=images)


# ----------------------------------------------------------------------------- the page
def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _img(png: bytes, alt: str, ident: str = "") -> str:
    data = base64.b64encode(png).decode("ascii")
    attr = f' id="{_e(ident)}"' if ident else ""
    return f'<img{attr} alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _arch(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    arch = trial.user_attrs.get("arch")
    return dict(arch) if isinstance(arch, dict) else dict(trial.params)


def _per_layer(arch: Mapping[str, Any], key: str) -> str:
    items = [(k, v) for k, v in arch.items() if k.endswith(f".{key}") and k.count(".") == 2]
    items.sort(key=lambda kv: int(kv[0].split(".")[1]) if kv[0].split(".")[1].isdigit() else 0)
    return ",".join(str(v) for _, v in items)


def counts_of(study: optuna.Study) -> dict[str, int]:
    """Trials by state word: complete, pruned, failed, running (always), waiting (if any)."""
    counts = {w: 0 for w in STATE_WORDS.values()}
    for t in study.get_trials(deepcopy=False):
        word = STATE_WORDS.get(t.state.name, t.state.name.lower())
        counts[word] = counts.get(word, 0) + 1
    return counts


def counts_text(counts: Mapping[str, int]) -> str:
    """``3 complete, 1 pruned, 0 failed, 0 running``."""
    return ", ".join(f"{n} {w}" for w, n in counts.items() if n or w in STATE_WORDS.values())


def teachers_of(trials: Iterable[optuna.trial.FrozenTrial]) -> list[dict[str, Any]]:
    """The ANN teachers distilled trials recorded, one per teacher name."""
    seen: dict[str, dict[str, Any]] = {}
    for t in trials:
        info = t.user_attrs.get("teacher")
        if (
            isinstance(info, dict)
            and info.get("name")
            and str(info["name"]) not in seen
            and info.get("val_accuracy") is not None
            and info.get("energy_uj") is not None
        ):
            seen[str(info["name"])] = info
    return list(seen.values())


def best_picks(
    front: Sequence[Mapping[str, Any]], objectives: Sequence[Objective]
) -> list[tuple[int, list[str]]]:
    """(trial, [why]) for the best models: best accuracy, lowest energy, knee (one card per
    trial); for other objectives, the best of each."""
    from evolve.export_cmd import choose_trial

    picks: dict[int, list[str]] = {}
    if not front:
        return []
    try:
        for pick, title in PICKS.items():
            picks.setdefault(choose_trial(front, pick, None), []).append(title)
    except UserError:  # a front without accuracy and energy_uj: best per objective
        for o in objectives:
            sign = 1.0 if o.direction == "maximize" else -1.0
            best = max(front, key=lambda f: sign * float(f["values"][o.name]))
            picks.setdefault(int(best["trial"]), []).append(f"best {o.name}")
    return list(picks.items())


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


def _card(
    trial: optuna.trial.FrozenTrial, why: Sequence[str], objectives: Sequence[Objective]
) -> list[str]:
    attrs = trial.user_attrs
    arch = _arch(trial)
    rows: list[tuple[str, str]] = []
    for o, v in zip(objectives, trial.values or [], strict=False):
        rows.append((o.name, _num(v)))
    extra = [
        ("test accuracy", attrs.get("test_accuracy")),
        ("ANN twin energy (µJ)", attrs.get("ann_energy_uj")),
        ("energy / ANN twin", attrs.get("energy_ratio_to_ann")),
        ("SOPs per inference", attrs.get("sops")),
        ("MACs per inference", attrs.get("macs")),
        ("spikes per inference", _total(attrs.get("spikes_per_inference"))),
        ("parameters", attrs.get("n_params")),
        ("latency (ms)", attrs.get("latency_ms")),
        ("epochs run", attrs.get("epochs_run")),
    ]
    rows += [(k, _num(v)) for k, v in extra if v is not None]
    teacher = attrs.get("teacher")
    if isinstance(teacher, dict) and teacher.get("name"):
        rows.append(("distilled from", str(teacher["name"])))
    summary = [
        ("kind", arch.get("kind", "")),
        ("T", arch.get("timesteps", "")),
        ("neurons", _per_layer(arch, "neuron")),
        ("attentions", _per_layer(arch, "attention")),
        ("widths", _per_layer(arch, "width") or _per_layer(arch, "channels")),
    ]
    rows = [(k, str(v)) for k, v in summary if v not in ("", None)] + rows
    out = [
        f'<div class="card" id="card-{trial.number}" data-trial="{trial.number}">',
        '<div class="stats">',
        f'<div class="why">{_e(", ".join(why))}</div>',
        f"<h3>trial {trial.number}</h3>",
        "<table>",
        *(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows),
        "</table>",
    ]
    rates = attrs.get("firing_rates")
    if isinstance(rates, dict) and rates:
        out.append("<h4>firing rates (recorded on validation data)</h4><table>")
        for name, r in rates.items():
            width = max(0.0, min(1.0, float(r))) * 120
            out.append(
                f'<tr><td><code>{_e(name)}</code></td><td><span class="bar" '
                f'style="width:{width:.0f}px"></span> {float(r):.3f}</td></tr>'
            )
        out.append("</table>")
    out.append(
        "<details><summary>architecture</summary><table>"
        + "".join(
            f"<tr><td><code>{_e(k)}</code></td><td>{_e(v)}</td></tr>" for k, v in arch.items()
        )
        + "</table></details></div>"
    )
    return out


def _card_figures(figs: Figures) -> list[str]:
    out = ['<div class="figs">']
    for title, png in figs.images.items():
        out.append(f"<div><strong>{_e(title)}</strong>{_img(png, title)}</div>")
    if not figs.images and figs.note:
        out.append(f'<p class="note">{_e(figs.note)}</p>')
    out.append("</div>")
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

    study, cfg, objectives = source.study, source.cfg, source.objectives
    trials = study.get_trials(deepcopy=False)
    by_number = {t.number: t for t in trials}
    names = [o.name for o in objectives]
    counts = counts_of(study)
    front_numbers = {int(f["trial"]) for f in summary["front"]}
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    space = cfg.get("space") or study.user_attrs.get("space", "")
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
    title = f"evolve report: {study.study_name}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body><main>",
        f'<header><h1>study <code id="study-name">{_e(study.study_name)}</code></h1>',
        f'<p id="counts">{_e(counts_text(counts))}</p>',
        '<dl class="meta">',
        *(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in meta if v not in ("", None)),
        "</dl></header>",
    ]
    # --- the front
    parts.append('<section id="front"><h2>Pareto front</h2>')
    if source.reference_note:
        parts.append(f'<p class="note">{_e(source.reference_note)}</p>')
    if not summary["front"]:
        running = counts.get("running", 0)
        parts.append(
            '<p class="note" id="no-front">No front yet: no trial has finished '
            f"({counts_text(counts)}){'; trials are still running' if running else ''}. Pruned "
            "and failed trials never count.</p>"
        )
    else:
        pts, frontpts = [], []
        from evolve.results import finished_points

        for t, vals in finished_points(study, objectives):
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
        axes = (names[0], names[1] if len(names) > 1 else "")
        png = front_figure(pts, frontpts, axes, ref, teachers)
        parts.append(_img(png, "Pareto front", "front-plot"))
        parts.append(
            f'<p id="hypervolume-value">{len(front_numbers)} trials on the front; hypervolume '
            f"<strong>{summary['hypervolume']:.6g}</strong> against the reference point "
            f"({_e(ref_text)}).</p>"
        )
        if len(names) > 2:
            parts.append(
                f'<p class="note">The plot shows {_e(names[0])} against {_e(names[1])}; the '
                f"front is non-dominated in all of {_e(', '.join(names))}.</p>"
            )
        if teachers:
            parts.append(
                "<p>Stars: the ANN teachers distilled trials learned from ("
                + "; ".join(f"{_e(n)}: accuracy {a:.4f} at {en:.4g} µJ" for n, a, en in teachers)
                + ").</p>"
            )
        parts.append("<h2>Hypervolume history</h2>")
        hv = hypervolume_figure(summary["hypervolume_history"], ref_text)
        parts.append(_img(hv, "hypervolume history", "hypervolume-plot"))
    parts.append("</section>")
    # --- the best models
    if picks:
        parts.append('<section id="best"><h2>Best models</h2><div class="cards">')
        for number, why in picks:
            t = by_number[number]
            card = _card(t, why, objectives)
            card += _card_figures(figures.get(number, Figures()))
            card.append("</div>")
            parts.extend(card)
        parts.append("</div></section>")
    # --- the trials table
    has_attention = any(_per_layer(_arch(t), "attention") for t in trials)
    header = [
        "trial",
        "state",
        *names,
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
        'id="trials"><thead><tr>' + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead>"
    )
    parts.append("<tbody>")
    for t in trials:
        arch = _arch(t)
        values = list(t.values) if t.values is not None and len(t.values) == len(names) else []
        note = ""
        if t.state.name == "FAIL":
            note = str(t.user_attrs.get("fail_reason", ""))
        elif t.state.name == "PRUNED":
            stop = t.user_attrs.get("early_stop")
            note = "stopped early"
            if isinstance(stop, dict):
                note += f" at epoch {stop['epoch']}" if "epoch" in stop else ""
                note += f": {stop['reason']}" if stop.get("reason") else ""
        elif t.state.name == "COMPLETE" and t.number not in front_numbers and values:
            note = "" if all(math.isfinite(v) for v in values) else "non-finite values"
        dur = t.duration.total_seconds() if t.duration else None
        cells = [
            (str(t.number), str(t.number), True),
            (STATE_WORDS.get(t.state.name, t.state.name.lower()), None, False),
            *((_num(v), "" if v is None else repr(float(v)), True) for v in values),
            *(("", "", True) for _ in range(len(names) - len(values))),
            (
                _num(t.user_attrs.get("test_accuracy")),
                _raw(t.user_attrs.get("test_accuracy")),
                True,
            ),
            (str(arch.get("timesteps", "")), _raw(arch.get("timesteps")), True),
            (_per_layer(arch, "neuron"), None, False),
            *([(_per_layer(arch, "attention"), None, False)] if has_attention else []),
            ("" if dur is None else f"{dur:.1f}", _raw(dur), True),
            (note[:160], None, False),
        ]
        cls = f"state-{t.state.name}" + (" front" if t.number in front_numbers else "")
        row = "".join(
            f"<td{' class=n' if numeric else ''}"
            + ("" if v is None else f' data-v="{_e(v)}"')
            + f">{_e(text)}</td>"
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


def _total(value: Any) -> Any:
    """A per-layer dict of numbers as its sum (other values as they are)."""
    if isinstance(value, dict):
        nums = [v for v in value.values() if isinstance(v, int | float)]
        return sum(nums) if nums else None
    return value


def _raw(value: Any) -> str:
    return "" if value is None else str(value)


# ----------------------------------------------------------------------------- the command
def _out_path(a: argparse.Namespace, source: Source) -> Path:
    if a.out is not None:
        out = Path(a.out)
    elif source.run_dir is not None:
        out = source.run_dir / "report.html"
    else:
        out = Path(f"{source.study.study_name}-report.html")
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give a file name such as {out / 'report.html'}")
    if not out.parent.is_dir():
        raise UserError(f"--out {out}: the folder {out.parent} does not exist; create it first")
    return out


def run(a: argparse.Namespace) -> int:
    from evolve.results import pareto_summary

    source = open_source(a)
    out = _out_path(a, source)
    summary = pareto_summary(source.study, source.objectives, source.reference)
    picks = best_picks(summary["front"], source.objectives)
    figures: dict[int, Figures] = {}
    if not a.no_figures and picks:
        from tqdm import tqdm

        with tempfile.TemporaryDirectory(prefix="evolve-report-") as work:
            bar = tqdm(
                picks,
                desc="report figures",
                unit="model",
                delay=1.0,
                leave=False,
                file=sys.stderr,
                disable=a.no_progress,
            )
            for number, _ in bar:
                figures[number] = model_figures(source.run_dir, number, Path(work))
    elif picks:
        figures = {n: Figures(note="figures skipped (--no-figures)") for n, _ in picks}
    page = render(source, figures, picks, summary)
    write_text(out, page)
    counts = counts_text(counts_of(source.study))
    print(f"report of {source.study.study_name} ({counts}) written to {out}")
    for number, fig in figures.items():
        if fig.note and not fig.note.startswith("figures skipped"):
            print(f"  trial {number}: {fig.note}")
    return 0


__all__ = ["add_parser", "clean_png", "open_source", "render", "run"]
